// A steady UDP flow from a fixed source port whose endpoint is removed: the documented policy is
// that it stays on the removed endpoint's address while it keeps talking (the entry holds the
// translation; draining is the controller's job), and moves to a remaining endpoint only as a
// new flow after it was idle for its state's timeout.
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { startRounds, svc } from '../_lib.ts';

const SPORT = 46_100;

export default scenario({
  description:
    'UDP flow on b1 (fixed port), b1 removed: the flow keeps b1 for 3 more rounds; after 31 s idle (timeout 30) the same port is a new flow on b2 or b3',
  timeoutsS: { UDP_ESTABLISHED: 30 },
  services: (topo) => [svc(topo, 'udp')],
  async run(ctx) {
    const { client, apply, advance, expect, observe, topo } = ctx;
    const t = await startRounds(ctx, { proto: 'udp', target: topo.vip4, count: 1, rounds: 4, sport: SPORT, payload: 16 });
    await apply([svc(topo, 'udp', { endpoints: backendEndpoints(topo, 7001).slice(1) })]);
    await t.next();
    await t.next();
    await t.next();
    const r = await t.report();
    expect.allConnected(r);
    expect.equal(r.results[0]?.backends, ['b1', 'b1', 'b1', 'b1'], 'every round still answered by b1');
    await advance(31);
    const later = await client({ proto: 'udp', target: topo.vip4, count: 1, sport: SPORT, payload: 16 });
    expect.allConnected(later);
    expect.ok(
      ['b2', 'b3'].includes(later.results[0]?.backend ?? ''),
      'after the idle timeout the port reaches a remaining endpoint',
      `answered by ${later.results[0]?.backend ?? 'nobody'}`,
    );
    expect.reasons(await observe(), { new_flow: 2 });
  },
});
