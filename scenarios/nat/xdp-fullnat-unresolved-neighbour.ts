// XDP has no bpf_redirect_neigh: a translated packet whose next hop is unresolved goes to the
// LB's stack (pass_no_neigh). Under full NAT its source is the LB's own SNAT address, which the
// stack refuses from outside unless accept_local is set: the agent's XDP attach sets it
// (docs/datapath.md, Forwarding, "Neighbour unknown"), so the stack forwards the packet and
// resolves the neighbour, and the flows are served (the first packets by the stack).
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

const VIRTUAL =
  "the virtual LB resolves no neighbours: prog's FIB lookups go to an empty table (pass_fib) and the virtual stack forwards; only a real kernel at XDP shows this";

export default scenario({
  description:
    "XDP, IPv4 UDP full NAT, LB neighbours unresolved: every datagram answered, the first ones handed to the stack (pass_no_neigh) thanks to the agent's accept_local",
  backends: { sim: VIRTUAL, prog: VIRTUAL },
  hooks: { tc: 'at TC the LB forwards through bpf_redirect_neigh, which resolves the neighbour itself: the stack is not involved' },
  services: (topo) => [svc(topo, 'udp', { mode: 'fullnat' })],
  async run({ client, expect, observe, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip4, count: 3, payload: 8, timeoutMs: 1000 });
    expect.allConnected(r);
    expect.ok(((await observe()).fwd.get('pass_no_neigh') ?? 0) >= 1, 'the first datagrams went to the stack as pass_no_neigh');
  },
});
