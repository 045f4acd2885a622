// The documented DNAT limit: two services on one VIP balanced to the same endpoint:port. A client
// using the same source port for both produces the same reply tuple (endpoint:7001 → client:port)
// twice; DNAT cannot tell the replies apart, so the second flow is refused (drop_ct_failed)
// rather than getting the first one's answers. Full NAT allocates its own source port per flow
// and serves both.
import { scenario } from '../../src/harness/index.ts';
import { backend, resolvedTwoArm } from '../_lib.ts';
import type { ServiceInput, TopoInfo } from '../../src/harness/index.ts';

const SPORT = 48_500;

function two(topo: TopoInfo, mode: 'dnat' | 'fullnat', base: number): ServiceInput[] {
  const ep = [{ ip: backend(topo, 0).ipv4, port: 7001 }];
  return [0, 1].map((k) => ({
    name: `${mode}${k}`,
    vip: topo.vip4,
    port: base + k,
    protocol: 'udp',
    algorithm: 'rr',
    mode,
    endpoints: ep,
  }));
}

export default scenario({
  description:
    'same client port to two DNAT services on b1:7001: the first answered, the second refused (drop_ct_failed); with full NAT both answered',
  topology: resolvedTwoArm(),
  allowDrops: ['drop_ct_failed'],
  services: (topo) => [...two(topo, 'dnat', 6100), ...two(topo, 'fullnat', 6200)],
  async run({ client, expect, observe, topo }) {
    const ask = (port: number) => client({ proto: 'udp', target: topo.vip4, port, count: 1, sport: SPORT, payload: 4, timeoutMs: 500 });
    expect.equal((await ask(6100)).summary.ok, 1, 'DNAT: the first service answers');
    expect.equal((await ask(6101)).summary.ok, 0, 'DNAT: the second, same reply tuple, is refused');
    expect.reasons(await observe(), { drop_ct_failed: 1 });
    expect.equal((await ask(6200)).summary.ok, 1, 'full NAT: the first service answers');
    expect.equal((await ask(6201)).summary.ok, 1, 'full NAT: the second too (its own SNAT port)');
    expect.reasons(await observe(), { drop_ct_failed: 1, new_flow: 3 }, 'only the DNAT collision was refused');
  },
});
