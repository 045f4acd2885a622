// IPv4 headers that lie about their own length: IHL 4 (shorter than the fixed header), IHL 15
// (60 bytes, more than the packet holds) and a total length shorter than the header. Each is
// malformed and dropped before any lookup.
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, PROTO0_DISAGREEMENT, svc } from '../_lib.ts';

export default scenario({
  description:
    'UDP to the VIP with IHL 4, IHL 15 on a 36-byte packet, and total length 12: all drop_malformed, no flow, nothing reaches a backend',
  allowDrops: ['drop_malformed'],
  differential: false,
  differentialOff: PROTO0_DISAGREEMENT,
  services: (topo) => [svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const dgram = (ip: { ihl?: number; totalLength?: number }) =>
      frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4, ...ip }, udp: { sport: 45_100, dport: 7001 }, payload: 8 });
    await world.inject(c.name, [dgram({ ihl: 4 }), dgram({ ihl: 15 }), dgram({ totalLength: 12 })]);
    const obs = await observe();
    expect.reasons(obs, { drop_malformed: 3, new_flow: 0 });
    const links = await captures();
    expect.noPacket(
      links,
      {
        on: topo.backends.map((b) => b.name),
        pattern: { fields: { 'ip.src': c.ipv4 } },
        sanity: { on: c.name, pattern: { fields: { 'ip.dst': topo.vip4 } } },
      },
      'nothing reaches a backend',
    );
  },
});
