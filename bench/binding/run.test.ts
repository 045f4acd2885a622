// The binding benchmark runs end to end (C baseline and TypeScript on one pinned map) and
// reports a positive time for every operation on both sides. Needs root. Timing ratios are
// not asserted here (a shared CI machine makes them noisy); see docs/bpf-binding.md.
import test from 'ava';
import { existsSync } from 'node:fs';
import { formatResult, runBindingBench } from './run.ts';

test('quick benchmark: every row measured on both sides, pins removed', async (t) => {
  const r = await runBindingBench({ n: 2000, batch: 128, passes: 2 });
  t.is(r.rows.length, 9);
  for (const row of r.rows) {
    t.true(row.c.min > 0 && row.ts.min > 0, `${row.op}: ${JSON.stringify(row)}`);
    t.true(Number.isFinite(row.ratioMedian));
  }
  t.regex(formatResult(r), /lookupUs/);
  t.regex(r.pinDir, /^\/sys\/fs\/bpf\/xlb\/bench-[0-9a-f]{8}$/);
  t.false(existsSync(r.pinDir));
});
