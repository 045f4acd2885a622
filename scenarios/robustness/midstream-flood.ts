// Mid-stream adoption (docs/datapath.md "Mid-stream packet of an unknown flow") creates two
// entries from one ACK, so a flood of spoofed ACKs could push every live flow out of the LRU
// conntrack table. The flood guard (docs/datapath.md "Flood guard", Katran's is_under_flood)
// counts the packets that reach flow creation per second and CPU; over `newFlowRate`, mid-stream
// packets create nothing (drop_flood). Here a live connection is idle while 3,000 ACKs from 3,000
// spoofed sources arrive (6,000 entries without the guard, the table holds 4,096): the guard admits
// 200 of them, the connection keeps its entries and finishes its rounds on its backend (rr: a
// re-adopted flow would land on another backend and be reset).
import { flowEntries, scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, startRounds, svc } from '../_lib.ts';

const SPORT = 41_500;
const FLOOD = 3000;
const RATE = 200;

export default scenario({
  description: `${FLOOD} spoofed mid-stream ACKs while a TCP connection is idle: ${RATE} adopted (midstream_new), the rest drop_flood; the connection keeps its entries and its backend`,
  services: (topo) => [svc(topo, 'tcp')],
  newFlowRate: RATE,
  allowDrops: ['drop_flood'],
  backends: { lab: `needs more spoofed packets than the table holds: the lab agent's table has 262,144 entries, sim and prog 4,096` },
  async run(ctx) {
    const { world, expect, observe, topo } = ctx;
    const c = client1(topo);
    const t = await startRounds(ctx, { proto: 'tcp', target: topo.vip4, count: 1, sport: SPORT, rounds: 3, payload: 100 });
    const before = await observe();
    const entries = flowEntries(before, { clientIp: c.ipv4, clientPort: SPORT });
    expect.equal(entries.length, 2, 'the live connection has its two entries');
    // a fresh one-second window for the flood
    await ctx.advance(2);
    const flood = Array.from({ length: FLOOD }, (_, i) =>
      frameToLb(topo, c.name, {
        ip: { src: `198.18.${64 + (i >> 8)}.${i & 255}`, dst: topo.vip4 },
        tcp: { sport: 20_000 + (i % 1000), dport: 7000, seq: 1_000 + i, ack: 5_000 + i, flags: 'A' },
      }),
    );
    await world.inject(c.name, flood);
    const after = await observe();
    expect.reasons(
      after,
      { midstream_new: RATE, drop_flood: FLOOD - RATE, new_flow: 1 },
      'the guard admitted its rate and refused the rest',
    );
    const still = flowEntries(after, { clientIp: c.ipv4, clientPort: SPORT });
    expect.equal(still.length, 2, 'the live connection still has both entries after the flood');
    expect.ok(after.conntrack.length <= 2 + 2 * RATE, `at most ${2 + 2 * RATE} entries in the table (${after.conntrack.length})`);
    await t.next();
    await t.next();
    const r = await t.report();
    expect.allConnected(r, 'the connection finished every round');
    expect.sameBackendPerConnection(r);
    expect.reasons(await observe(), { new_flow: 1, midstream_new: RATE }, 'the connection was never re-created');
  },
});
