// IPv4 options move the L4 header: a datagram with 8 bytes of options (NOP, NOP, and a 6-byte
// unknown option) is parsed past them, balanced, and translated with its options untouched and
// both checksums right.
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, svc } from '../_lib.ts';

export default scenario({
  description:
    'UDP with 8 bytes of IPv4 options to the VIP: new_flow, at b1 with its 3 options kept (IHL 7) and valid checksums; b1 answers through the VIP',
  services: (topo) => [svc(topo, 'udp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const b1 = backend(topo, 0);
    const options = [{ type: 1 }, { type: 1 }, { type: 0x9e, data: Uint8Array.from([1, 2, 3, 4]) }];
    await world.inject(c.name, [
      frameToLb(topo, c.name, {
        ip: { src: c.ipv4, dst: topo.vip4, options },
        udp: { sport: 47_400, dport: 7001 },
        payload: 'with options',
      }),
    ]);
    expect.reasons(await observe(), { new_flow: 1 });
    const links = await captures();
    expect.packet(
      links,
      { on: b1.name, pattern: { fields: { 'ip.dst': b1.ipv4, 'ip.options': 3, 'udp.sport': 47_400, checksums: 'ok' } }, count: 1 },
      'b1 gets it translated, options kept',
    );
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': topo.vip4, 'udp.dport': 47_400 } }, count: 1 },
      'the answer comes back through the VIP',
    );
  },
});
