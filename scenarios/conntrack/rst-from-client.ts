// A RST from the client ends the flow: a raw SYN from the client's own address gets the backend's
// SYN-ACK through the LB; the client's stack has no such connection and answers with a RST at
// the sequence the SYN-ACK acknowledges (in window), which the LB accepts (CLOSED in both
// entries) and forwards to the backend translated.
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, svc } from '../_lib.ts';

const SPORT = 41_000;
const ISN = 100_000;

export default scenario({
  description: 'a raw SYN, the backend SYN-ACK, the client stack RST: SYN_SENT → SYN_RECV → CLOSED, the RST reaches the backend translated',
  services: (topo) => [svc(topo, 'tcp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    await world.inject(c.name, [
      frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4 }, tcp: { sport: SPORT, dport: 7000, seq: ISN, flags: 'S' } }),
    ]);
    const obs = await observe();
    const flow = { clientIp: c.ipv4, clientPort: SPORT };
    expect.ctTransitions(obs, flow, ['SYN_SENT', 'SYN_RECV', 'CLOSED']);
    expect.ctState(obs, flow, 'CLOSED');
    const links = await captures();
    const b1 = backend(topo, 0);
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': topo.vip4, 'tcp.dport': SPORT, 'tcp.flags': 'S.', 'tcp.ack': ISN + 1 } } },
      'the SYN-ACK reaches the client from the VIP',
    );
    expect.packet(
      links,
      {
        on: b1.name,
        pattern: {
          fields: { 'ip.src': c.ipv4, 'ip.dst': b1.ipv4, 'tcp.sport': SPORT, 'tcp.flags': 'R', 'tcp.seq': ISN + 1, checksums: 'ok' },
        },
        count: 1,
      },
      'the client RST reaches the backend, destination rewritten',
    );
  },
});
