// The differential comparison: identical digests agree, and a difference is named by its path
// with both sides, at the level the pair of backends allows.
import test from 'ava';
import { compareDigests, diffValues } from './differential.ts';
import type { Digest } from './differential.ts';

const digest = (frames: string[], newFlows: number): Digest => ({
  strict: { links: { 'b1/backends': frames }, reasons: { new_flow: newFlows } },
  semantic: { traffic: [{ connections: 3, ok: 3, errors: 0 }], newFlows },
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
