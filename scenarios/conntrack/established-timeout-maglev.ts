// An idle TCP connection outlives its ESTABLISHED entry (timeout 100 s here, 7440 s by default):
// its next segment finds no entry and is picked up mid-stream (policy select, midstream_new);
// with maglev the same tuple chooses the same endpoint, so the connection goes on unharmed.
import { scenario } from '../../src/harness/index.ts';
import { startRounds, svc } from '../_lib.ts';

export default scenario({
  description:
    'maglev, ESTABLISHED timeout 100 s: a connection idle for 101 s continues on the same backend, re-created mid-stream (midstream_new 1)',
  timeoutsS: { ESTABLISHED: 100 },
  services: (topo) => [svc(topo, 'tcp', { algorithm: 'maglev' })],
  async run(ctx) {
    const { advance, expect, observe, topo } = ctx;
    const t = await startRounds(ctx, { proto: 'tcp', target: topo.vip4, count: 1, rounds: 2, sport: 47_100, payload: 64 });
    await advance(101);
    await t.next();
    const r = await t.report();
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    expect.reasons(await observe(), { new_flow: 1, midstream_new: 1 });
  },
});
