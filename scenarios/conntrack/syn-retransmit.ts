// A retransmitted SYN (same tuple, flow in SYN_SENT or SYN_RECV) belongs to the flow it
// repeats: it reaches the same endpoint, even with round-robin, which would give a new flow the
// next backend (shown by a third SYN on another port).
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, phantomClient, svc } from '../_lib.ts';

const SPORT = 41_200;

export default scenario({
  description: 'rr: a SYN and its retransmit both reach b1 (one flow, new_flow once), a SYN of another tuple reaches b2',
  services: (topo) => [svc(topo, 'tcp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const src = phantomClient(topo);
    const syn = (sport: number) =>
      frameToLb(topo, c.name, { ip: { src, dst: topo.vip4 }, tcp: { sport, dport: 7000, seq: 777, flags: 'S' } });
    // One injection: on the lab one process on one CPU sends all three, so the round-robin cursor
    // they meet is one (the cursors are per CPU).
    await world.inject(c.name, [syn(SPORT), syn(SPORT), syn(SPORT + 1)]);
    const obs = await observe();
    expect.reasons(obs, { new_flow: 2 });
    const links = await captures();
    expect.packet(
      links,
      {
        on: 'b1',
        pattern: { fields: { 'ip.src': src, 'ip.dst': topo.backends[0]?.ipv4 ?? '', 'tcp.sport': SPORT, 'tcp.flags': 'S' } },
        count: 2,
      },
      'the SYN and its retransmit both reach b1',
    );
    expect.packet(
      links,
      {
        on: 'b2',
        pattern: { fields: { 'ip.src': src, 'ip.dst': topo.backends[1]?.ipv4 ?? '', 'tcp.sport': SPORT + 1, 'tcp.flags': 'S' } },
        count: 1,
      },
      'a new tuple goes to the next backend',
    );
  },
});
