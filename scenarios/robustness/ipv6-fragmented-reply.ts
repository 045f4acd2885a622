// The IPv6 form of fragmented-reply.ts: a backend's reply to a DNAT flow in two IPv6 fragments
// (Fragment header, 32-bit identification; the first with the UDP header, the second with the
// rest of the payload). Both must reach the client from the VIP (the first translated by its
// ports, the second through the first's record: docs/datapath.md "Fragments"), never with the
// backend's own address. Failed at 95d3239: both fragments passed untranslated (pass_fragment).
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, svc } from '../_lib.ts';

const ID = 0x1000_0777;

export default scenario({
  description:
    "DNAT UDP over IPv6: the backend's reply in two IPv6 fragments reaches the client from the VIP, never from the backend's address",

  services: (topo) => [svc(topo, 'udp', { mode: 'dnat' }, 6)],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const vip6 = topo.vip6 ?? '';
    await world.inject(c.name, [
      frameToLb(topo, c.name, { ip: { src: c.ipv6, dst: vip6 }, udp: { sport: 45_600, dport: 7001 }, payload: 16 }),
    ]);
    const fwd = (await observe()).conntrack.find((e) => !e.reply && e.key.sport === 45_600);
    expect.ok(fwd !== undefined, 'the client datagram created a flow');
    const b = topo.backends.find((x) => x.ipv6 === fwd?.nat.dst);
    expect.ok(b !== undefined, `the flow's endpoint ${fwd?.nat.dst ?? '?'} is a backend of the topology`);
    if (fwd === undefined || b?.ipv6 === undefined) return;
    const first = frameToLb(topo, b.name, {
      ip: { src: b.ipv6, dst: c.ipv6, extensions: [{ type: 'fragment', more: true, id: ID }] },
      udp: { sport: fwd.nat.dport, dport: 45_600, length: 8 + 1400 },
      payload: 64,
    });
    const later = frameToLb(topo, b.name, {
      ip: { src: b.ipv6, dst: c.ipv6, protocol: 17, extensions: [{ type: 'fragment', offset: 72, id: ID }] },
      payload: 40,
    });
    await world.inject(b.name, [first, later]);
    // (tracked also counts the backend server's own answer to the client datagram)
    expect.reasons(await observe(), { pass_fragment: 0 });
    const links = await captures();
    expect.noPacket(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': b.ipv6, 'ip.id': ID } }, sanity: { on: b.name } },
      "no fragment reaches the client with the backend's address",
    );
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': vip6, 'ip.id': ID } }, count: 2 },
      'both fragments reach the client from the VIP',
    );
  },
});
