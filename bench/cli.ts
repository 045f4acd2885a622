// `xlb bench`: the performance suite as one command. Each suite measures against a baseline
// taken in the same run (raw C for the binding, the empty program for the datapath) and reports
// ratios, so numbers from a busy machine still compare. Results go to stdout and, with --out,
// to DIR/<suite>.json. Needs root (BPF and namespaces).
//
//   binding   µs per map op from TypeScript vs the same ops from C            bench/binding/run.ts
//   datapath  ns per packet (BPF_PROG_TEST_RUN) vs the empty program           bench/datapath/run.ts
//   control   time to program N services × 8 endpoints (controller and REST)  bench/control/run.ts
//   lab       two-arm lab bring-up / teardown, median                          lab/updown-bench.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatResult, runBindingBench } from './binding/run.ts';
import { formatBench, QUICK, runDatapathBench } from './datapath/run.ts';
import { main as controlMain } from './control/run.ts';
import { timeUpDown } from '../lab/updown-bench.ts';
import { builtinTopology } from '../lab/builtins.ts';

const SUITES = ['binding', 'datapath', 'control', 'lab'] as const;
type Suite = (typeof SUITES)[number];

const USAGE = `usage: xlb bench [--suite ${SUITES.join('|')}[,…]] [--quick] [--out DIR]

Runs the performance suites (default: all) and prints each one's numbers beside the baseline
measured in the same run. --quick: fewer iterations and sizes (a smoke run, numbers noisier).
--out DIR: also write DIR/<suite>.json.`;

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
    console.error(`xlb bench: unknown suite ${unknown.map((s) => `'${s}'`).join(', ')}; suites: ${SUITES.join(', ')} (the harness suite comes with the scenario harness)\n\n${USAGE}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error('xlb bench: needs root (it loads BPF programs and creates network namespaces); run it as root.');
    return 1;
  }
  const quick = values.quick;
  for (const suite of wanted as Suite[]) {
    console.log(`\n== ${suite} ==`);
    switch (suite) {
      case 'binding': {
        const r = await runBindingBench(quick ? { n: 1000, passes: 3 } : {});
        console.log(formatResult(r));
        writeJson(values.out, suite, r);
        break;
      }
      case 'datapath': {
        const r = await runDatapathBench(quick ? QUICK : {});
        console.log(formatBench(r));
        writeJson(values.out, suite, r);
        break;
      }
      case 'control': {
        const args = quick ? ['--quick'] : [];
        if (values.out !== undefined) args.push('--out', values.out);
        const code = await controlMain(args);
        if (code !== 0) return code;
        break;
      }
      case 'lab': {
        const runs = quick ? 3 : 10;
        const spec = builtinTopology('two-arm', { clients: 1, backends: 3 });
        const r = await timeUpDown(spec, runs);
        console.log(`two-arm, 1 client, 3 backends, ${runs} runs: up median ${r.upMedianMs.toFixed(1)} ms, down median ${r.downMedianMs.toFixed(1)} ms`);
        writeJson(values.out, suite, r);
        break;
      }
    }
  }
  return 0;
}
