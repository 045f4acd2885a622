// A QinQ frame to a VIP (802.1ad outer tag, 802.1Q inner tag): the parser skips both tags and
// the flow is balanced, but the LB never forwards a tagged frame itself (docs/datapath.md
// "VLAN"): translated, it goes to the LB node's stack (pass_fib), whose VLAN devices would
// forward it; this node has none, so nothing reaches a backend. Until dpfix2 this was a known
// bug at lab TC (failed at 1ca44ca): the stack had moved the outer tag into skb metadata, the
// datapath redirected the frame with the inner tag still in-band, and it reached no backend
// link in a recognisable form.
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, svc } from '../_lib.ts';

export default scenario({
  description:
    'UDP to the VIP tagged 802.1ad 200 / 802.1Q 300: balanced (new_flow), translated and passed to the stack (pass_fib), never forwarded with its tags',
  services: (topo) => [svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    await world.inject(c.name, [
      frameToLb(topo, c.name, {
        vlan: [{ id: 200, tpid: 0x88a8 }, 300],
        ip: { src: c.ipv4, dst: topo.vip4 },
        udp: { sport: 45_301, dport: 7001 },
        payload: 16,
      }),
    ]);
    const obs = await observe();
    expect.reasons(obs, { new_flow: 1 });
    expect.equal(obs.fwd.get('pass_fib') ?? 0, 1, 'handed to the stack, not redirected');
    const links = await captures();
    for (const i of [0, 1]) {
      const b = backend(topo, i);
      expect.packet(
        links,
        { on: b.name, pattern: { fields: { 'ip.dst': b.ipv4, 'udp.sport': 45_301 } }, count: 0 },
        `nothing of the tagged flow reaches ${b.name}`,
      );
    }
  },
});
