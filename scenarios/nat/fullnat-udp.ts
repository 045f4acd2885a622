// UDP full NAT: the backend sees the LB's SNAT address and an allocated port, never the client;
// the reply is translated back to VIP → client at the client's own port.
import { scenario } from '../../src/harness/index.ts';
import { badChecksums, client1, resolvedTwoArm, svc } from '../_lib.ts';

export default scenario({
  description:
    'UDP full NAT over 3 backends: backends see only the SNAT address, the client only the VIP, each flow keeps its SNAT port, checksums valid',
  topology: resolvedTwoArm(),
  services: (topo) => [svc(topo, 'udp', { mode: 'fullnat' })],
  async run({ client, expect, captures, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip4, count: 6, rounds: 2, payload: 64 });
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    expect.spread(r, { roundRobin: topo.backends.map((b) => b.name) });
    const links = await captures();
    const c = client1(topo);
    const snat = topo.lb.segments.find((s) => s.segment === 'backends')?.ipv4 ?? '';
    for (const b of topo.backends)
      expect.packet(
        links,
        { on: b.name, pattern: { fields: { 'ip.src': snat, 'ip.dst': b.ipv4, 'udp.dport': 7001 } }, count: 4 },
        `${b.name} gets its 4 datagrams from the SNAT address`,
      );
    expect.noPacket(
      links,
      { on: topo.backends.map((b) => b.name), pattern: { fields: { 'ip.src': c.ipv4 } }, sanity: { on: c.name } },
      'no backend sees the client address',
    );
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': topo.vip4, 'ip.dst': c.ipv4, 'udp.sport': 7001 } }, count: 12 },
      'every answer from VIP:7001',
    );
    expect.equal(badChecksums(links), [], 'every checksum valid');
  },
});
