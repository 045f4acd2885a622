// A conntrack timeout on the datapath's clock: a UDP flow answered once (UDP_SEEN, 30 s here) is
// forgotten after 31 s of silence, so the client's next datagram on the same tuple is a new
// flow. On sim and prog the 31 s cost no wall time (virtual clock); on lab the datapath's clock
// offset moves (the kernels' own stacks do not).
import { backendEndpoints, scenario, SERVER_PORTS } from '../../src/harness/index.ts';

const SPORT = 40_000;

export default scenario({
  description:
    'UDP_SEEN times out after 30 s idle: the same tuple afterwards is a new flow (new_flow counted twice), with no wall time spent on sim/prog',
  timeoutsS: { UDP_SEEN: 30 },
  services: (topo) => [
    {
      name: 'dns-like',
      vip: topo.vip4,
      port: SERVER_PORTS.udp,
      protocol: 'udp',
      algorithm: 'rr',
      mode: 'dnat',
      endpoints: backendEndpoints(topo, SERVER_PORTS.udp),
    },
  ],
  async run({ client, expect, observe, advance, topo }) {
    const flow = { clientIp: topo.clients[0]?.ipv4 ?? '', clientPort: SPORT };
    const first = await client({ proto: 'udp', target: topo.vip4, count: 1, sport: SPORT, payload: 16 });
    expect.allConnected(first, 'the first datagram is answered');
    const before = await observe();
    expect.reasons(before, { new_flow: 1 }, 'one new flow before the gap');
    expect.ctState(before, flow, 'UDP_SEEN', 'after one answer');
    await advance(31);
    const after = await client({ proto: 'udp', target: topo.vip4, count: 1, sport: SPORT, payload: 16 });
    expect.allConnected(after, 'a datagram after 31 s idle is answered');
    const obs = await observe();
    expect.reasons(obs, { new_flow: 2 }, 'after 31 s idle the same tuple is a new flow');
  },
});
