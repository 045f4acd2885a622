// Truncated packets, cut at the header boundaries of a TCP SYN to the VIP (right after the IPv4
// header, inside the TCP header) and of a UDP datagram (inside its header), the IP total length
// still claiming the whole packet: each is malformed and dropped, never balanced, never
// half-translated to a backend. (Cut inside the IPv4 header: truncated-ip-header.ts.)
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, PROTO0_DISAGREEMENT, svc } from '../_lib.ts';

export default scenario({
  description:
    'a TCP SYN cut at 14+20 and 14+30 bytes and a UDP datagram cut at 14+24: all drop_malformed, no flow, nothing reaches a backend',
  allowDrops: ['drop_malformed'],
  differential: false,
  differentialOff: PROTO0_DISAGREEMENT,
  services: (topo) => [svc(topo, 'tcp'), svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const syn = frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4 }, tcp: { sport: 45_000, dport: 7000, flags: 'S' } });
    const udp = frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4 }, udp: { sport: 45_001, dport: 7001 }, payload: 32 });
    await world.inject(c.name, [syn.subarray(0, 34), syn.subarray(0, 44), udp.subarray(0, 38)]);
    const obs = await observe();
    expect.reasons(obs, { drop_malformed: 3, new_flow: 0 });
    expect.equal(obs.conntrack.length, 0, 'no conntrack entry');
    const links = await captures();
    expect.noPacket(
      links,
      {
        on: topo.backends.map((b) => b.name),
        pattern: { fields: { 'ip.src': c.ipv4 } },
        sanity: { on: c.name, pattern: { fields: { 'eth.type': 0x0800 } } },
      },
      'nothing reaches a backend',
    );
  },
});
