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
//   startup   `xlb --help` and `xlb agent` to a listening API vs `node -e 0`   bench/startup/run.ts
// Every run also writes reports/bench/<timestamp>/ (or --out DIR): bench.json (environment and
// results), report.md and SVG charts (bench/report.ts); a full run of lab or harness rewrites the
// README's bench block.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { act, CliError, command, integer, listOf, runCommand } from '../src/cli-kit.ts';
import { ROOT } from '../src/root.ts';
import type { BenchReport } from './report.ts';

// Each suite's module is imported when it runs, so `xlb bench --help` loads none of them.
const SUITES = ['startup', 'binding', 'datapath', 'control', 'topology', 'lab', 'harness'] as const;
type Suite = (typeof SUITES)[number];

interface Opts {
  suite?: Suite[];
  quick?: boolean;
  out?: string;
  rounds?: number;
  xlb?: string;
}

function writeJson(dir: string | undefined, suite: Suite, value: unknown): void {
  if (dir === undefined) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${suite}.json`), `${JSON.stringify(value, null, 2)}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const cmd = command(
    'bench',
    "Runs the performance suites (default: all) and prints each one's numbers beside the baseline measured in the same run.",
  )
    .option('-s, --suite <list>', `suites to run, comma-separated: ${SUITES.join(', ')} (default: all)`, listOf(SUITES))
    .option('-q, --quick', 'fewer iterations and sizes (a smoke run; the numbers are noisier)')
    .option(
      '-o, --out <dir>',
      'where the report goes: DIR/<suite>.json, bench.json, report.md, charts (default reports/bench/<timestamp>/)',
    )
    .option('--rounds <n>', 'startup: rounds, the median is reported (default 10; 3 with --quick)', integer(1, 1000))
    .option('--xlb <file>', "startup: the launcher to measure (another checkout's xlb, to compare; default this one)");
  act(cmd, () => run(cmd.opts<Opts>(), argv));
  return runCommand(cmd, argv);
}

async function run(o: Opts, argv: string[]): Promise<number> {
  const wanted = o.suite ?? [...SUITES];
  if (process.getuid?.() !== 0) {
    throw new CliError('needs root (it loads BPF programs and creates network namespaces); run it as root.');
  }
  const quick = o.quick === true;
  const { defaultReportDir, environment, writeBenchReport } = await import('./report.ts');
  const out = o.out ?? defaultReportDir();
  const report: BenchReport = { command: ['xlb bench', ...argv].join(' '), quick, environment: await environment(), other: {} };
  for (const suite of wanted) {
    console.log(`\n== ${suite} ==`);
    switch (suite) {
      case 'startup': {
        const { formatStartup, runStartupBench } = await import('./startup/run.ts');
        const r = await runStartupBench({
          rounds: o.rounds ?? (quick ? 3 : 10),
          ...(o.xlb !== undefined ? { xlb: path.resolve(o.xlb) } : {}),
        });
        console.log(formatStartup(r));
        writeJson(out, suite, r);
        report.other[suite] = { result: r, text: formatStartup(r) };
        break;
      }
      case 'binding': {
        const { formatResult, runBindingBench } = await import('./binding/run.ts');
        const r = await runBindingBench(quick ? { n: 1000, passes: 3 } : {});
        console.log(formatResult(r));
        writeJson(out, suite, r);
        report.other[suite] = { result: r, text: formatResult(r) };
        break;
      }
      case 'datapath': {
        const { formatBench, QUICK, runDatapathBench } = await import('./datapath/run.ts');
        const r = await runDatapathBench(quick ? QUICK : {});
        console.log(formatBench(r));
        writeJson(out, suite, r);
        report.other[suite] = { result: r, text: formatBench(r) };
        break;
      }
      case 'control': {
        const { formatControlBench, parseControlArgs, runControlBench } = await import('./control/run.ts');
        const co = parseControlArgs(quick ? ['--quick'] : []);
        if (co === 'help') return 2;
        const r = await runControlBench({ ...co, log: (l) => console.log(l) });
        const text = formatControlBench(r);
        console.log(text);
        writeJson(out, suite, r);
        report.other[suite] = { result: r, text };
        break;
      }
      case 'topology': {
        const [{ timeUpDown }, { builtinTopology }] = await Promise.all([
          import('../lab/updown-bench.ts'),
          import('../src/topology/builtins.ts'),
        ]);
        const runs = quick ? 3 : 10;
        const spec = builtinTopology('two-arm', { clients: 1, backends: 3 });
        const r = await timeUpDown(spec, runs);
        const text = `two-arm, 1 client, 3 backends, ${runs} runs: up median ${r.upMedianMs.toFixed(1)} ms, down median ${r.downMedianMs.toFixed(1)} ms`;
        console.log(text);
        writeJson(out, suite, r);
        report.other[suite] = { result: r, text };
        break;
      }
      case 'lab': {
        const { formatLabBench, runLabBench } = await import('./lab/run.ts');
        const r = await runLabBench({ quick });
        console.log(formatLabBench(r));
        writeJson(out, suite, r);
        report.lab = r;
        break;
      }
      case 'harness': {
        const { harnessMarkdown, runHarnessBench } = await import('./harness/run.ts');
        const r = await runHarnessBench({ quick });
        console.log(harnessMarkdown(r));
        writeJson(out, suite, r);
        report.harness = r;
        break;
      }
    }
  }
  const files = await writeBenchReport(out, report, quick ? {} : { readme: path.join(ROOT, 'README.md') });
  console.log(`\nreport: ${files.join(', ')}`);
  return 0;
}
