// IPv6 UDP full NAT: the SNAT address is the LB's IPv6 address on the backend segment; the UDP
// checksum follows both rewritten addresses through the IPv6 pseudo-header.
import { scenario } from '../../src/harness/index.ts';
import { badChecksums, client1, resolvedTwoArm, svc } from '../_lib.ts';

export default scenario({
  description: 'IPv6 UDP full NAT: backends see the LB fd00:18:2::1 as source, the client sees the IPv6 VIP, every checksum valid',
  topology: resolvedTwoArm(),
  services: (topo) => [svc(topo, 'udp', { mode: 'fullnat' }, 6)],
  async run({ client, expect, captures, topo }) {
    const vip6 = topo.vip6 ?? '';
    const r = await client({ proto: 'udp', target: vip6, count: 3, rounds: 2, payload: 64 });
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    const links = await captures();
    const c = client1(topo);
    const snat6 = topo.lb.segments.find((s) => s.segment === 'backends')?.ipv6 ?? '';
    expect.packet(
      links,
      { on: 'b1', pattern: { fields: { 'ip.src': snat6, 'ip.dst': topo.backends[0]?.ipv6 ?? '', 'udp.dport': 7001 } }, count: 2 },
      'b1 gets its datagrams from the IPv6 SNAT address',
    );
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': vip6, 'ip.dst': c.ipv6, 'udp.sport': 7001 } }, count: 6 },
      'every answer from the IPv6 VIP',
    );
    expect.equal(badChecksums(links), [], 'every checksum valid');
  },
});
