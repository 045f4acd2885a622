// The differential comparison: identical digests agree, and a difference is named by its path
// with both sides, at the level the pair of backends allows.
import test from 'ava';
import { compareDigests, diffValues, expiryHints } from './differential.ts';
import type { Digest } from './differential.ts';

const digest = (frames: string[], newFlows: number): Digest => ({
  strict: { links: { 'b1/backends': frames }, reasons: { new_flow: newFlows } },
  semantic: { traffic: [{ connections: 3, ok: 3, errors: 0 }], finalStates: {}, newFlows, drops: {} },
});

test('diffValues names each differing path with both values', (t) => {
  t.deepEqual(diffValues({ a: [1, 2], b: 'x' }, { a: [1, 2], b: 'x' }), []);
  t.deepEqual(diffValues({ a: [1, 2], b: 'x' }, { a: [1, 3], b: 'y' }), ['a[1]: 2 vs 3', 'b: "x" vs "y"']);
  t.deepEqual(diffValues([1], [1, 2]), [': lengths 1 vs 2 (first extra at [1]: 2)']);
});

test('sim and prog are compared strictly, lab semantically against prog', (t) => {
  const same = compareDigests({ sim: digest(['aa'], 1), prog: digest(['aa'], 1), lab: digest(['cc', 'dd'], 1) });
  t.deepEqual(
    same.map((d) => [d.pair.join('-'), d.level, d.differences.length]),
    [
      ['sim-prog', 'strict', 0],
      ['prog-lab', 'semantic', 0],
    ],
    'lab captures differ but are not compared',
  );
  const broken = compareDigests({ sim: digest(['aa'], 1), prog: digest(['ab'], 1) });
  t.deepEqual(broken[0]?.differences, ['links.b1/backends[0]: "aa" vs "ab"']);
  const labDiff = compareDigests({ sim: digest(['aa'], 1), lab: digest(['aa'], 2) });
  t.deepEqual(labDiff[0]?.pair, ['sim', 'lab']);
  t.deepEqual(labDiff[0]?.differences, ['newFlows: 1 vs 2']);
});

test('a lab run longer than a state timeout explains fewer flows in that state, and only then', (t) => {
  const prog = { UDP_SEEN: 60 };
  const lab = { UDP_SEEN: 52 };
  const hints = expiryHints(prog, lab, 40_300, {});
  t.is(hints.length, 1);
  t.regex(hints[0] ?? '', /ran 40\.3 s, longer than the UDP_SEEN timeout \(30 s\): 8 flow\(s\)/);
  t.deepEqual(expiryHints(prog, lab, 25_000, {}), [], 'shorter than the default 30 s');
  t.deepEqual(expiryHints(prog, lab, 40_300, { UDP_SEEN: 600 }), [], "the scenario's own timeout counts");
  t.deepEqual(expiryHints(lab, prog, 40_300, {}), [], 'more on the lab is not expiry');
  t.is(expiryHints({ ICMP_REQUEST: 3 }, {}, 31_000, {}).length, 1, 'a state gone from the lab entirely');
  t.deepEqual(expiryHints({ ESTABLISHED: 3 }, {}, 40_300, {}), [], 'ESTABLISHED outlives the run (7440 s)');
});
