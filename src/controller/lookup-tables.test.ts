import test from 'ava';
import { MaglevTables, hash32, isPrime, maglevTable, wrrSchedule } from './lookup-tables.ts';
import type { DpEndpoint } from './datapath.ts';
import { EMPTY_SLOT } from './datapath.ts';

const ep = (n: number, weight = 1, active = true): DpEndpoint => ({ ip: `198.18.2.${n}`, port: 80, weight, active });
const counts = (t: Uint32Array): Map<number, number> => {
  const m = new Map<number, number>();
  for (const s of t) m.set(s, (m.get(s) ?? 0) + 1);
  return m;
};

test('maglev: every position filled, near-even shares, only active slots', (t) => {
  const slots = [ep(1), ep(2), EMPTY_SLOT, ep(4), ep(5, 1, false), ep(6)];
  const table = maglevTable(slots, 4099);
  const c = counts(table);
  t.deepEqual([...c.keys()].sort(), [0, 1, 3, 5]);
  for (const n of c.values()) t.true(Math.abs(n - 4099 / 4) < 4099 * 0.02, `share ${n}`);
});

test('maglev: removing 1 of 5 endpoints moves few positions that did not belong to it', (t) => {
  const five = [ep(1), ep(2), ep(3), ep(4), ep(5)];
  const before = maglevTable(five, 4099);
  const after = maglevTable([ep(1), ep(2), { ...ep(3), active: false }, ep(4), ep(5)], 4099);
  let moved = 0;
  for (let i = 0; i < before.length; i++) if (before[i] !== 2 && before[i] !== after[i]) moved++;
  t.true(moved / 4099 < 0.1, `${moved} positions of surviving endpoints moved`);
  t.false(after.includes(2));
});

test('maglev: weights give proportional shares; deterministic', (t) => {
  const table = maglevTable([ep(1, 1), ep(2, 3)], 4099);
  const c = counts(table);
  t.true(Math.abs((c.get(1) ?? 0) / 4099 - 0.75) < 0.02);
  t.deepEqual(maglevTable([ep(1, 1), ep(2, 3)], 4099), table);
  t.throws(() => maglevTable([ep(1)], 4096), { message: /not a prime/ });
  t.true(isPrime(4099) && isPrime(65537) && !isPrime(4097));
  t.not(hash32('a', 1), hash32('a', 2));
});

test('wrr: smooth schedule in proportion to weights, reduced by gcd, capped', (t) => {
  t.deepEqual([...wrrSchedule([ep(1, 5), ep(2, 1), ep(3, 1)], 100)], [0, 0, 1, 0, 2, 0, 0]);
  t.deepEqual([...wrrSchedule([ep(1, 2), ep(2, 4)], 100)], [1, 0, 1]);
  t.deepEqual([...wrrSchedule([ep(1, 2, false), EMPTY_SLOT], 100)], []);
  const big = wrrSchedule([ep(1, 60000), ep(2, 1)], 4099);
  t.true(big.length <= 4099);
  t.true(big.includes(1));
});

/** The builder as the paper writes it ((offset + j·skip) mod m per probe), the oracle for the fast one. */
function maglevReference(slots: DpEndpoint[], m: number): Uint32Array {
  const table = new Uint32Array(m);
  const members = slots.map((e, slot) => ({ e, slot })).filter(({ e }) => e.active && e.ip !== '' && e.weight > 0);
  if (members.length === 0) return table;
  const maxW = Math.max(...members.map(({ e }) => e.weight));
  const st = members.map(({ e, slot }) => ({
    slot,
    w: e.weight,
    off: hash32(`${e.ip}#${e.port}`, 0x5bd1e995) % m,
    skip: (hash32(`${e.ip}#${e.port}`, 0x27d4eb2f) % (m - 1)) + 1,
    j: 0,
    credit: 0,
  }));
  const filled = new Array<boolean>(m).fill(false);
  let n = 0;
  while (n < m) {
    for (const s of st) {
      s.credit += s.w;
      if (s.credit < maxW) continue;
      s.credit -= maxW;
      let c = (s.off + s.j * s.skip) % m;
      while (filled[c]) c = (s.off + ++s.j * s.skip) % m;
      filled[c] = true;
      table[c] = s.slot;
      s.j++;
      if (++n === m) break;
    }
  }
  return table;
}

test('maglev: the fast builder equals the paper-form reference (random sets, weights, holes, sizes)', (t) => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let round = 0; round < 60; round++) {
    const m = [13, 251, 4099][round % 3] as number;
    const slots: DpEndpoint[] = Array.from({ length: 1 + rnd(64) }, (_, i) =>
      rnd(10) === 0
        ? EMPTY_SLOT
        : { ip: `198.18.${rnd(4)}.${1 + rnd(250)}`, port: 80 + i, weight: round % 2 === 0 ? 1 : 1 + rnd(5), active: rnd(8) !== 0 },
    );
    t.deepEqual(maglevTable(slots, m), maglevReference(slots, m), `round ${round}, m ${m}`);
  }
});

test('MaglevTables: a cached table equals a built one; any change of slot, address, port, weight or activity builds anew; bounded', (t) => {
  const cache = new MaglevTables(4099, 4);
  const out = new Uint8Array(4160).fill(0);
  const five = [ep(1), ep(2), ep(3), ep(4), ep(5)];
  const variants: DpEndpoint[][] = [
    five,
    [ep(1), ep(2), EMPTY_SLOT, ep(4), ep(5)],
    [ep(1), ep(2), ep(3), ep(4), ep(5, 2)],
    [ep(1), ep(2), ep(3), ep(4), { ...ep(5), port: 81 }],
    [ep(1), ep(2), ep(3), ep(4), ep(5, 1, false)],
    [ep(2), ep(1), ep(3), ep(4), ep(5)],
  ];
  for (const v of [...variants, ...variants]) {
    cache.fill(v, out);
    t.deepEqual(Uint32Array.from(out.subarray(0, 4099)), maglevTable(v, 4099));
    t.true(
      out.subarray(4099).every((b) => b === 0),
      'nothing written past m',
    );
  }
  // Six distinct sets through four places, oldest dropped first: in the second round each set
  // was dropped before it came again, so every fill built; the set just built is then a hit.
  t.is(cache.stats.builds, 12);
  cache.fill(variants[5] as DpEndpoint[], out);
  t.is(cache.stats.hits, 1);
  t.deepEqual(Uint32Array.from(out.subarray(0, 4099)), maglevTable(variants[5] as DpEndpoint[], 4099));
  // No active member: all zero, like maglevTable.
  out.fill(7, 0, 4099);
  cache.fill([EMPTY_SLOT, ep(1, 1, false)], out);
  t.true(out.subarray(0, 4099).every((b) => b === 0));
});
