// A VLAN-tagged frame to a VIP (802.1Q): the parser skips the tag,
// the flow is balanced and the frame translated with its tags kept (the rewrite touches only
// addresses, ports and checksums).
import { scenario } from '../../src/harness/index.ts';
import { VLAN_NOT_HERE, backend, client1, frameToLb, resolvedTwoArm, svc } from '../_lib.ts';

export default scenario({
  description: 'UDP to the VIP tagged VLAN 100: balanced (new_flow), reaching b1 translated with its tag',
  topology: resolvedTwoArm(),
  backends: { sim: VLAN_NOT_HERE, prog: VLAN_NOT_HERE },
  services: (topo) => [svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const one = frameToLb(topo, c.name, { vlan: 100, ip: { src: c.ipv4, dst: topo.vip4 }, udp: { sport: 45_300, dport: 7001 }, payload: 16 });
    await world.inject(c.name, [one]);
    expect.reasons(await observe(), { new_flow: 1 });
    const links = await captures();
    const b1 = backend(topo, 0);
    expect.packet(links, { on: b1.name, pattern: { fields: { 'vlan.ids': '100', 'ip.dst': b1.ipv4, 'udp.sport': 45_300, checksums: 'ok' } }, count: 1 }, 'the tagged frame reaches b1 translated, tag kept');
  },
});
