// The per-service policer (token bucket: 10 packets/s, burst 5): 30 datagrams arriving together
// get the burst and the one token in hand through (6) and the rest are dropped as drop_policed,
// counted; after 1 s the bucket has refilled and a second burst is admitted the same way. The
// tolerance of one packet either way covers the lab's real time between datagrams and the prog
// backend's clock, which may read one coarse tick ahead for some packets of a burst.
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

export default scenario({
  description: 'policer 10 pps, burst 5: of 30 simultaneous UDP flows 6 (±1) are answered, the rest drop_policed; after 1 s, 6 (±1) again',
  allowDrops: ['drop_policed'],
  services: (topo) => [svc(topo, 'udp', { policer: { ratePps: 10, burst: 5 } })],
  async run({ client, advance, expect, observe, topo }) {
    const burst = () => client({ proto: 'udp', target: topo.vip4, count: 30, concurrency: 30, payload: 8, timeoutMs: 400 });
    const a = await burst();
    expect.ok(a.summary.ok >= 5 && a.summary.ok <= 7, 'the first burst: 6 (±1) admitted', `${a.summary.ok} answered`);
    const mid = await observe();
    expect.equal(mid.reasons.get('drop_policed') ?? 0, 30 - a.summary.ok, 'every refused datagram counted drop_policed');
    await advance(1);
    const b = await burst();
    expect.ok(b.summary.ok >= 5 && b.summary.ok <= 7, 'after 1 s the bucket refilled: 6 (±1) admitted again', `${b.summary.ok} answered`);
  },
});
