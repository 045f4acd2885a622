// A VLAN-tagged frame to a VIP (802.1Q): the parser skips the tag and the flow is balanced by
// the tagged frame's real tuple (a conntrack entry toward b1), but the LB never forwards a
// tagged frame itself (docs/datapath.md "VLAN"): the FIB's egress is an L3 choice whose own
// tagging the frame does not carry. It is translated and handed to the LB node's stack
// (pass_fib), whose VLAN devices would forward it; this node has none, so nothing reaches a
// backend, and above all no frame carrying the client's tag. Until dpfix2 the lab's datapath
// redirected it to the egress with the ingress tag (at 1ca44ca a frame tagged 100 reached b1).
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, resolvedTwoArm, svc } from '../_lib.ts';

export default scenario({
  description:
    'UDP to the VIP tagged VLAN 100: balanced (new_flow) toward b1, translated and passed to the stack (pass_fib), never forwarded with the tag',
  topology: resolvedTwoArm(),
  services: (topo) => [svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const b1 = backend(topo, 0);
    const one = frameToLb(topo, c.name, {
      vlan: 100,
      ip: { src: c.ipv4, dst: topo.vip4 },
      udp: { sport: 45_300, dport: 7001 },
      payload: 16,
    });
    await world.inject(c.name, [one]);
    const obs = await observe();
    expect.reasons(obs, { new_flow: 1, drop_malformed: 0 });
    const fwd = obs.conntrack.find((e) => !e.reply && e.key.src === c.ipv4 && e.key.sport === 45_300);
    expect.ok(
      fwd?.nat.dst === b1.ipv4,
      'the tagged flow is tracked, translated toward b1',
      fwd === undefined ? 'no entry' : `toward ${fwd.nat.dst}`,
    );
    expect.equal(obs.fwd.get('pass_fib') ?? 0, 1, 'handed to the stack, not redirected');
    const links = await captures();
    for (const i of [0, 1]) {
      const b = backend(topo, i);
      expect.packet(
        links,
        { on: b.name, pattern: { fields: { 'ip.dst': b.ipv4, 'udp.sport': 45_300 } }, count: 0 },
        `nothing of the tagged flow reaches ${b.name}`,
      );
    }
  },
});
