// An endpoint added while traffic flows: the flows that exist keep their endpoint (the entry
// holds the translation, and the generation flip leaves existing slots where they were), and
// new flows reach the new endpoint too.
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { startRounds, svc } from '../_lib.ts';

export default scenario({
  description:
    'rr over b1, b2; 6 UDP flows of 3 rounds; b3 added after round 1: every flow keeps its backend, 3 new flows afterwards reach b1, b2 and b3',
  services: (topo) => [svc(topo, 'udp', { endpoints: backendEndpoints(topo, 7001).slice(0, 2) })],
  async run(ctx) {
    const { client, apply, expect, topo } = ctx;
    const t = await startRounds(ctx, { proto: 'udp', target: topo.vip4, count: 6, rounds: 3, sport: 46_000, payload: 16 });
    await apply([svc(topo, 'udp')]);
    await t.next();
    await t.next();
    const r = await t.report();
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    expect.spread(r, { roundRobin: ['b1', 'b2'] }, 'the existing flows stay on b1 and b2');
    const fresh = await client({ proto: 'udp', target: topo.vip4, count: 3, payload: 16 });
    expect.allConnected(fresh);
    expect.spread(fresh, { roundRobin: ['b1', 'b2', 'b3'] }, 'new flows use all three');
  },
});
