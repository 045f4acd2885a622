// A one-way stream (UDP telemetry, a long download's ACK-only direction seen from the other side)
// keeps its whole flow alive: the fast path refreshes the peer entry's last_seen (at most once a
// second, docs/datapath.md "Fast path"), so the reply entry does not expire while only the
// client speaks. UDP_ESTABLISHED's timeout is 10 s here and the client sends every 2 s for 24 s;
// then the backend answers, and the answer is still the flow's: translated back (tracked or
// fast path), not passed as no service. The endpoint is an address nobody owns (no host answers
// on its own), and the answer is injected from b1's interface with that address.
import { scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, phantomBackend, phantomClient, svc } from '../_lib.ts';

const SPORT = 45_900;

export default scenario({
  description:
    "UDP established, then 12 client datagrams 2 s apart (24 s > UDP_ESTABLISHED 10 s), then a backend answer: still translated as the flow's",
  timeoutsS: { UDP_ESTABLISHED: 10 },
  services: (topo) => [svc(topo, 'udp', { endpoints: [{ ip: phantomBackend(topo), port: 7001 }] })],
  async run({ world, advance, expect, observe, topo }) {
    const c = client1(topo);
    const src = phantomClient(topo);
    const ep = phantomBackend(topo);
    const b1 = topo.backends[0]?.name ?? 'b1';
    const fromClient = () => frameToLb(topo, c.name, { ip: { src, dst: topo.vip4 }, udp: { sport: SPORT, dport: 7001 }, payload: 20 });
    const fromBackend = () => frameToLb(topo, b1, { ip: { src: ep, dst: src }, udp: { sport: 7001, dport: SPORT }, payload: 20 });
    await world.inject(c.name, [fromClient()]);
    await world.inject(b1, [fromBackend()]);
    await world.inject(c.name, [fromClient()]);
    let obs = await observe();
    const fwd = obs.conntrack.find((e) => !e.reply && e.key.sport === SPORT);
    expect.equal(fwd?.state, 'UDP_ESTABLISHED', 'the flow is established (client, answer, client)');
    for (let i = 0; i < 12; i++) {
      await advance(2);
      await world.inject(c.name, [fromClient()]);
    }
    const before = obs.reasons.get('pass_no_service') ?? 0;
    await world.inject(b1, [fromBackend()]);
    obs = await observe();
    const last = [...obs.trace].reverse().find((e) => e.tuple.src === ep && e.tuple.dport === SPORT);
    expect.ok(
      last !== undefined && (last.reason === 'tracked' || last.reason === 'fast_path'),
      "the backend's answer after 24 s of one-way traffic is still the flow's",
      last === undefined ? 'no trace event for it' : `reason ${last.reason}, ${last.ctBefore} → ${last.ctAfter}`,
    );
    expect.equal(obs.reasons.get('pass_no_service') ?? 0, before, 'nothing passed as no service');
    const rep = obs.conntrack.find((e) => e.reply && e.key.src === ep && e.key.dport === SPORT);
    expect.equal(rep?.state, 'UDP_ESTABLISHED', 'the reply entry is still there, established');
  },
});
