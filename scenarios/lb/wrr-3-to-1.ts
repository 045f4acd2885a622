// Weighted round-robin: weights 3 and 1 give three connections to b1 for every one to b2, and
// b3 (weight 1 but not in the service) none. The controller computes the smooth WRR schedule;
// the datapath walks it with a per-CPU cursor.
import { scenario } from '../../src/harness/index.ts';
import { backend, svc } from '../_lib.ts';

export default scenario({
  description: 'wrr with weights 3:1 over b1 and b2: 40 TCP connections split 30/10 (chi-square), every one answered',
  services: (topo) => [svc(topo, 'tcp', { algorithm: 'wrr', endpoints: [{ ip: backend(topo, 0).ipv4, port: 7000, weight: 3 }, { ip: backend(topo, 1).ipv4, port: 7000, weight: 1 }] })],
  async run({ client, expect, observe, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 40, payload: 16 });
    expect.allConnected(r);
    expect.spread(r, { weights: { b1: 3, b2: 1 } });
    expect.reasons(await observe(), { new_flow: 40 });
  },
});
