// Frames whose IPv4 header itself is cut short (10 and 19 of its 20 bytes present): malformed,
// dropped before any lookup.
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, svc } from '../_lib.ts';

export default scenario({
  description: 'a TCP SYN to the VIP cut inside its IPv4 header (24 and 33 bytes): drop_malformed, no flow, nothing reaches a backend',
  backends: {
    prog: {
      tc: 'BPF_PROG_TEST_RUN of a TC program refuses an IPv4 frame shorter than 14 + 20 bytes (EINVAL: the kernel pulls the IP header before running the program), so prog cannot feed it (XDP test runs take it)',
    },
  },
  allowDrops: ['drop_malformed'],
  services: (topo) => [svc(topo, 'tcp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const syn = frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4 }, tcp: { sport: 45_010, dport: 7000, flags: 'S' } });
    await world.inject(c.name, [syn.subarray(0, 24), syn.subarray(0, 33)]);
    const obs = await observe();
    expect.reasons(obs, { drop_malformed: 2, new_flow: 0 });
    const links = await captures();
    expect.noPacket(
      links,
      { on: topo.backends.map((b) => b.name), pattern: { fields: { 'eth.type': 0x0800 } }, sanity: { on: c.name } },
      'nothing reaches a backend',
    );
  },
});
