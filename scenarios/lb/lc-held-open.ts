// Least-connection with long-lived connections: six connections held open together spread 2/2/2
// (each SYN counts at once, ties go to the lowest slot); once they all closed (FIN, TIME_WAIT)
// every count is back to zero, so three sequential short connections all go to slot 0 (b1).
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

export default scenario({
  description:
    'lc: 6 held-open connections spread 2/2/2; after they closed the counts are 0 again, so 3 sequential connections all reach b1',
  services: (topo) => [svc(topo, 'tcp', { algorithm: 'lc' })],
  async run({ client, expect, topo }) {
    const held = await client({ proto: 'tcp', target: topo.vip4, count: 6, concurrency: 6, holdMs: 200, payload: 16 });
    expect.allConnected(held);
    expect.spread(held, { exact: { b1: 2, b2: 2, b3: 2 } }, 'held open: 2 per backend');
    const later = await client({ proto: 'tcp', target: topo.vip4, count: 3, payload: 16 });
    expect.allConnected(later);
    expect.spread(later, { exact: { b1: 3 } }, 'counts back to zero: every sequential connection takes the lowest slot');
  },
});
