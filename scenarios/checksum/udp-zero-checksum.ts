// A UDP datagram over IPv4 without a checksum (field 0, allowed by RFC 768): the rewrite must
// keep it 0 (an incremental update would otherwise turn "no checksum" into a wrong one, a bug
// class known from other load balancers), and the backend still answers.
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, svc } from '../_lib.ts';

const SPORT = 44_100;

export default scenario({
  description:
    'UDP with checksum 0 to the VIP: it reaches b1 translated with its checksum still 0; b1 answers and the answer reaches the client from the VIP',
  services: (topo) => [svc(topo, 'udp')],
  async run({ world, expect, captures, topo }) {
    const c = client1(topo);
    const b1 = backend(topo, 0);
    await world.inject(c.name, [
      frameToLb(topo, c.name, {
        ip: { src: c.ipv4, dst: topo.vip4 },
        udp: { sport: SPORT, dport: 7001, checksum: 'zero' },
        payload: 'no checksum',
      }),
    ]);
    const links = await captures();
    expect.packet(
      links,
      {
        on: b1.name,
        pattern: { fields: { 'ip.dst': b1.ipv4, 'udp.sport': SPORT, 'udp.checksum': 'zero', 'ip.checksum': 'ok' } },
        count: 1,
      },
      'b1 gets the datagram with checksum 0, IP header checksum valid',
    );
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': topo.vip4, 'udp.dport': SPORT, checksums: 'ok' } }, count: 1 },
      'the answer reaches the client from the VIP, checksums valid',
    );
  },
});
