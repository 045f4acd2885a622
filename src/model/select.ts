// Stage 3 of docs/datapath.md ("Service lookup", "Endpoint selection"): exact service then port
// range, the six algorithms, the usable-slot probe, source persistence and least-connection
// counts. Per-CPU state (round-robin cursors) as on CPU 0.
import { ALGO, EP_F_ACTIVE, SVC_F_PERSIST } from '../schema/maps.ts';
import { NSEC_PER_SEC } from './clock.ts';
import { IPPROTO, MAX_EP, NO_SLOT, keyBytes } from './types.ts';
import type { CtKey } from './types.ts';
import type { EpEntry, SvcEntry, Tables } from './tables.ts';

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/** The tuple hash (docs/datapath.md "Tuple hash"): murmur3-style over the ten LE words of xlb_ct_key. */
export function flowHash(k: CtKey): number {
  const b = keyBytes(k);
  let h = 0x9747b28c;
  for (let i = 0; i < 10; i++) {
    let x = Math.imul(b.readUInt32LE(i * 4), 0xcc9e2d51);
    x = rotl(x, 15);
    h = (h ^ Math.imul(x, 0x1b873593)) >>> 0;
    h = rotl(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Exact (VIP, port) first, then the port-range entry (port 0) holding the port; ICMP: port 0. */
export function serviceLookup(t: Tables, k: CtKey): SvcEntry | undefined {
  if (k.proto !== IPPROTO.tcp && k.proto !== IPPROTO.udp) return t.lookupService(k.daddr, 0, k.proto, k.family);
  const exact = t.lookupService(k.daddr, k.dport, k.proto, k.family);
  if (exact !== undefined) return exact;
  const range = t.lookupService(k.daddr, 0, k.proto, k.family);
  if (range === undefined || k.dport < range.portLo || k.dport > range.portHi) return undefined;
  return range;
}

export function usable(ep: EpEntry | undefined, family: number, ignoreActive = false): ep is EpEntry {
  return ep !== undefined && (ignoreActive || (ep.flags & EP_F_ACTIVE) !== 0) && ep.family === family;
}

/** First usable slot at or after start (mod n), at most n probes. */
function probe(t: Tables, svc: SvcEntry, start: number, family: number): number {
  const n = svc.epCount;
  if (n === 0 || n > MAX_EP) return NO_SLOT;
  for (let i = 0; i < n; i++) {
    const slot = ((start + i) >>> 0) % n;
    if (usable(t.endpoint(svc.id, svc.gen, slot), family, t.config.faults.has('inactive-endpoints-used'))) return slot;
  }
  return NO_SLOT;
}

/** The i-th alternative of hash h (docs/datapath.md "Selection, exactly": rehash). */
export function rehash(h: number, i: number): number {
  let x = (h ^ Math.imul(i, 0x9e3779b9)) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x = (x ^ (x >>> 13)) >>> 0;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

export const REHASH_TRIES = 8;

/**
 * A hashed choice: `start` when usable, else up to 8 rehashed candidates (with a Maglev table
 * of size m: the slot at position rehash mod m; without: rehash mod n), else probe(start).
 */
function spread(t: Tables, svc: SvcEntry, start: number, family: number, h: number, m: number): number {
  const n = svc.epCount;
  if (n === 0 || n > MAX_EP) return NO_SLOT;
  const ok = (slot: number): boolean =>
    slot < n && usable(t.endpoint(svc.id, svc.gen, slot), family, t.config.faults.has('inactive-endpoints-used'));
  if (ok(start)) return start;
  for (let i = 1; i <= REHASH_TRIES; i++) {
    const r = rehash(h, i);
    const slot = m > 0 ? t.schedAt(svc, r % m) : r % n;
    if (ok(slot)) return slot;
  }
  return probe(t, svc, start, family);
}

function selectLc(t: Tables, svc: SvcEntry, family: number): number {
  let best = NO_SLOT;
  let bestConns = 0;
  let bestW = 1;
  for (let i = 0; i < Math.min(svc.epCount, MAX_EP); i++) {
    const ep = t.endpoint(svc.id, svc.gen, i);
    if (!usable(ep, family, t.config.faults.has('inactive-endpoints-used'))) continue;
    const c = t.epConns.get(svc.id * MAX_EP + i) ?? 0;
    const conns = c > 0 ? c : 0;
    const w = ep.weight !== 0 ? ep.weight : 1;
    if (best === NO_SLOT || conns * bestW < bestConns * w) {
      best = i;
      bestConns = conns;
      bestW = w;
    }
  }
  return best;
}

/** The algorithm's choice for a new flow (random: `rand` gives a uniform u32). */
export function selectByAlgo(t: Tables, svc: SvcEntry, k: CtKey, rand: () => number): number {
  const n = svc.epCount;
  if (n === 0 || n > MAX_EP) return NO_SLOT;
  const m = t.config.maglevSize;
  switch (svc.algo) {
    case ALGO.wrr: {
      if (svc.schedLen === 0 || svc.schedLen > m) return probe(t, svc, 0, k.family);
      const ctr = t.rr.get(svc.id) ?? 0;
      const start = t.schedAt(svc, ctr % svc.schedLen);
      t.rr.set(svc.id, (ctr + 1) >>> 0);
      return probe(t, svc, start, k.family);
    }
    case ALGO.hash: {
      const h = flowHash(k);
      return spread(t, svc, h % n, k.family, h, 0);
    }
    case ALGO.maglev: {
      const h = flowHash(k);
      if (m === 0) return spread(t, svc, h % n, k.family, h, 0);
      return spread(t, svc, t.schedAt(svc, h % m), k.family, h, m);
    }
    case ALGO.lc:
      return selectLc(t, svc, k.family);
    case ALGO.random: {
      const r = rand() >>> 0;
      return spread(t, svc, r % n, k.family, r, 0);
    }
    default: {
      const ctr = t.rr.get(svc.id) ?? 0;
      const slot = probe(t, svc, ctr % n, k.family);
      if (slot !== NO_SLOT) t.rr.set(svc.id, slot + 1);
      return slot;
    }
  }
}

function persistKey(k: CtKey, svcId: number): string {
  return `${k.family}/${k.saddr.toString('hex')}/${svcId}`;
}

/** Persistence first (a usable remembered slot within the timeout), else the algorithm. */
export function selectEndpoint(t: Tables, svc: SvcEntry, k: CtKey, now: bigint, rand: () => number): number {
  if ((svc.flags & SVC_F_PERSIST) === 0) return selectByAlgo(t, svc, k, rand);
  const pk = persistKey(k, svc.id);
  const cur = t.persist.get(pk);
  if (
    cur !== undefined &&
    now - cur.lastNs <= BigInt(svc.persistTimeoutS) * NSEC_PER_SEC &&
    cur.slot < svc.epCount &&
    usable(t.endpoint(svc.id, svc.gen, cur.slot), k.family)
  ) {
    cur.lastNs = now;
    return cur.slot;
  }
  const slot = selectByAlgo(t, svc, k, rand);
  if (slot === NO_SLOT) return slot;
  t.persist.set(pk, { lastNs: now, slot });
  return slot;
}

/** Least-connection bookkeeping: +1 when a counted flow is created, -1 when it closes. */
export function lcAdd(t: Tables, svcId: number, slot: number, delta: number): void {
  if (slot >= MAX_EP) return;
  const idx = svcId * MAX_EP + slot;
  t.epConns.set(idx, (t.epConns.get(idx) ?? 0) + delta);
}

/** A seeded PRNG (xorshift32) for the `random` algorithm: deterministic, compared by distribution only. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 0x2545f491;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
