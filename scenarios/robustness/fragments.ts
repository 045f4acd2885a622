// IPv4 fragments to a VIP: the datapath does not reassemble (docs/datapath.md, known gaps), so a
// first fragment (MF) and a later one (offset 64) pass untouched to the stack (the first:
// pass_fragment, it belongs to no flow; the later one: pass_fragment_no_record, no first fragment
// of a flow recorded its datagram): never balanced, no flow, and no half-translated fragment
// reaches a backend.
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, svc } from '../_lib.ts';

export default scenario({
  description:
    'a first and a non-first IPv4 fragment to the VIP: pass_fragment and pass_fragment_no_record, no conntrack entry, neither reaches a backend',
  services: (topo) => [svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const first = frameToLb(topo, c.name, {
      ip: { src: c.ipv4, dst: topo.vip4, id: 4242, mf: true },
      udp: { sport: 45_200, dport: 7001 },
      payload: 64,
    });
    const later = frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4, id: 4242, fragOffset: 72, protocol: 17 }, payload: 40 });
    await world.inject(c.name, [first, later]);
    const obs = await observe();
    expect.reasons(obs, { pass_fragment: 1, pass_fragment_no_record: 1, new_flow: 0 });
    expect.equal(obs.conntrack.length, 0, 'no conntrack entry');
    const links = await captures();
    expect.noPacket(
      links,
      { on: topo.backends.map((b) => b.name), pattern: { fields: { 'ip.id': 4242 } }, sanity: { on: c.name } },
      'no fragment reaches a backend',
    );
  },
});
