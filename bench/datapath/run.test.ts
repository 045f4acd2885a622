// The datapath bench's smoke (root: BPF_PROG_TEST_RUN in a throwaway namespace): the `--quick`
// run as `xlb bench --suite datapath --quick` does it, and the paired A/B mode (two object
// sets loaded side by side, measured in the same rounds).
import test from 'ava';
import path from 'node:path';
import { CASES, formatBench, QUICK, runDatapathBench } from './run.ts';
import { ROOT } from '../../src/root.ts';

const root = process.getuid?.() === 0;
const maybe = root ? test.serial : test.skip;

maybe('datapath bench --quick: every case at both hooks took its path, ratios to the empty program, no B side', async (t) => {
  const b = await runDatapathBench(QUICK);
  t.deepEqual(
    b.results.map((r) => r.hook),
    ['tc', 'xdp'],
  );
  for (const r of b.results) {
    t.is(r.b, undefined);
    for (const c of CASES) {
      t.true(r.ns[c] > 0, `${r.hook} ${c}: ${r.ns[c]} ns`);
      t.is(r.ratio[c], r.ns[c] / r.ns.empty);
    }
    // the floor programs returned pass: every lookup found what it should, every insert landed
    // (the bench itself also counts the entries each floor row left in its map)
    for (const c of ['floor_hit', 'floor_miss', 'floor_insert', 'floor_insert2'] as const)
      t.is(r.verdicts[c], r.hook === 'xdp' ? 2 : 0, `${r.hook} ${c}: retval ${r.verdicts[c]}`);
    // a new flow (conntrack miss, tail call, two inserts) costs more than an established packet
    t.true(r.ns.new_flow > r.ns.established, `${r.hook}: new flow ${r.ns.new_flow} ns, established ${r.ns.established} ns`);
  }
  const text = formatBench(b);
  t.notRegex(text, /B\/A|paired/);
  t.regex(text, /established_fib/);
  t.regex(text, /floor_insert2/);
});

maybe('datapath bench A/B: both sets measured in the same rounds, B/A is the median of the paired per-round ratios', async (t) => {
  const objects = path.join(ROOT, 'build', 'bpf');
  const b = await runDatapathBench({
    ...QUICK,
    n: 1000,
    hooks: ['tc'],
    cases: ['established', 'new_flow'],
    objectDir: objects,
    objectDirB: objects,
  });
  const r = b.results[0];
  if (r?.b === undefined) throw new Error('no B side in a paired run');
  t.is(b.objectDirB, objects);
  for (const c of ['empty', 'established', 'new_flow'] as const) {
    t.true(r.b.ns[c] > 0 && r.ns[c] > 0);
    const [lo, hi] = r.b.bOverARange[c];
    t.true(lo <= r.b.bOverA[c] && r.b.bOverA[c] <= hi, `${c}: ${lo} ≤ ${r.b.bOverA[c]} ≤ ${hi}`);
    // the same objects: the paired ratio is near 1 (loose: a shared machine)
    t.true(r.b.bOverA[c] > 0.5 && r.b.bOverA[c] < 2, `${c}: B/A ${r.b.bOverA[c]}`);
  }
  // both sides share the one empty program of the round
  t.is(r.b.ns.empty, r.ns.empty);
  t.is(r.b.bOverA.empty, 1);
  // cases not asked for are not measured
  t.false('reply' in r.b.ns);
  t.is(r.b.programs.length, 2);
  const text = formatBench(b);
  t.regex(text, /paired A\/B/);
  t.regex(text, /new_flow +[\d.]+ +[\d.]+ +[\d.]+x +[\d.]+x +[\d.]+ \(/);
});
