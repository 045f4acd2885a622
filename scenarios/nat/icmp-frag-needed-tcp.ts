// ICMP fragmentation-needed about a balanced TCP flow, from the backend side: it quotes the
// translated segment (client → b1:7000). The LB finds the flow from the quote and translates the
// error outside (from the VIP) and inside (quoting client → VIP:7000, the quoted TCP checksum
// updated), so the client's stack can match it to its socket and path-MTU discovery works.
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, startRounds, svc } from '../_lib.ts';

const SPORT = 47_000;

export default scenario({
  description:
    'a live TCP flow on b1; b1 sends frag-needed (MTU 1000) quoting client → b1:7000: the client gets it from the VIP quoting client → VIP:7000 (icmp_error), the flow goes on',
  services: (topo) => [svc(topo, 'tcp')],
  async run(ctx) {
    const { world, expect, observe, captures, topo } = ctx;
    const c = client1(topo);
    const b1 = backend(topo, 0);
    const t = await startRounds(ctx, { proto: 'tcp', target: topo.vip4, count: 1, rounds: 2, sport: SPORT, payload: 64 });
    const quote = { ip: { src: c.ipv4, dst: b1.ipv4 }, tcp: { sport: SPORT, dport: 7000, seq: 1, ack: 1, flags: 'PA' }, payload: 64 };
    await world.inject(b1.name, [
      frameToLb(topo, b1.name, {
        ip: { src: b1.ipv4, dst: c.ipv4 },
        icmp: { type: 'dest-unreachable', code: 'frag-needed', mtu: 1000, inner: quote },
      }),
    ]);
    await t.next();
    const r = await t.report();
    expect.allConnected(r);
    expect.ok((await observe()).reasons.get('icmp_error') === 1, 'the error was translated once (icmp_error)');
    const links = await captures();
    expect.packet(
      links,
      {
        on: c.name,
        pattern: {
          fields: {
            'ip.src': topo.vip4,
            'ip.dst': c.ipv4,
            'icmp.type': 'dest-unreachable',
            'icmp.code': 4,
            'icmp.mtu': 1000,
            'inner.ip.src': c.ipv4,
            'inner.ip.dst': topo.vip4,
            'inner.sport': SPORT,
            'inner.dport': 7000,
            checksums: 'ok',
          },
        },
        count: 1,
      },
      'the client gets frag-needed from the VIP about its own segment',
    );
  },
});
