// Weighted round-robin: weights 3 and 1 give three connections to b1 for every one to b2, and
// b3 (weight 1 but not in the service) none. The controller computes the smooth WRR schedule;
// the datapath walks it with a per-CPU cursor. sim and prog have one CPU, so the split is the
// schedule's, exactly; on lab the chi-square test judges it, and b2 getting a quarter (within
// the same false-failure rate) tells a cursor that does not advance from one that does.
import { scenario } from '../../src/harness/index.ts';
import { backend, svc } from '../_lib.ts';

export default scenario({
  description: 'wrr with weights 3:1 over b1 and b2: 40 TCP connections split 30/10 (chi-square), every one answered',
  services: (topo) => [
    svc(topo, 'tcp', {
      algorithm: 'wrr',
      endpoints: [
        { ip: backend(topo, 0).ipv4, port: 7000, weight: 3 },
        { ip: backend(topo, 1).ipv4, port: 7000, weight: 1 },
      ],
    }),
  ],
  async run({ backend, client, expect, observe, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 40, payload: 16 });
    expect.allConnected(r);
    expect.spread(r, { weights: { b1: 3, b2: 1 } });
    if (backend !== 'lab') expect.spread(r, { exact: { b1: 30, b2: 10 } });
    // 40 connections all on b1 still pass the chi-square test at 1e-4 (p ≈ 3e-4): b2's share is checked on its own.
    const b2 = r.results.filter((x) => x.backend === 'b2').length;
    expect.ok(b2 >= 4, 'b2 (weight 1 of 4) took at least 4 of the 40 connections', `b2 took ${b2}`);
    expect.reasons(await observe(), { new_flow: 40 });
  },
});
