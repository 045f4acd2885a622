// random: only the distribution is specified (uniform over the usable endpoints); which flow goes
// where depends on the random source.
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

export default scenario({
  description: 'random: 90 UDP flows spread uniformly over 3 backends (chi-square), each flow keeps its endpoint',
  differential: false,
  differentialOff:
    'the model draws from its seeded PRNG, the kernel from bpf_get_prandom_u32: which flow reaches which backend legitimately differs; only the distribution is specified',
  observationVaries: 'the kernel picks endpoints with bpf_get_prandom_u32, which the seed does not fix',
  services: (topo) => [svc(topo, 'udp', { algorithm: 'random' })],
  async run({ client, expect, observe, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip4, count: 90, rounds: 2, payload: 8 });
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    expect.spread(r, { uniform: topo.backends.map((b) => b.name) });
    expect.reasons(await observe(), { new_flow: 90 });
  },
});
