// An administratively inactive endpoint is never chosen: round-robin skips its slot.
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

export default scenario({
  description: 'rr over 3 endpoints with b2 inactive: 8 connections alternate b1/b3, none reaches b2',
  services: (topo) => [
    svc(topo, 'tcp', { endpoints: backendEndpoints(topo, 7000).map((e, i) => (i === 1 ? { ...e, active: false } : e)) }),
  ],
  async run({ client, expect, captures, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 8, payload: 16 });
    expect.allConnected(r);
    expect.spread(r, { roundRobin: ['b1', 'b3'] });
    const links = await captures();
    expect.noPacket(
      links,
      { on: 'b2', pattern: { fields: { 'tcp.dport': 7000 } }, sanity: { on: ['b1', 'b3'] } },
      'b2 sees no connection at all',
    );
  },
});
