// One side of a flow lost in the middle of a transfer (udp, dnat): the forward entry of one
// connection and the reply entry of another are deleted between rounds (as an LRU eviction or
// an operator would). The next packets rebuild the missing entry from its peer (or adopt the
// surviving reply entry), so both connections carry on both ways on their endpoint and no new
// flow is counted. maglev: the forward side would choose the same endpoint again anyway.
import { scenario } from '../../src/harness/index.ts';
import { loseOneSide, svc } from '../_lib.ts';

export default scenario({
  description:
    'udp dnat: forward entry of conn 0 and reply entry of conn 1 deleted mid-transfer; both finish all 4 rounds on their backend, both entries back, no new flow',
  services: (topo) => [svc(topo, 'udp', { algorithm: 'maglev', mode: 'dnat' })],
  run: (ctx) => loseOneSide(ctx, 'udp'),
});
