// The documented XDP limitation, shown as such (docs/datapath.md, Forwarding, "Neighbour
// unknown"): XDP has no bpf_redirect_neigh, so a translated packet whose next hop is unresolved
// goes to the LB's stack (pass_no_neigh). Under full NAT its source is the LB's own SNAT
// address, which the stack's source validation refuses (no accept_local in the lab): the
// datagrams are black-holed and nothing resolves the neighbour. (With the neighbours resolved, as
// in nat/fullnat-udp.ts, the same service works at XDP.)
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

const VIRTUAL = 'the virtual LB resolves no neighbours: prog\'s FIB lookups go to an empty table (pass_fib) and the virtual stack forwards; only a real kernel at XDP shows this';

export default scenario({
  description: 'XDP, UDP full NAT, LB neighbours unresolved: no datagram answered, each one handed to the stack as pass_no_neigh (the documented limitation)',
  backends: { sim: VIRTUAL, prog: VIRTUAL },
  hooks: { tc: 'at TC the LB forwards through bpf_redirect_neigh, which resolves the neighbour: the limitation is XDP only' },
  services: (topo) => [svc(topo, 'udp', { mode: 'fullnat' })],
  async run({ client, expect, observe, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip4, count: 3, payload: 8, timeoutMs: 500 });
    expect.equal(r.summary.ok, 0, 'no datagram answered (black-holed at the LB stack)');
    expect.ok(((await observe()).fwd.get('pass_no_neigh') ?? 0) >= 3, 'each datagram went to the stack as pass_no_neigh');
  },
});
