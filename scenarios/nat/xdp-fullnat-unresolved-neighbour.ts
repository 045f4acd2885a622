// XDP has no bpf_redirect_neigh: a translated packet whose next hop is unresolved is handed, in
// its XDP metadata, to the XDP object's TC half (xlb_xdp_neigh), which sends it with
// bpf_redirect_neigh (docs/datapath.md, Forwarding, "Neighbour unknown"). Until then it went to
// the LB's stack (pass_no_neigh), which refuses full NAT's own SNAT source from outside unless
// accept_local is set (the agent still sets it). Every datagram must be answered and none passed.
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

const VIRTUAL =
  "the virtual LB resolves no neighbours: prog's FIB lookups go to an empty table (pass_fib) and the virtual stack forwards; only a real kernel at XDP shows this";

export default scenario({
  description:
    'XDP, IPv4 UDP full NAT, LB neighbours unresolved: every datagram answered, the first ones sent by the TC half with bpf_redirect_neigh (none passed to the stack)',
  backends: { sim: VIRTUAL, prog: VIRTUAL },
  hooks: { tc: 'at TC the LB forwards through bpf_redirect_neigh, which resolves the neighbour itself: the stack is not involved' },
  services: (topo) => [svc(topo, 'udp', { mode: 'fullnat' })],
  async run({ client, expect, observe, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip4, count: 3, payload: 8, timeoutMs: 1000 });
    expect.allConnected(r);
    expect.equal(
      (await observe()).fwd.get('pass_no_neigh') ?? 0,
      0,
      'no datagram went to the stack for want of a neighbour (pass_no_neigh)',
    );
  },
});
