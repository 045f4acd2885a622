// Derived per-generation tables the datapath's selection reads (xlb_sched):
// - Maglev (Eisenbud et al., NSDI 2016): a table of M (prime) positions → endpoint slot, filled
//   by each endpoint's permutation (offset + j·skip mod M) so that removing one of n endpoints
//   moves only about 1/n of the positions. Weighted: an endpoint takes turns in proportion to its
//   weight (credit accumulation, one position per full credit).
// - WRR: a smooth weighted round-robin schedule (the sequence nginx's smooth WRR produces),
//   weights reduced by their gcd and scaled to fit the table.
// Only active slots take part. Both builders are pure and deterministic: the kernel datapath
// and the sim model derive identical tables from identical slots.
import type { DpEndpoint } from './datapath.ts';

/** 32-bit FNV-1a of a string with a seed, then a murmur3 finalizer for avalanche. */
export function hash32(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev lookup table of size m (prime) over the active slots: position → slot index.
 * With no active slot, every position holds slot 0 (the datapath's probe then finds no usable
 * endpoint and counts "no endpoint").
 */
export function maglevTable(slots: readonly DpEndpoint[], m: number): Uint32Array {
  return maglevFill(slots, m, new Uint32Array(m));
}

/**
 * The members of a Maglev table over the active slots, in turn order, into `members`: 4 numbers
 * each, [first position (< m), skip (1..m-1), slot, weight]; returns their count. What the fill
 * reads, and all it reads: two endpoint sets with the same members have the same table. m must
 * be a prime > 1 (not checked here); members must hold 4 × slots.length numbers.
 */
export function maglevMembers(slots: readonly DpEndpoint[], m: number, members: Float64Array): number {
  let k = 0;
  for (let s = 0; s < slots.length; s++) {
    const e = slots[s] as DpEndpoint;
    if (!e.active || e.ip === '' || e.weight <= 0) continue;
    const id = `${e.ip}#${e.port}`;
    members[k * 4] = hash32(id, 0x5bd1e995) % m;
    members[k * 4 + 1] = (hash32(id, 0x27d4eb2f) % (m - 1)) + 1;
    members[k * 4 + 2] = s;
    members[k * 4 + 3] = e.weight;
    k++;
  }
  return k;
}

/** A fill of k members (maglevMembers' layout) into out[0..m-1]: maglevFillMembers, or the addon's port of it. */
export type MaglevMemberFill = (m: number, members: Float64Array, k: number, out: Uint8Array) => void;

// Scratch arrays of the builder, grown on demand and reused: a 10,000-service load builds
// 10,000 tables, and fresh arrays per table were most of what the garbage collector did.
let cap = 0;
let mMembers = new Float64Array(0);
let mWeight = new Float64Array(0);
let mSkip = new Int32Array(0);
let mNext = new Int32Array(0);
let mCredit = new Float64Array(0);
let filled = new Uint8Array(0);

function grow(n: number): void {
  if (cap >= n) return;
  cap = n;
  mMembers = new Float64Array(cap * 4);
  mWeight = new Float64Array(cap);
  mSkip = new Int32Array(cap);
  mNext = new Int32Array(cap);
  mCredit = new Float64Array(cap);
}

/**
 * maglevTable into `out` (positions 0..m-1; nothing past them is written), for callers that
 * reuse one buffer per table (the kernel adapter writes it straight into the mmapped map).
 * Slots are < 64, so a Uint8Array holds a table.
 */
export function maglevFill<T extends Uint8Array | Uint32Array>(slots: readonly DpEndpoint[], m: number, out: T): T {
  if (!isPrime(m)) throw new RangeError(`Maglev table size ${m} is not a prime`);
  if (out.length < m) throw new RangeError(`Maglev table of ${m} positions: the output holds ${out.length}`);
  grow(slots.length);
  const k = maglevMembers(slots, m, mMembers);
  return maglevFillMembers(m, mMembers, k, out);
}

/**
 * The fill itself, from maglevMembers' output: members take turns, each taking its next
 * preferred position that is still free (first, first + skip, … mod m); with unequal weights a
 * member takes a position per full credit (its weight accumulates, a position costs the largest
 * weight). The reference for the addon's port (src/bpf/native/maglev.c).
 */
export function maglevFillMembers<T extends Uint8Array | Uint32Array>(m: number, members: Float64Array, k: number, out: T): T {
  if (k === 0) {
    out.fill(0, 0, m);
    return out;
  }
  grow(k);
  const weight = mWeight;
  const skip = mSkip;
  const next = mNext;
  const credit = mCredit;
  let maxW = 0;
  let equal = true;
  for (let i = 0; i < k; i++) {
    // Each member's next preferred position starts at its offset and advances by its skip
    // (mod m) without a division: the same sequence as (offset + j·skip) mod m.
    next[i] = members[i * 4] as number;
    skip[i] = members[i * 4 + 1] as number;
    const w = members[i * 4 + 3] as number;
    weight[i] = w;
    credit[i] = 0;
    if (i > 0 && w !== maxW) equal = false;
    if (w > maxW) maxW = w;
  }
  if (filled.length < m) filled = new Uint8Array(m);
  else filled.fill(0, 0, m);
  const f = filled;
  // The probe loop runs about m·ln(m)/2 times per table, for every service of a load: equal
  // weights (the common case) take turns without the credit bookkeeping.
  let n = 0;
  for (;;) {
    for (let i = 0; i < k; i++) {
      if (!equal) {
        const cr = (credit[i] as number) + (weight[i] as number);
        if (cr < maxW) {
          credit[i] = cr;
          continue;
        }
        credit[i] = cr - maxW;
      }
      const sk = skip[i] as number;
      let c = next[i] as number;
      while (f[c] !== 0) {
        c += sk;
        if (c >= m) c -= m;
      }
      f[c] = 1;
      out[c] = members[i * 4 + 2] as number;
      c += sk;
      next[i] = c >= m ? c - m : c;
      if (++n === m) return out;
    }
  }
}

/** One cached table: its members (what it was built from) and its m positions. */
interface CachedTable {
  hash: number;
  k: number;
  members: Float64Array;
  table: Uint8Array;
}

/**
 * Maglev tables by their members, for the kernel adapter: services behind the same pool (many
 * VIPs or ports on the same backends) have the same active members in the same slots, hence the
 * same table, and a hit is a 4 KB copy instead of a build. Keyed by maglevMembers' output
 * (first position, skip, slot and weight of each active slot: all the fill reads), hashed to a
 * number and compared exactly; at most `limit` tables (4 KB each at m = 4099), the oldest
 * dropped first and its buffers reused (no allocation per table once full). A miss costs the
 * members (two hashes per endpoint) and the hash. `fill` builds a table: by default the
 * TypeScript maglevFillMembers; the kernel adapter passes the addon's port.
 */
export class MaglevTables {
  readonly m: number;
  readonly limit: number;
  private readonly build: MaglevMemberFill;
  private readonly tables = new Map<number, CachedTable>();
  private members = new Float64Array(64 * 4);
  readonly stats = { hits: 0, builds: 0 };

  constructor(m: number, limit = 1024, fill: MaglevMemberFill = maglevFillMembers) {
    if (!isPrime(m)) throw new RangeError(`Maglev table size ${m} is not a prime`);
    this.m = m;
    this.limit = limit;
    this.build = fill;
  }

  /** The table of `slots` into out's first m positions (nothing past them is written). */
  fill(slots: readonly DpEndpoint[], out: Uint8Array): Uint8Array {
    if (out.length < this.m) throw new RangeError(`Maglev table of ${this.m} positions: the output holds ${out.length}`);
    if (this.members.length < slots.length * 4) this.members = new Float64Array(slots.length * 4);
    const mem = this.members;
    const k = maglevMembers(slots, this.m, mem);
    let h = 0x811c9dc5 ^ k;
    for (let i = 0; i < k * 4; i++) h = Math.imul(h ^ ((mem[i] as number) | 0), 0x01000193);
    const hit = this.tables.get(h);
    if (hit !== undefined && hit.k === k && sameMembers(hit.members, mem, k)) {
      this.stats.hits++;
      out.set(hit.table);
      return out;
    }
    this.build(this.m, mem, k, out);
    this.stats.builds++;
    // Another set with the same hash (or this one's older entry) gives way to this one.
    let entry = hit;
    if (entry !== undefined) this.tables.delete(h);
    else if (this.tables.size >= this.limit) {
      const oldest = this.tables.values().next().value as CachedTable;
      this.tables.delete(oldest.hash);
      entry = oldest;
    }
    if (entry === undefined || entry.members.length < k * 4) {
      entry = { hash: h, k, members: new Float64Array(Math.max(k, 8) * 4), table: entry?.table ?? new Uint8Array(this.m) };
    }
    entry.hash = h;
    entry.k = k;
    entry.members.set(mem.subarray(0, k * 4));
    entry.table.set(out.subarray(0, this.m));
    this.tables.set(h, entry);
    return out;
  }
}

function sameMembers(a: Float64Array, b: Float64Array, k: number): boolean {
  for (let i = 0; i < k * 4; i++) if (a[i] !== b[i]) return false;
  return true;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Smooth weighted round-robin schedule over the active slots, at most maxLen long. */
export function wrrSchedule(slots: readonly DpEndpoint[], maxLen: number): Uint32Array {
  const members = slots.map((e, slot) => ({ e, slot })).filter(({ e }) => e.active && e.ip !== '' && e.weight > 0);
  if (members.length === 0) return new Uint32Array(0);
  const g = members.reduce((acc, { e }) => gcd(acc, e.weight), 0);
  let weights = members.map(({ e }) => e.weight / g);
  let total = weights.reduce((a, b) => a + b, 0);
  if (total > maxLen) {
    // Scale down, keeping every member at least 1 (proportions approximate, order preserved).
    const scale = (maxLen - members.length) / total;
    weights = weights.map((w) => 1 + Math.floor(w * scale));
    total = weights.reduce((a, b) => a + b, 0);
  }
  const out = new Uint32Array(total);
  const current = new Array<number>(members.length).fill(0);
  for (let i = 0; i < total; i++) {
    let best = 0;
    for (let j = 0; j < members.length; j++) {
      current[j] = (current[j] as number) + (weights[j] as number);
      if ((current[j] as number) > (current[best] as number)) best = j;
    }
    current[best] = (current[best] as number) - total;
    out[i] = (members[best] as { slot: number }).slot;
  }
  return out;
}
