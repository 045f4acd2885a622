// One-arm: clients, LB and backends on one segment. Only full NAT works here (a DNAT backend
// would answer the client directly, around the LB): the backends see the LB's address, and the
// LB sends the translated packets back out of the interface they came in on (XDP_TX at XDP).
import { oneArm, scenario } from '../../src/harness/index.ts';
import { client1, svc } from '../_lib.ts';

export default scenario({
  description: 'one-arm TCP full NAT over 3 backends: 6 connections answered, backends see only the LB address, answers from the VIP',
  // Static neighbours: see resolvedTwoArm in _lib.ts (XDP full NAT with an unresolved neighbour).
  topology: oneArm({ staticNeighbours: true }),
  services: (topo) => [svc(topo, 'tcp', { mode: 'fullnat' })],
  async run({ client, expect, captures, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 6, payload: 100 });
    expect.allConnected(r);
    expect.spread(r, { roundRobin: topo.backends.map((b) => b.name) });
    const links = await captures();
    const c = client1(topo);
    expect.packet(
      links,
      {
        on: 'b1',
        pattern: { fields: { 'ip.src': topo.lb.ipv4, 'ip.dst': topo.backends[0]?.ipv4 ?? '', 'tcp.flags': 'S' } },
        count: 2,
        nowhereElse: false,
      },
      'b1 gets its SYNs from the LB address',
    );
    expect.noPacket(
      links,
      {
        on: topo.backends.map((b) => b.name),
        pattern: { fields: { 'ip.src': c.ipv4, 'ip.dst': topo.backends[0]?.ipv4 ?? '' } },
        sanity: { on: c.name, pattern: { fields: { 'ip.src': c.ipv4, 'ip.dst': topo.vip4 } } },
      },
      'no backend sees the client address',
    );
  },
});
