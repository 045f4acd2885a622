// Source persistence on top of round-robin: every connection from one client goes to the
// endpoint its first one got while the client keeps coming back within the timeout; after 31 s of
// silence (timeout 30 s) the algorithm chooses again, and the new choice is held in turn.
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

export default scenario({
  description:
    'rr + persistence 30 s: 5 connections from one client all reach one backend; after 31 s idle the next 5 reach the next backend',
  services: (topo) => [svc(topo, 'tcp', { persistence: { timeoutS: 30 } })],
  async run({ client, advance, expect, topo }) {
    const held = await client({ proto: 'tcp', target: topo.vip4, count: 5, payload: 16 });
    expect.allConnected(held);
    const first = held.results[0]?.backend ?? '';
    expect.spread(held, { exact: { [first]: 5 } }, 'persistence holds: one backend for all 5');
    await advance(31);
    const later = await client({ proto: 'tcp', target: topo.vip4, count: 5, payload: 16 });
    expect.allConnected(later);
    const second = later.results[0]?.backend ?? '';
    expect.spread(later, { exact: { [second]: 5 } }, 'the new choice is held in turn');
    expect.ok(second !== first, 'after expiry round-robin chose again (the next backend)', `both batches on ${first}`);
  },
});
