// The IPv6 side of xdp-fullnat-unresolved-neighbour.ts: IPv6 has no accept_local, so this path
// depends on XDP's hand-off to its TC half (bpf_redirect_neigh before the input route sees the
// LB-sourced packet). The flows must be served, as for IPv4, none through the stack.
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

const VIRTUAL =
  "the virtual LB resolves no neighbours: prog's FIB lookups go to an empty table (pass_fib) and the virtual stack forwards; only a real kernel at XDP shows this";

export default scenario({
  description:
    'XDP, IPv6 UDP full NAT, LB neighbours unresolved: every datagram answered, the first ones sent by the TC half with bpf_redirect_neigh (none passed to the stack)',
  backends: { sim: VIRTUAL, prog: VIRTUAL },
  hooks: { tc: 'at TC the LB forwards through bpf_redirect_neigh, which resolves the neighbour itself: the stack is not involved' },
  services: (topo) => [svc(topo, 'udp', { mode: 'fullnat' }, 6)],
  async run({ client, expect, observe, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip6 ?? '', count: 3, payload: 8, timeoutMs: 1000 });
    expect.allConnected(r);
    expect.equal(
      (await observe()).fwd.get('pass_no_neigh') ?? 0,
      0,
      'no datagram went to the stack for want of a neighbour (pass_no_neigh)',
    );
  },
});
