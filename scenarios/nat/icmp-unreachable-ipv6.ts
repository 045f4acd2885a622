// ICMPv6 errors about a balanced IPv6 flow: the backend's port unreachable quotes
// client → b1:7999; the LB translates outside (from the VIP) and inside (client → VIP:7001), and
// the ICMPv6 checksum, which covers the IPv6 pseudo-header, follows both changes.
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { client1, svc } from '../_lib.ts';

export default scenario({
  description:
    'IPv6 UDP DNAT to a closed endpoint port: the ICMPv6 port unreachable reaches the client from the IPv6 VIP, quoting client → VIP:7001, checksum valid',
  services: (topo) => [svc(topo, 'udp', { endpoints: backendEndpoints(topo, 7999, 6) }, 6)],
  async run({ client, expect, captures, topo }) {
    const vip6 = topo.vip6 ?? '';
    const r = await client({ proto: 'udp', target: vip6, count: 1, sport: 47_300, payload: 8, timeoutMs: 500 });
    expect.equal(r.summary.ok, 0, 'no answer (the port is closed)');
    const c = client1(topo);
    const links = await captures();
    expect.packet(
      links,
      {
        on: c.name,
        pattern: {
          fields: {
            'ip.src': vip6,
            'ip.dst': c.ipv6,
            'icmp.type': 'dest-unreachable',
            'inner.ip.src': c.ipv6,
            'inner.ip.dst': vip6,
            'inner.sport': 47_300,
            'inner.dport': 7001,
            checksums: 'ok',
          },
        },
      },
      'the client gets the ICMPv6 error about its own datagram, from the VIP',
    );
  },
});
