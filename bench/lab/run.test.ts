// The bench's smoke (in the test command): `xlb bench --suite lab,harness --quick` end to end,
// every LB configuration for real (1 s per figure), then the report it wrote. Needs root.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../cli.ts';
import type { BenchReport } from '../report.ts';
import { LB_CONFIGS } from './configs.ts';

const root = process.getuid?.() === 0;

(root ? test.serial : test.skip)(
  'xlb bench --suite lab,harness --quick: every configuration carries traffic, the report is written',
  async (t) => {
    t.timeout(110_000);
    const out = mkdtempSync(path.join(os.tmpdir(), 'xlb-bench-smoke-'));
    t.teardown(() => rmSync(out, { recursive: true, force: true }));
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    t.is(await main(['--suite', 'lab,harness', '--quick', '--out', out]), 0);
    const rep = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as BenchReport;
    const lab = rep.lab;
    if (lab === undefined) return t.fail('bench.json has no lab result');
    t.deepEqual(
      lab.configs.map((c) => c.config),
      [...LB_CONFIGS],
    );
    t.deepEqual(lab.failures, []);
    for (const s of lab.samples) {
      const what = `${s.config}: ${JSON.stringify({ ka: s.keepalive, close: s.close, udp: s.udp })}`;
      t.true(s.keepalive.requests > 100 && s.close.requests > 10, what);
      t.is(s.keepalive.non2xx + s.close.non2xx, 0, what);
      t.is(s.keepalive.errors.connect + s.close.errors.connect, 0, what);
      if (s.config === 'haproxy') t.is(s.udp, null);
      else t.true((s.udp?.delivered ?? 0) > 0, what);
    }
    const direct = lab.configs.find((c) => c.config === 'direct');
    t.is(direct?.vsDirect.rps, 1);
    t.is(lab.configs.find((c) => c.config === 'nft-dnat')?.vsNftDnat.cps, 1);
    t.truthy(rep.environment.kernel);
    t.regex(rep.environment.tools.wrk ?? '', /wrk/);
    const md = readFileSync(path.join(out, 'report.md'), 'utf8');
    for (const c of LB_CONFIGS) t.true(md.includes(`| **${c}** |`), c);
    t.regex(md, /vs nft-dnat \(aim ≥ 1\.3×\)/);
    t.regex(readFileSync(path.join(out, 'lab.svg'), 'utf8'), /^<svg[^>]*xmlns/);
    t.true(existsSync(path.join(out, 'harness.svg')));
    t.is(rep.harness?.suites[0]?.passed, 1, JSON.stringify(rep.harness?.suites));
    // A --quick run never rewrites the README's table.
    t.is(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'), readme);
  },
);
