// Checksum offload off on every interface: the hosts' stacks compute every checksum, and the
// LB's veth hands its TC program skbs marked CHECKSUM_UNNECESSARY (veth, NETIF_F_RXCSUM). That
// is the state in which TC updates the L4 checksum in place instead of through
// bpf_l4_csum_replace (bpf/include/hook.h, hook_csum_in_place); with offload on (every other lab
// scenario) the skbs are CHECKSUM_PARTIAL and the helpers make the update. Both must give the
// same bytes: TCP DNAT and UDP full NAT over IPv4 and IPv6, payloads of odd and even length.
import { scenario } from '../../src/harness/index.ts';
import { badChecksums, resolvedTwoArm, svc } from '../_lib.ts';

export default scenario({
  description:
    'checksum offload off: IPv4/IPv6 TCP DNAT and UDP full NAT with odd and even payloads all answered, every checksum on every link valid',
  topology: resolvedTwoArm({ offload: false }),
  services: (topo) => [
    svc(topo, 'tcp'),
    svc(topo, 'udp', { mode: 'fullnat' }),
    svc(topo, 'tcp', { name: 'echo6' }, 6),
    svc(topo, 'udp', { name: 'dns-like6', mode: 'fullnat' }, 6),
  ],
  async run({ client, expect, captures, topo }) {
    for (const target of [topo.vip4, topo.vip6 ?? '']) {
      for (const payload of [1, 998]) {
        expect.allConnected(await client({ proto: 'tcp', target, count: 1, rounds: 2, payload }), `TCP to ${target}, payload ${payload}`);
        expect.allConnected(await client({ proto: 'udp', target, count: 1, rounds: 2, payload }), `UDP to ${target}, payload ${payload}`);
      }
    }
    expect.equal(badChecksums(await captures()), [], 'every checksum valid');
  },
});
