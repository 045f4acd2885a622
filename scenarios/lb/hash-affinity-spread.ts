// 5-tuple hash: a tuple always maps to the same endpoint, also as a new flow after its entry
// expired (no state needed, so any LB replica would choose the same), and distinct tuples spread
// evenly over the endpoints.
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

const SPORT = 30_000;
const N = 60;

export default scenario({
  description: 'hash: 60 UDP flows spread uniformly; after every entry expired the same 60 tuples pick the same 60 endpoints again',
  timeoutsS: { UDP_SEEN: 10, UDP_ESTABLISHED: 10 },
  services: (topo) => [svc(topo, 'udp', { algorithm: 'hash' })],
  async run({ client, expect, observe, advance, topo }) {
    const first = await client({ proto: 'udp', target: topo.vip4, count: N, sport: SPORT, rounds: 2, payload: 8 });
    expect.allConnected(first);
    expect.sameBackendPerConnection(first);
    expect.spread(first, { uniform: topo.backends.map((b) => b.name) });
    await advance(11);
    const again = await client({ proto: 'udp', target: topo.vip4, count: N, sport: SPORT, payload: 8 });
    expect.allConnected(again, 'every flow answered after the expiry');
    const moved = first.results.filter((c, i) => c.backend !== again.results[i]?.backend);
    expect.equal(moved.length, 0, 'every tuple chose the same endpoint as a new flow');
    expect.reasons(await observe(), { new_flow: 2 * N });
  },
});
