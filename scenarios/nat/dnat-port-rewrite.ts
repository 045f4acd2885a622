// A service port that differs from the endpoints' port: VIP:8000 is served by port 7000 on the
// backends; the destination port is rewritten on the way in and the source port restored on the
// way out, so the client only ever sees 8000.
import { scenario } from '../../src/harness/index.ts';
import { client1, svc } from '../_lib.ts';

export default scenario({
  description: 'TCP DNAT VIP:8000 → endpoints :7000: backends see dport 7000, the client sees only sport 8000, checksums valid',
  services: (topo) => [svc(topo, 'tcp', { port: 8000 })],
  async run({ client, expect, captures, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, port: 8000, count: 3, payload: 500 });
    expect.allConnected(r);
    expect.spread(r, { roundRobin: topo.backends.map((b) => b.name) });
    const links = await captures();
    const c = client1(topo);
    expect.packet(
      links,
      {
        on: 'b1',
        pattern: { fields: { 'ip.dst': topo.backends[0]?.ipv4 ?? '', 'tcp.dport': 7000, 'tcp.flags': 'S', checksums: 'ok' } },
        count: 1,
      },
      'the SYN reaches b1 at port 7000',
    );
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': topo.vip4, 'tcp.sport': 8000, 'tcp.flags': 'S.', checksums: 'ok' } }, count: 3 },
      'SYN-ACKs come from VIP:8000',
    );
    expect.noPacket(
      links,
      {
        on: c.name,
        pattern: { fields: { 'ip.dst': c.ipv4, 'tcp.sport': 7000 } },
        sanity: { on: c.name, pattern: { fields: { 'ip.dst': c.ipv4, 'tcp.sport': 8000 } } },
      },
      'the client never sees port 7000',
    );
  },
});
