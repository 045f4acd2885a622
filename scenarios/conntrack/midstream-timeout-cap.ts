// A flow adopted mid-stream (docs/datapath.md, Conntrack: XLB_CT_F_MIDSTREAM) lives at most
// SYN_SENT's timeout until the backend answers: one stray or spoofed ACK must not hold two
// entries for ESTABLISHED's hours. The endpoint is an address nobody owns, so the backend never
// answers: an ACK 1 s later is still the adopted flow (tracked), one 10 s later (SYN_SENT 5 s,
// ESTABLISHED 300 s) finds it expired and is adopted again.
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, phantomBackend, phantomClient, svc } from '../_lib.ts';

const SPORT = 41_700;

export default scenario({
  description:
    "a mid-stream ACK to an endpoint that never answers: still tracked 1 s later, expired after SYN_SENT's 5 s (not ESTABLISHED's 300 s): adopted again",
  timeoutsS: { SYN_SENT: 5, ESTABLISHED: 300 },
  services: (topo) => [svc(topo, 'tcp', { endpoints: [{ ip: phantomBackend(topo), port: 7000 }] })],
  async run({ world, advance, expect, observe, topo }) {
    const c = client1(topo);
    const ack = (seq: number) =>
      frameToLb(topo, c.name, {
        ip: { src: phantomClient(topo), dst: topo.vip4 },
        tcp: { sport: SPORT, dport: 7000, seq, ack: 700_000, flags: 'A' },
        payload: 'x',
      });
    await world.inject(c.name, [ack(5000)]);
    expect.reasons(await observe(), { midstream_new: 1 }, 'the first ACK is adopted');
    await advance(1);
    await world.inject(c.name, [ack(5001)]);
    const obs = await observe();
    expect.reasons(obs, { midstream_new: 1 }, 'an ACK 1 s later belongs to the adopted flow');
    const entry = obs.conntrack.find((e) => !e.reply && e.key.sport === SPORT);
    expect.ok(
      entry?.flags.includes('midstream') === true,
      'the forward entry is marked mid-stream',
      entry === undefined ? 'no entry' : `flags ${entry.flags.join(',')}`,
    );
    await advance(10);
    await world.inject(c.name, [ack(5002)]);
    expect.reasons(
      await observe(),
      { midstream_new: 2 },
      "10 s later the unanswered adoption has expired (SYN_SENT's 5 s): the ACK is adopted again",
    );
  },
});
