// The tail both suite scripts (bench/lab/run.ts, bench/harness/run.ts) share when run on their
// own: their result as JSON (--out), the same report `xlb bench` writes (--report), and the
// process exit. report.ts imports the suites' tables, so it is imported here when used, not at
// the top (the suites import this module).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../src/root.ts';
import type { BenchReport, Environment } from './report.ts';

export interface ScriptReportOptions {
  /** How the script was called, for the report: `node --import tsx bench/lab/run.ts`. */
  script: string;
  argv: string[];
  quick: boolean;
  out: string | undefined;
  report: string | undefined;
}

/** Writes --out and --report for one suite's result; `part` is that suite's field of the report. */
export async function writeScriptReport(
  o: ScriptReportOptions,
  env: Environment,
  result: unknown,
  part: Pick<BenchReport, 'lab'> | Pick<BenchReport, 'harness'>,
): Promise<void> {
  if (o.out !== undefined) writeFileSync(o.out, `${JSON.stringify(result, null, 2)}\n`);
  if (o.report === undefined) return;
  const { writeBenchReport } = await import('./report.ts');
  // The same report as `xlb bench` (bench.json, report.md, chart; a full run updates the README block).
  const rep: BenchReport = { command: [o.script, ...o.argv].join(' '), quick: o.quick, environment: env, ...part, other: {} };
  const files = await writeBenchReport(path.resolve(o.report), rep, o.quick ? {} : { readme: path.join(ROOT, 'README.md') });
  console.log(`report: ${files.join(', ')}`);
}

/** Runs a script's main when the file is the process's entry point; errors as `NAME: message`, exit 1. */
export function runAsScript(url: string, name: string, main: (argv: string[]) => Promise<number>): void {
  if (url !== `file://${process.argv[1]}`) return;
  main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e: unknown) => {
      console.error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
