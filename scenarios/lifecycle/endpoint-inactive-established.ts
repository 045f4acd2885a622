// An endpoint made inactive while connections to it are established: they keep it to the end
// (docs/datapath.md, Re-selection: only a pure SYN re-checks its endpoint), while new
// connections skip it.
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { startRounds, svc } from '../_lib.ts';

export default scenario({
  description:
    '3 TCP connections of 3 rounds (one per backend); b1 made inactive after round 1: all finish on their backend; 4 new connections alternate b2/b3',
  services: (topo) => [svc(topo, 'tcp')],
  async run(ctx) {
    const { client, apply, expect, topo } = ctx;
    const t = await startRounds(ctx, { proto: 'tcp', target: topo.vip4, count: 3, sport: 46_400, rounds: 3, payload: 64 });
    await apply([svc(topo, 'tcp', { endpoints: backendEndpoints(topo, 7000).map((e, i) => (i === 0 ? { ...e, active: false } : e)) })]);
    await t.next();
    await t.next();
    const r = await t.report();
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    expect.spread(r, { roundRobin: ['b1', 'b2', 'b3'] }, 'the established connections kept b1, b2, b3');
    const fresh = await client({ proto: 'tcp', target: topo.vip4, count: 4, payload: 16 });
    expect.allConnected(fresh);
    expect.spread(fresh, { roundRobin: ['b2', 'b3'] }, 'new connections skip the inactive b1');
  },
});
