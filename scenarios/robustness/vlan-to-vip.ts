// A VLAN-tagged frame to a VIP (802.1Q): the parser skips the tag,
// the flow is balanced and the frame translated with its tags kept (the rewrite touches only
// addresses, ports and checksums). On every backend the parser's part is checked (balanced by
// the tagged frame's real tuple, a conntrack entry toward b1); whether the tagged frame reaches
// b1 is a lab question (VLAN_NOT_HERE).
import { scenario } from '../../src/harness/index.ts';
import { VLAN_NOT_HERE, backend, client1, frameToLb, resolvedTwoArm, svc } from '../_lib.ts';

export default scenario({
  description: 'UDP to the VIP tagged VLAN 100: balanced (new_flow) toward b1; on lab it reaches b1 translated with its tag',
  topology: resolvedTwoArm(),
  services: (topo) => [svc(topo, 'udp')],
  async run({ backend: where, world, expect, observe, captures, topo, log }) {
    const c = client1(topo);
    const b1 = backend(topo, 0);
    const one = frameToLb(topo, c.name, { vlan: 100, ip: { src: c.ipv4, dst: topo.vip4 }, udp: { sport: 45_300, dport: 7001 }, payload: 16 });
    await world.inject(c.name, [one]);
    const obs = await observe();
    expect.reasons(obs, { new_flow: 1, drop_malformed: 0 });
    const fwd = obs.conntrack.find((e) => !e.reply && e.key.src === c.ipv4 && e.key.sport === 45_300);
    expect.ok(fwd?.nat.dst === b1.ipv4, 'the tagged flow is tracked, translated toward b1', fwd === undefined ? 'no entry' : `toward ${fwd.nat.dst}`);
    if (where !== 'lab') {
      log(`delivery not checked here: ${VLAN_NOT_HERE}`);
      return;
    }
    const links = await captures();
    expect.packet(links, { on: b1.name, pattern: { fields: { 'vlan.ids': '100', 'ip.dst': b1.ipv4, 'udp.sport': 45_300, checksums: 'ok' } }, count: 1 }, 'the tagged frame reaches b1 translated, tag kept');
  },
});
