// The LB is a routing hop: a packet to a VIP with TTL 1 would expire here, so the datapath
// passes it untouched (pass_ttl) and the LB's stack answers with an ICMP error about it
// (time-exceeded when it has a route for the VIP, as the virtual LB does; destination unreachable
// when not, as the lab's LB kernel does); with TTL 2 it is balanced and reaches the backend with
// TTL 1 (decremented, header checksum updated).
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, svc } from '../_lib.ts';

export default scenario({
  description: 'UDP to the VIP with TTL 1: pass_ttl, no flow, an ICMP error to the client; with TTL 2: new_flow, at b1 with TTL 1',
  services: (topo) => [svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const dgram = (ttl: number, sport: number) =>
      frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4, ttl }, udp: { sport, dport: 7001 }, payload: 16 });
    await world.inject(c.name, [dgram(1, 45_400)]);
    const one = await observe();
    expect.reasons(one, { pass_ttl: 1, new_flow: 0 });
    expect.equal(one.conntrack.length, 0, 'TTL 1: no conntrack entry');
    await world.inject(c.name, [dgram(2, 45_401)]);
    expect.reasons(await observe(), { pass_ttl: 1, new_flow: 1 }, 'TTL 2: balanced');
    const links = await captures();
    const b1 = backend(topo, 0);
    expect.packet(
      links,
      {
        on: c.name,
        pattern: { fields: { 'ip.dst': c.ipv4, 'ip.src': topo.lb.ipv4, 'inner.sport': 45_400, 'inner.dport': 7001 } },
        count: 1,
      },
      'TTL 1: the client gets an ICMP error from the LB about its datagram',
    );
    expect.noPacket(
      links,
      { on: topo.backends.map((b) => b.name), pattern: { fields: { 'udp.sport': 45_400 } }, sanity: { on: c.name } },
      'TTL 1: no backend sees it',
    );
    expect.packet(
      links,
      { on: b1.name, pattern: { fields: { 'ip.dst': b1.ipv4, 'udp.sport': 45_401, 'ip.ttl': 1, 'ip.checksum': 'ok' } }, count: 1 },
      'TTL 2: reaches b1 with TTL 1',
    );
  },
});
