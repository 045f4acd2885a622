// A half-open flow (SYN, no answer) lives for SYN_SENT's timeout (60 s) and no longer: a SYN on
// the same tuple 61 s later is a new flow, selected afresh (round-robin: the next endpoint).
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, phantomClient, svc } from '../_lib.ts';

const SPORT = 47_200;
const DEAD = '198.18.2.99';

export default scenario({
  description:
    'SYN to a silent endpoint: SYN_SENT; 59 s later a retransmit is the same flow; 61 s after that, a new flow on the next endpoint (b2)',
  services: (topo) => [
    svc(topo, 'tcp', {
      endpoints: [
        { ip: DEAD, port: 7000 },
        { ip: backend(topo, 1).ipv4, port: 7000 },
      ],
    }),
  ],
  async run({ world, advance, expect, observe, captures, topo }) {
    const c = client1(topo);
    const src = phantomClient(topo);
    const syn = frameToLb(topo, c.name, { ip: { src, dst: topo.vip4 }, tcp: { sport: SPORT, dport: 7000, seq: 42, flags: 'S' } });
    await world.inject(c.name, [syn]);
    await advance(59);
    await world.inject(c.name, [syn]);
    expect.reasons(await observe(), { new_flow: 1 }, 'within 60 s: the same half-open flow');
    await advance(61);
    await world.inject(c.name, [syn]);
    expect.reasons(await observe(), { new_flow: 2 }, 'after 61 s idle: a new flow');
    const links = await captures();
    expect.packet(
      links,
      { on: 'b2', pattern: { fields: { 'ip.src': src, 'ip.dst': backend(topo, 1).ipv4, 'tcp.flags': 'S' } }, count: 1 },
      'the new flow went to the next endpoint, b2',
    );
  },
});
