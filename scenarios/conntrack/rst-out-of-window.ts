// RST sanity: a RST whose sequence is far outside the window of the sender's next sequence
// (a blind reset attack) is dropped and changes nothing; the in-window RST after it ends the
// flow. The client is a spoofed address on the client segment, so the scenario alone decides
// the client's sequence numbers (its SYN-ACK goes nowhere).
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, phantomClient, svc } from '../_lib.ts';

const SPORT = 41_100;
const ISN = 5_000_000;

export default scenario({
  description:
    'a client RST 1,000,000 past its next sequence is dropped (drop_rst_invalid, state kept); the in-window RST then closes the flow and alone reaches the backend',
  allowDrops: ['drop_rst_invalid'],
  services: (topo) => [svc(topo, 'tcp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const src = phantomClient(topo);
    const seg = (seq: number, flags: string) =>
      frameToLb(topo, c.name, { ip: { src, dst: topo.vip4 }, tcp: { sport: SPORT, dport: 7000, seq, flags } });
    await world.inject(c.name, [seg(ISN, 'S')]);
    await world.inject(c.name, [seg(ISN + 1 + 1_000_000, 'R')]);
    const mid = await observe();
    const flow = { clientIp: src, clientPort: SPORT };
    expect.ctState(mid, flow, 'SYN_RECV', 'the out-of-window RST changed nothing');
    expect.reasons(mid, { drop_rst_invalid: 1 });
    await world.inject(c.name, [seg(ISN + 1, 'R')]);
    const obs = await observe();
    expect.ctTransitions(obs, flow, ['SYN_SENT', 'SYN_RECV', 'CLOSED']);
    const links = await captures();
    const b1 = backend(topo, 0);
    expect.packet(
      links,
      { on: b1.name, pattern: { fields: { 'ip.src': src, 'ip.dst': b1.ipv4, 'tcp.flags': 'R', 'tcp.seq': ISN + 1 } }, count: 1 },
      'the in-window RST reaches the backend',
    );
    expect.noPacket(
      links,
      {
        on: topo.backends.map((b) => b.name),
        pattern: { fields: { 'tcp.flags': 'R', 'tcp.seq': ISN + 1 + 1_000_000 } },
        sanity: { on: c.name },
      },
      'the out-of-window RST reaches no backend',
    );
  },
});
