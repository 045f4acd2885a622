// UDP over IPv6: DNAT of the destination with the IPv6 pseudo-header in the UDP checksum (UDP
// has no zero-checksum option over IPv6), answers from the IPv6 VIP.
import { scenario } from '../../src/harness/index.ts';
import { badChecksums, client1, svc } from '../_lib.ts';

export default scenario({
  description: 'IPv6 UDP DNAT, round-robin over 3 backends: 6 flows of 2 datagrams, answers from fd00:18:100::1, every checksum valid',
  services: (topo) => [svc(topo, 'udp', {}, 6)],
  async run({ client, expect, observe, captures, topo }) {
    const vip6 = topo.vip6 ?? '';
    const r = await client({ proto: 'udp', target: vip6, count: 6, rounds: 2, payload: 40 });
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    expect.spread(r, { roundRobin: topo.backends.map((b) => b.name) });
    expect.reasons(await observe(), { new_flow: 6 });
    const links = await captures();
    const c = client1(topo);
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': vip6, 'ip.dst': c.ipv6, 'udp.sport': 7001, checksums: 'ok' } }, count: 12 },
      'all 12 answers reach the client from the IPv6 VIP',
    );
    expect.equal(badChecksums(links), [], 'every packet on every link has valid checksums');
  },
});
