// `xlb bench`: the performance suite as one command. Each suite measures against a baseline
// taken in the same run (raw C for the binding, the empty program for the datapath) and reports
// ratios, so numbers from a busy machine still compare. Results go to stdout and, with --out,
// to DIR/<suite>.json. Needs root (BPF and namespaces).
//
//   binding   µs per map op from TypeScript vs the same ops from C            bench/binding/run.ts
//   datapath  ns per packet (BPF_PROG_TEST_RUN) vs the empty program           bench/datapath/run.ts
//   control   time and memory to program N services × 8 endpoints, conntrack    bench/control/run.ts
//   topology  two-arm lab bring-up / teardown, median                          lab/updown-bench.ts
//   lab       xlb (TC, XDP) vs direct, nftables, nginx, HAProxy on one lab     bench/lab/run.ts
//   harness   topology up/down, scenario suite time per backend               bench/harness/run.ts
// Every run also writes reports/bench/<timestamp>/ (or --out DIR): bench.json (environment and
// results), report.md and SVG charts (bench/report.ts); a full run of lab or harness rewrites the
// README's bench block.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatResult, runBindingBench } from './binding/run.ts';
import { formatBench, runDatapathBench } from './datapath/run.ts';
import { formatControlBench, parseControlArgs, runControlBench } from './control/run.ts';
import { timeUpDown } from '../lab/updown-bench.ts';
import { builtinTopology } from '../lab/builtins.ts';
import { formatLabBench, runLabBench } from './lab/run.ts';
import { harnessMarkdown, runHarnessBench } from './harness/run.ts';
import { defaultReportDir, environment, writeBenchReport } from './report.ts';
import type { BenchReport } from './report.ts';

const SUITES = ['binding', 'datapath', 'control', 'topology', 'lab', 'harness'] as const;
type Suite = (typeof SUITES)[number];

const USAGE = `usage: xlb bench [--suite ${SUITES.join('|')}[,…]] [--quick] [--out DIR]

Runs the performance suites (default: all) and prints each one's numbers beside the baseline
measured in the same run. --quick: fewer iterations and sizes (a smoke run, numbers noisier).
--out DIR: where the report goes (default reports/bench/<timestamp>/): DIR/<suite>.json,
bench.json, report.md, charts.`;

function writeJson(dir: string | undefined, suite: Suite, value: unknown): void {
  if (dir === undefined) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${suite}.json`), `${JSON.stringify(value, null, 2)}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      suite: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const wanted = (values.suite ?? SUITES.join(',')).split(',').map((s) => s.trim());
  const unknown = wanted.filter((s) => !(SUITES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    console.error(`xlb bench: unknown suite ${unknown.map((s) => `'${s}'`).join(', ')}; suites: ${SUITES.join(', ')}\n\n${USAGE}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error('xlb bench: needs root (it loads BPF programs and creates network namespaces); run it as root.');
    return 1;
  }
  const quick = values.quick;
  values.out ??= defaultReportDir();
  const report: BenchReport = { command: ['xlb bench', ...argv].join(' '), quick, environment: await environment(), other: {} };
  for (const suite of wanted as Suite[]) {
    console.log(`\n== ${suite} ==`);
    switch (suite) {
      case 'binding': {
        const r = await runBindingBench(quick ? { n: 1000, passes: 3 } : {});
        console.log(formatResult(r));
        writeJson(values.out, suite, r);
        report.other[suite] = { result: r, text: formatResult(r) };
        break;
      }
      case 'datapath': {
        const r = await runDatapathBench(quick ? { n: 300, rounds: 3 } : {});
        console.log(formatBench(r));
        writeJson(values.out, suite, r);
        report.other[suite] = { result: r, text: formatBench(r) };
        break;
      }
      case 'control': {
        const o = parseControlArgs(quick ? ['--quick'] : []);
        if (o === 'help') return 2;
        const r = await runControlBench({ ...o, log: (l) => console.log(l) });
        const text = formatControlBench(r);
        console.log(text);
        writeJson(values.out, suite, r);
        report.other[suite] = { result: r, text };
        break;
      }
      case 'topology': {
        const runs = quick ? 3 : 10;
        const spec = builtinTopology('two-arm', { clients: 1, backends: 3 });
        const r = await timeUpDown(spec, runs);
        const text = `two-arm, 1 client, 3 backends, ${runs} runs: up median ${r.upMedianMs.toFixed(1)} ms, down median ${r.downMedianMs.toFixed(1)} ms`;
        console.log(text);
        writeJson(values.out, suite, r);
        report.other[suite] = { result: r, text };
        break;
      }
      case 'lab': {
        const r = await runLabBench({ quick });
        console.log(formatLabBench(r));
        writeJson(values.out, suite, r);
        report.lab = r;
        break;
      }
      case 'harness': {
        const r = await runHarnessBench({ quick });
        console.log(harnessMarkdown(r));
        writeJson(values.out, suite, r);
        report.harness = r;
        break;
      }
    }
  }
  const files = await writeBenchReport(values.out, report, quick ? {} : { readme: path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md') });
  console.log(`\nreport: ${files.join(', ')}`);
  return 0;
}
