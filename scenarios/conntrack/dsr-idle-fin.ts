// DSR sees only the client's half of a connection (the backend answers around the LB), so the
// LB never sees the SYN-ACK. The handshake and one exchange, then 61 s of silence on the virtual
// clock (more than SYN_SENT's 60 s, far less than ESTABLISHED's 7440 s), then a second exchange
// and the close: the client's ACK must have made the flow ESTABLISHED (fast path for its data),
// so it survives the gap on its endpoint instead of being re-balanced mid-stream (docs/datapath.md
// "DSR": the state follows the client's half). Failed at 1ca44ca (skipped there as a known bug).
import { scenario } from '../../src/harness/index.ts';
import { builtinTopology } from '../../src/topology/builtins.ts';
import { client1, startRounds, svc } from '../_lib.ts';

export default scenario({
  description:
    'TCP DSR: handshake and one exchange (ESTABLISHED, fast path), 61 s idle, a second exchange and FIN on the same backend, one entry, no mid-stream re-selection',
  topology: builtinTopology('dsr', { clients: 1, backends: 3 }),
  services: (topo) => [svc(topo, 'tcp', { mode: 'dsr' })],
  async run(ctx) {
    const { advance, expect, observe, topo } = ctx;
    // SYN, ACK, the data and the ACK of its echo: the first round is done.
    const t = await startRounds(
      ctx,
      { proto: 'tcp', target: topo.vip4, count: 1, rounds: 2, sport: 47_600, payload: 32 },
      { forwardPackets: 4 },
    );
    const first = await observe();
    const c = client1(topo).ipv4;
    expect.equal(
      first.conntrack.map((e) => e.state),
      ['ESTABLISHED'],
      'after the handshake and one exchange: one entry, ESTABLISHED',
    );
    expect.ok(
      (first.reasons.get('fast_path') ?? 0) > 0,
      'the exchange took the fast path',
      `fast_path ${first.reasons.get('fast_path') ?? 0}`,
    );
    await advance(61);
    await t.next();
    const r = await t.report();
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    const obs = await observe();
    const sport = r.results[0]?.sport ?? 0;
    expect.equal(obs.conntrack.filter((x) => x.key.src === c && x.key.sport === sport).length, 1, 'one DSR entry for the flow');
    expect.reasons(obs, { new_flow: 1, midstream_new: 0 });
  },
});
