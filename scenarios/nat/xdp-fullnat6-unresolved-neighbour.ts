// The IPv6 side of xdp-fullnat-unresolved-neighbour.ts: IPv6 has no accept_local, and
// docs/datapath.md leaves open what the IPv6 input path does with a packet from one of the LB's
// own addresses. This scenario answers it: the flows must be served, as for IPv4.
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

const VIRTUAL =
  "the virtual LB resolves no neighbours: prog's FIB lookups go to an empty table (pass_fib) and the virtual stack forwards; only a real kernel at XDP shows this";

export default scenario({
  description:
    'XDP, IPv6 UDP full NAT, LB neighbours unresolved: every datagram answered, the first ones handed to the stack (pass_no_neigh)',
  backends: { sim: VIRTUAL, prog: VIRTUAL },
  hooks: { tc: 'at TC the LB forwards through bpf_redirect_neigh, which resolves the neighbour itself: the stack is not involved' },
  services: (topo) => [svc(topo, 'udp', { mode: 'fullnat' }, 6)],
  async run({ client, expect, observe, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip6 ?? '', count: 3, payload: 8, timeoutMs: 1000 });
    expect.allConnected(r);
    expect.ok(((await observe()).fwd.get('pass_no_neigh') ?? 0) >= 1, 'the first datagrams went to the stack as pass_no_neigh');
  },
});
