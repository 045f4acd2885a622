// A VLAN-tagged frame to a VIP (802.1Q, and a QinQ pair): the parser skips up to two tags,
// the flow is balanced and the frame translated with its tags kept (the rewrite touches only
// addresses, ports and checksums).
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, svc } from '../_lib.ts';

export default scenario({
  description: 'UDP to the VIP tagged VLAN 100, and QinQ 200/300: both balanced (new_flow), reaching b1 and b2 translated with their tags',
  services: (topo) => [svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const one = frameToLb(topo, c.name, { vlan: 100, ip: { src: c.ipv4, dst: topo.vip4 }, udp: { sport: 45_300, dport: 7001 }, payload: 16 });
    const two = frameToLb(topo, c.name, { vlan: [{ id: 200, tpid: 0x88a8 }, 300], ip: { src: c.ipv4, dst: topo.vip4 }, udp: { sport: 45_301, dport: 7001 }, payload: 16 });
    await world.inject(c.name, [one, two]);
    expect.reasons(await observe(), { new_flow: 2 });
    const links = await captures();
    const b1 = backend(topo, 0);
    const b2 = backend(topo, 1);
    expect.packet(links, { on: b1.name, pattern: { fields: { 'vlan.ids': '100', 'ip.dst': b1.ipv4, 'udp.sport': 45_300, checksums: 'ok' } }, count: 1 }, 'the tagged frame reaches b1 translated, tag kept');
    expect.packet(links, { on: b2.name, pattern: { fields: { 'vlan.ids': '200,300', 'ip.dst': b2.ipv4, 'udp.sport': 45_301, checksums: 'ok' } }, count: 1 }, 'the QinQ frame reaches b2 translated, both tags kept');
  },
});
