// ICMP echo to a VIP that has only TCP/UDP services: the desired state has no way to declare an
// ICMP echo service (Service.protocol is tcp | udp), so the datapath has none, and an echo
// request to the VIP is not balanced: it passes untouched (pass_no_service), no entry, no backend
// sees it. (The datapath itself can balance echo: docs/datapath.md, ICMP echo services.)
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, svc } from '../_lib.ts';

export default scenario({
  description: 'an echo request to the VIP (TCP/UDP services only): pass_no_service, no conntrack entry, no backend sees it',
  services: (topo) => [svc(topo, 'tcp'), svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    await world.inject(c.name, [
      frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4 }, icmp: { type: 'echo-request', id: 77, seq: 1 }, payload: 32 }),
    ]);
    const obs = await observe();
    expect.ok(
      (obs.reasons.get('pass_no_service') ?? 0) >= 1,
      'the echo request passed as no service',
      `pass_no_service ${obs.reasons.get('pass_no_service') ?? 0}`,
    );
    expect.equal(obs.conntrack.length, 0, 'no conntrack entry');
    const links = await captures();
    expect.noPacket(
      links,
      { on: topo.backends.map((b) => b.name), pattern: { fields: { 'icmp.id': 77 } }, sanity: { on: c.name } },
      'no backend sees the echo request',
    );
  },
});
