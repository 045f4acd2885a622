// One TCP connection, opened and closed in order: the conntrack state sequence of the flow is
// exactly the one docs/datapath.md defines, in both entries, and every packet of the flow went
// to the same endpoint.
import { backendEndpoints, flowEvents, scenario, SERVER_PORTS } from '../../src/harness/index.ts';

export default scenario({
  description:
    'a TCP handshake, one exchange and an orderly close from the client: SYN_SENT → SYN_RECV → ESTABLISHED → FIN_WAIT → CLOSE_WAIT → TIME_WAIT',
  services: (topo) => [
    {
      name: 'echo',
      vip: topo.vip4,
      port: SERVER_PORTS.tcp,
      protocol: 'tcp',
      algorithm: 'maglev',
      mode: 'dnat',
      endpoints: backendEndpoints(topo, SERVER_PORTS.tcp),
    },
  ],
  async run({ client, expect, observe, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 1, payload: 32 });
    expect.allConnected(r);
    const sport = r.results[0]?.sport;
    if (sport == null) throw new Error('the client reported no source port');
    const obs = await observe();
    const flow = { clientIp: topo.clients[0]?.ipv4 ?? '', clientPort: sport };
    expect.ctTransitions(obs, flow, ['SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'TIME_WAIT']);
    expect.ctState(obs, flow, 'TIME_WAIT');
    const slots = new Set(flowEvents(obs, flow).map((e) => e.endpointSlot));
    expect.ok(
      slots.size === 1 && !slots.has(-1),
      'every packet of the flow used one endpoint slot',
      `slots seen: ${[...slots].join(', ')}`,
    );
    expect.reasons(obs, { new_flow: 1 });
  },
});
