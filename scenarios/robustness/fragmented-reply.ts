// A backend's fragmented reply to a DNAT flow (a UDP answer larger than the path MTU: DNS with
// EDNS, a QUIC / RTP burst): the client must never receive a packet with the backend's own
// source address (docs/datapath.md "Fragments"). The flow is created by the client's datagram,
// then the backend sends its answer in two IPv4 fragments (the first with the UDP header, the
// second with the rest of the payload). Both must leave translated (the first by its ports, the
// second through the first's record). Failed at 1ca44ca: both fragments passed untranslated.
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, svc } from '../_lib.ts';

export default scenario({
  description: "DNAT UDP: the backend's reply in two IPv4 fragments reaches the client from the VIP, never from the backend's address",

  services: (topo) => [svc(topo, 'udp', { mode: 'dnat' })],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    await world.inject(c.name, [
      frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4 }, udp: { sport: 45_400, dport: 7001 }, payload: 16 }),
    ]);
    const fwd = (await observe()).conntrack.find((e) => !e.reply && e.key.sport === 45_400);
    expect.ok(fwd !== undefined, 'the client datagram created a flow');
    const b = topo.backends.find((x) => x.ipv4 === fwd?.nat.dst);
    if (fwd === undefined || b === undefined) return;
    const first = frameToLb(topo, b.name, {
      ip: { src: b.ipv4, dst: c.ipv4, id: 777, mf: true },
      udp: { sport: fwd.nat.dport, dport: 45_400, length: 8 + 1400 },
      payload: 64,
    });
    const later = frameToLb(topo, b.name, { ip: { src: b.ipv4, dst: c.ipv4, id: 777, fragOffset: 72, protocol: 17 }, payload: 40 });
    await world.inject(b.name, [first, later]);
    const links = await captures();
    expect.noPacket(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': b.ipv4, 'ip.id': 777 } }, sanity: { on: b.name } },
      "no fragment reaches the client with the backend's address",
    );
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': topo.vip4, 'ip.id': 777 } }, count: 2 },
      'both fragments reach the client from the VIP',
    );
  },
});
