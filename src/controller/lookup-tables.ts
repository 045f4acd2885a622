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
export function maglevTable(slots: DpEndpoint[], m: number): Uint32Array {
  if (!isPrime(m)) throw new RangeError(`Maglev table size ${m} is not a prime`);
  const table = new Uint32Array(m);
  const members = slots.map((e, slot) => ({ e, slot })).filter(({ e }) => e.active && e.ip !== '' && e.weight > 0);
  if (members.length === 0) return table;
  const k = members.length;
  const filled = new Uint8Array(m);
  const maxW = Math.max(...members.map(({ e }) => e.weight));
  // Typed arrays, no per-endpoint objects: this runs once per change of a service.
  const slot = new Uint32Array(k);
  const weight = new Uint32Array(k);
  const offset = new Uint32Array(k);
  const skip = new Uint32Array(k);
  const next = new Uint32Array(k);
  const credit = new Float64Array(k);
  members.forEach(({ e, slot: s }, i) => {
    const id = `${e.ip}#${e.port}`;
    slot[i] = s;
    weight[i] = e.weight;
    offset[i] = hash32(id, 0x5bd1e995) % m;
    skip[i] = (hash32(id, 0x27d4eb2f) % (m - 1)) + 1;
  });
  // Each member's next preferred position, advanced by its skip (mod m) without a division:
  // the same sequence as (offset + j·skip) mod m, at a fraction of the cost (this loop runs
  // about m·ln(m) times per table, for every service of a 10,000-service load).
  for (let i = 0; i < k; i++) next[i] = offset[i] as number;
  let n = 0;
  const equal = members.every(({ e }) => e.weight === maxW);
  while (n < m) {
    for (let i = 0; i < k; i++) {
      if (!equal) {
        credit[i] = (credit[i] as number) + (weight[i] as number);
        if ((credit[i] as number) < maxW) continue;
        credit[i] = (credit[i] as number) - maxW;
      }
      const sk = skip[i] as number;
      let c = next[i] as number;
      while (filled[c] === 1) {
        c += sk;
        if (c >= m) c -= m;
      }
      filled[c] = 1;
      table[c] = slot[i] as number;
      c += sk;
      next[i] = c >= m ? c - m : c;
      if (++n === m) break;
    }
  }
  return table;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Smooth weighted round-robin schedule over the active slots, at most maxLen long. */
export function wrrSchedule(slots: DpEndpoint[], maxLen: number): Uint32Array {
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
