// An IPv6 packet to the VIP carrying a fragment header: not reassembled, passed untouched
// (pass_fragment), never balanced.
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, PROTO0_DISAGREEMENT, svc } from '../_lib.ts';

export default scenario({
  description: 'IPv6 UDP to the VIP behind a fragment header (first fragment, M set): pass_fragment, no entry, no backend sees it',
  differential: false,
  differentialOff: PROTO0_DISAGREEMENT,
  services: (topo) => [svc(topo, 'udp', {}, 6)],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    await world.inject(c.name, [
      frameToLb(topo, c.name, {
        ip: { src: c.ipv6, dst: topo.vip6 ?? '', extensions: [{ type: 'fragment', offset: 0, more: true, id: 99 }] },
        udp: { sport: 47_500, dport: 7001 },
        payload: 64,
      }),
    ]);
    const obs = await observe();
    expect.reasons(obs, { pass_fragment: 1, new_flow: 0 });
    expect.equal(obs.conntrack.length, 0, 'no conntrack entry');
    const links = await captures();
    expect.noPacket(
      links,
      {
        on: topo.backends.map((b) => b.name),
        pattern: { fields: { 'ip.src': c.ipv6 } },
        sanity: { on: c.name, pattern: { fields: { 'ip.dst': topo.vip6 ?? '' } } },
      },
      'no backend sees the fragment',
    );
  },
});
