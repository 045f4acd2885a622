// Simultaneous close (RFC 793 §3.5): both ends send their FIN before either has seen the
// other's, then each ACKs the other's FIN. The LB sees the two FINs one after the other, so the
// states are those of an orderly close (docs/datapath.md, TCP states: a FIN from each side →
// CLOSE_WAIT, the last ACK → TIME_WAIT), whichever FIN it sees first; here the client's, then
// the backend's with an ACK that does not cover the client's FIN (it crossed it). Raw segments
// from a client and an endpoint no host owns, so no stack answers for either.
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, phantomBackend, phantomClient, svc } from '../_lib.ts';

const SPORT = 46_600;
const C = 10_000; // client ISN
const B = 70_000; // backend ISN

export default scenario({
  description:
    "handshake, then the client's FIN and the backend's FIN crossing (neither ACKs the other's), then both ACKs: SYN_SENT → SYN_RECV → ESTABLISHED → FIN_WAIT → CLOSE_WAIT → TIME_WAIT",
  services: (topo) => [svc(topo, 'tcp', { endpoints: [{ ip: phantomBackend(topo), port: 7000 }] })],
  async run({ world, expect, observe, topo }) {
    const c = client1(topo);
    const src = phantomClient(topo);
    const ep = phantomBackend(topo);
    const b1 = topo.backends[0]?.name ?? 'b1';
    const fromClient = (seq: number, ack: number, flags: string) =>
      frameToLb(topo, c.name, { ip: { src, dst: topo.vip4 }, tcp: { sport: SPORT, dport: 7000, seq, ack, flags } });
    const fromBackend = (seq: number, ack: number, flags: string) =>
      frameToLb(topo, b1, { ip: { src: ep, dst: src }, tcp: { sport: 7000, dport: SPORT, seq, ack, flags } });
    await world.inject(c.name, [fromClient(C, 0, 'S')]);
    await world.inject(b1, [fromBackend(B, C + 1, 'SA')]);
    await world.inject(c.name, [fromClient(C + 1, B + 1, 'A')]);
    // The FINs cross: each acknowledges only what it had seen (the handshake).
    await world.inject(c.name, [fromClient(C + 1, B + 1, 'FA')]);
    await world.inject(b1, [fromBackend(B + 1, C + 1, 'FA')]);
    await world.inject(c.name, [fromClient(C + 2, B + 2, 'A')]);
    await world.inject(b1, [fromBackend(B + 2, C + 2, 'A')]);
    const obs = await observe();
    const flow = { clientIp: src, clientPort: SPORT };
    expect.ctTransitions(obs, flow, ['SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'TIME_WAIT']);
    expect.ctState(obs, flow, 'TIME_WAIT');
    expect.reasons(obs, { new_flow: 1, drop_rst_invalid: 0 });
  },
});
