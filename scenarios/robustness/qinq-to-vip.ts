// A QinQ frame to a VIP (802.1ad outer tag, 802.1Q inner tag): the parser skips both tags, the
// flow is balanced and the frame translated with both tags kept.
import { scenario } from '../../src/harness/index.ts';
import { VLAN_NOT_HERE, backend, client1, frameToLb, svc } from '../_lib.ts';

export default scenario({
  description: 'UDP to the VIP tagged 802.1ad 200 / 802.1Q 300: balanced (new_flow), reaching b1 translated with both tags',
  backends: {
    sim: VLAN_NOT_HERE,
    prog: VLAN_NOT_HERE,
    lab: 'KNOWN BUG: at TC in the lab the QinQ frame is counted new_flow but never appears on any backend link (the single-tag frame does: vlan-to-vip.ts); reproduce: xlb run scenarios/robustness/qinq-to-vip.ts --backend lab --hook tc',
  },
  services: (topo) => [svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const b1 = backend(topo, 0);
    await world.inject(c.name, [frameToLb(topo, c.name, { vlan: [{ id: 200, tpid: 0x88a8 }, 300], ip: { src: c.ipv4, dst: topo.vip4 }, udp: { sport: 45_301, dport: 7001 }, payload: 16 })]);
    expect.reasons(await observe(), { new_flow: 1 });
    const links = await captures();
    expect.packet(links, { on: b1.name, pattern: { fields: { 'vlan.ids': '200,300', 'ip.dst': b1.ipv4, 'udp.sport': 45_301, checksums: 'ok' } }, count: 1 }, 'the QinQ frame reaches b1 translated, both tags kept');
  },
});
