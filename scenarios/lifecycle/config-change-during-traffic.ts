// A configuration change while connections are open: another service added and this one's
// algorithm changed (rr → maglev, a new generation of its table) between rounds. The open
// connections are not disturbed: each keeps its backend and every round is answered.
import { scenario } from '../../src/harness/index.ts';
import { startRounds, svc } from '../_lib.ts';

export default scenario({
  description:
    '6 TCP connections of 3 rounds; between rounds a UDP service is added and the TCP service switched to maglev: every round answered, every connection on its backend',
  services: (topo) => [svc(topo, 'tcp')],
  async run(ctx) {
    const { apply, expect, topo } = ctx;
    const t = await startRounds(ctx, { proto: 'tcp', target: topo.vip4, count: 6, sport: 46_500, rounds: 3, payload: 100 });
    await apply([svc(topo, 'tcp'), svc(topo, 'udp')]);
    await t.next();
    await apply([svc(topo, 'tcp', { algorithm: 'maglev' }), svc(topo, 'udp')]);
    await t.next();
    const r = await t.report();
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    expect.spread(r, { roundRobin: topo.backends.map((b) => b.name) });
  },
});
