// `xlb bench`: the performance suite as one command. Each suite measures against a baseline
// taken in the same run (raw C for the binding, the empty program for the datapath) and reports
// ratios, so numbers from a busy machine still compare. Results go to stdout and, with --out,
// to DIR/<suite>.json. Needs root (BPF and namespaces).
//
//   binding   µs per map op from TypeScript vs the same ops from C            bench/binding/run.ts
//   datapath  ns per packet (BPF_PROG_TEST_RUN) vs the empty program           bench/datapath/run.ts
//   control   time to program N services × 8 endpoints (controller and REST)  bench/control/run.ts
//   lab       two-arm lab bring-up / teardown, median                          lab/updown-bench.ts
//   startup   `xlb --help` and `xlb agent` to a listening API vs `node -e 0`   bench/startup/run.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { act, CliError, command, integer, listOf, runCommand } from '../src/cli-kit.ts';

const SUITES = ['startup', 'binding', 'datapath', 'control', 'lab'] as const;
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
  const cmd = command('bench', 'Runs the performance suites (default: all) and prints each one\'s numbers beside the baseline measured in the same run.')
    .option('-s, --suite <list>', `suites to run, comma-separated: ${SUITES.join(', ')} (default: all)`, listOf(SUITES))
    .option('-q, --quick', 'fewer iterations and sizes (a smoke run; the numbers are noisier)')
    .option('-o, --out <dir>', 'also write DIR/<suite>.json')
    .option('--rounds <n>', 'startup: rounds, the median is reported (default 10; 3 with --quick)', integer(1, 1000))
    .option('--xlb <file>', "startup: the launcher to measure (another checkout's xlb, to compare; default this one)");
  act(cmd, () => run(cmd.opts<Opts>()));
  return runCommand(cmd, argv);
}

async function run(o: Opts): Promise<number> {
  const wanted = o.suite ?? [...SUITES];
  if (process.getuid?.() !== 0) {
    throw new CliError('needs root (it loads BPF programs and creates network namespaces); run it as root.');
  }
  const quick = o.quick === true;
  for (const suite of wanted) {
    console.log(`\n== ${suite} ==`);
    switch (suite) {
      case 'startup': {
        const { formatStartup, runStartupBench } = await import('./startup/run.ts');
        const r = await runStartupBench({ rounds: o.rounds ?? (quick ? 3 : 10), ...(o.xlb !== undefined ? { xlb: path.resolve(o.xlb) } : {}) });
        console.log(formatStartup(r));
        writeJson(o.out, suite, r);
        break;
      }
      case 'binding': {
        const { formatResult, runBindingBench } = await import('./binding/run.ts');
        const r = await runBindingBench(quick ? { n: 1000, passes: 3 } : {});
        console.log(formatResult(r));
        writeJson(o.out, suite, r);
        break;
      }
      case 'datapath': {
        const { formatBench, runDatapathBench } = await import('./datapath/run.ts');
        const r = await runDatapathBench(quick ? { n: 300, rounds: 3 } : {});
        console.log(formatBench(r));
        writeJson(o.out, suite, r);
        break;
      }
      case 'control': {
        const { main: controlMain } = await import('./control/run.ts');
        const args = quick ? ['--quick'] : [];
        if (o.out !== undefined) args.push('--out', o.out);
        const code = await controlMain(args);
        if (code !== 0) return code;
        break;
      }
      case 'lab': {
        const [{ timeUpDown }, { builtinTopology }] = await Promise.all([import('../lab/updown-bench.ts'), import('../lab/builtins.ts')]);
        const runs = quick ? 3 : 10;
        const spec = builtinTopology('two-arm', { clients: 1, backends: 3 });
        const r = await timeUpDown(spec, runs);
        console.log(`two-arm, 1 client, 3 backends, ${runs} runs: up median ${r.upMedianMs.toFixed(1)} ms, down median ${r.downMedianMs.toFixed(1)} ms`);
        writeJson(o.out, suite, r);
        break;
      }
    }
  }
  return 0;
}
