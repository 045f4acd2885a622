// The controller's view of conntrack (listFlows, what `xlb flows` and the REST API show): one
// flow per connection, both directions' packets and bytes merged, the endpoint it reached.
import { scenario } from '../../src/harness/index.ts';
import { backend, svc } from '../_lib.ts';

const SPORT = 40_300;

export default scenario({
  description: 'a UDP flow of 3 exchanges: the flow list shows one flow, 6 packets, 861 bytes, endpoint b1:7001, UDP_ESTABLISHED',
  services: (topo) => [svc(topo, 'udp')],
  async run({ client, expect, observe, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip4, count: 1, sport: SPORT, rounds: 3, payload: 100 });
    expect.allConnected(r);
    const flows = (await observe()).flows;
    const b1 = backend(topo, 0);
    const f = flows.find((x) => x.client.port === SPORT);
    expect.equal(flows.length, 1, 'one flow listed');
    expect.equal(
      f === undefined ? undefined : { packets: f.packets, bytes: f.bytes, endpoint: f.endpoint, state: f.state, vip: f.vip },
      {
        packets: 6,
        bytes: 3 * 142 + 3 * 145,
        endpoint: { ip: b1.ipv4, port: 7001 },
        state: 'UDP_ESTABLISHED',
        vip: { ip: topo.vip4, port: 7001 },
      },
      'the flow as listed',
    );
  },
});
