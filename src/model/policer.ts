// The per-service policer (docs/datapath.md "Policer"): GCRA in packets per second with a burst.
// interval = floor(1e9 / rate_pps) ns; tat starts at max(tat, now); a packet conforms when
// tat - now <= burst * interval, and then moves tat one interval on. rate 0: no policer.
import { NSEC_PER_SEC } from './clock.ts';
import type { Tables } from './tables.ts';

export function policerAdmit(t: Tables, svcId: number, now: bigint): boolean {
  const pl = t.policers.get(svcId);
  if (pl === undefined || pl.ratePps === 0) return true;
  const interval = NSEC_PER_SEC / BigInt(pl.ratePps);
  const tat = pl.tatNs < now ? now : pl.tatNs;
  if (tat - now > BigInt(pl.burst) * interval) return false;
  pl.tatNs = tat + interval;
  return true;
}
