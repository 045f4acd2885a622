import test from 'ava';
import { MAGLEV_NATIVE_MAX_MEMBERS, maglevFillNative } from './index.ts';
import { BpfError } from './errors.ts';
import { MaglevTables, maglevMembers, maglevTable } from '../controller/lookup-tables.ts';
import type { DpEndpoint } from '../controller/datapath.ts';
import { EMPTY_SLOT } from '../controller/datapath.ts';

/** A deterministic generator, so a failing round can be replayed. */
function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
}

/** The addon's table of `slots`: the reference's members, the C fill. */
function nativeTable(slots: readonly DpEndpoint[], m: number): Uint8Array {
  const members = new Float64Array(Math.max(1, slots.length) * 4);
  const k = maglevMembers(slots, m, members);
  // One byte past m, to see nothing is written there.
  const out = new Uint8Array(m + 1).fill(0xee);
  maglevFillNative(m, members, k, out);
  if (out[m] !== 0xee) throw new Error(`the native fill wrote past position ${m - 1}`);
  return out.subarray(0, m);
}

test('native Maglev fill equals the TypeScript one byte for byte: random endpoint sets, weights, holes, inactive slots, sizes', (t) => {
  const rnd = lcg(20261202);
  let weighted = 0;
  for (let round = 0; round < 400; round++) {
    const m = [2, 3, 13, 251, 1031, 4099, 65537][round % 7] as number;
    const n = rnd(5) === 0 ? rnd(3) : 1 + rnd(64);
    const unequal = round % 2 === 1;
    const slots: DpEndpoint[] = Array.from({ length: n }, (_, i) =>
      rnd(10) === 0
        ? EMPTY_SLOT
        : {
            ip: rnd(4) === 0 ? `fd00::${(1 + rnd(0xfffe)).toString(16)}` : `198.18.${rnd(256)}.${1 + rnd(254)}`,
            port: rnd(3) === 0 ? 0 : 1 + rnd(65535),
            weight: unequal ? 1 + (rnd(4) === 0 ? rnd(65535) : rnd(7)) : 1 + (round % 5),
            active: rnd(8) !== 0 || i === 0,
          },
    );
    if (unequal && new Set(slots.filter((e) => e.ip !== '' && e.active).map((e) => e.weight)).size > 1) weighted++;
    const ts = maglevTable(slots, m);
    const c = nativeTable(slots, m);
    // Compared whole: a mismatch names the first differing position.
    const first = ts.findIndex((v, i) => v !== c[i]);
    t.is(first, -1, `round ${round}, m ${m}, ${n} slots: position ${first} TS ${ts[first]} native ${c[first]}`);
  }
  t.true(weighted > 100, `${weighted} rounds with unequal weights`);
});

test('native Maglev fill: no member writes m zeros; a single member takes every position', (t) => {
  const out = new Uint8Array(13).fill(9);
  maglevFillNative(13, new Float64Array(0), 0, out);
  t.deepEqual([...out], new Array<number>(13).fill(0));
  maglevFillNative(13, Float64Array.from([5, 3, 7, 1]), 1, out);
  t.deepEqual([...out], new Array<number>(13).fill(7));
});

test('native Maglev fill refuses what would not terminate or would write out of bounds, saying what is allowed', (t) => {
  const out = new Uint8Array(4099);
  const one = Float64Array.from([0, 1, 0, 1]);
  const e = t.throws(() => maglevFillNative(4096, one, 1, out), { instanceOf: BpfError });
  t.regex(e.message, /prime/);
  t.throws(() => maglevFillNative(4099, one, 1, new Uint8Array(4098)), { instanceOf: RangeError, message: /holds 4098/ });
  t.throws(() => maglevFillNative(4099, one, 2, out), { instanceOf: RangeError, message: /4 per member/ });
  t.throws(() => maglevFillNative(4099, new Float64Array(4 * 300), MAGLEV_NATIVE_MAX_MEMBERS + 1, out), { instanceOf: RangeError });
  for (const bad of [
    [4099, 1, 0, 1], // first position not below m
    [0, 0, 0, 1], // skip 0: one position forever
    [0, 4099, 0, 1], // skip m: likewise
    [0, 1, 256, 1], // slot beyond a byte
    [0, 1, 0, 0], // weight 0 never takes a turn
    [0.5, 1, 0, 1],
    [Number.NaN, 1, 0, 1],
  ])
    t.throws(() => maglevFillNative(4099, Float64Array.from(bad), 1, out), { instanceOf: BpfError }, JSON.stringify(bad));
});

test('MaglevTables with the native fill: equal to maglevTable, cached by members, nothing written past m', (t) => {
  const cache = new MaglevTables(4099, 2, maglevFillNative);
  const rnd = lcg(7);
  const sets = Array.from({ length: 3 }, () =>
    Array.from({ length: 8 }, (): DpEndpoint => ({ ip: `198.18.3.${1 + rnd(254)}`, port: 8080, weight: 1 + rnd(3), active: true })),
  );
  const out = new Uint8Array(4160);
  for (const s of [sets[0], sets[0], sets[1], sets[2], sets[0]] as DpEndpoint[][]) {
    cache.fill(s, out);
    t.deepEqual(Uint32Array.from(out.subarray(0, 4099)), maglevTable(s, 4099));
    t.true(out.subarray(4099).every((b) => b === 0));
  }
  // 0 built, 0 again (hit), 1, 2 (0 dropped: two places), 0 built again.
  t.deepEqual(cache.stats, { hits: 1, builds: 4 });
});
