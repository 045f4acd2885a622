// The harness bench: how long the conformance machinery takes.
//
//   topology   a two-arm lab (1 client, 3 backends) brought up and down, median of N runs
//              (lab/updown-bench.ts, the same timing `xlb lab bench` prints)
//   suite      the scenario suite run once per backend (sim, prog, lab) by the real `xlb run`,
//              each backend in a process of its own (so one backend's start-up and warm caches do
//              not flatter the next): wall time of the process, the runner's own duration, and
//              every scenario's time per hook from its summary.json
//
// The aim of issue 14: the sim suite faster than the prog suite (sim is the fast first line).
//   node --import tsx bench/harness/run.ts [--quick] [--backends sim,prog,lab] [--hooks tc,xdp] [--grep RE] [--out FILE] [--report DIR]
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { builtinTopology } from '../../src/topology/builtins.ts';
import { timeUpDown } from '../../lab/updown-bench.ts';
import type { UpDownTimes } from '../../lab/updown-bench.ts';
import type { RunSummary } from '../../src/harness/results.ts';
import { ROOT } from '../../src/root.ts';
import { runAsScript, writeScriptReport } from '../script-report.ts';

const TSX_LOADER = `file://${path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')}`;

export const HARNESS_BACKENDS = ['sim', 'prog', 'lab'] as const;
export type HarnessBackend = (typeof HARNESS_BACKENDS)[number];

export interface HarnessBenchOptions {
  backends: HarnessBackend[];
  hooks: ('tc' | 'xdp')[];
  /** Scenario files or folders (default: scenarios/). */
  paths: string[];
  grep?: string;
  topologyRuns: number;
  seed: number;
}

export const DEFAULT_HARNESS_BENCH: HarnessBenchOptions = {
  backends: [...HARNESS_BACKENDS],
  hooks: ['tc', 'xdp'],
  paths: [path.join(ROOT, 'scenarios')],
  topologyRuns: 10,
  seed: 1,
};

/**
 * Quick (the smoke in the test command): one small scenario on sim, TC only, and 2 topology
 * cycles — every code path of the suite; the other backends only change `--backend`.
 */
export const QUICK_HARNESS_BENCH: Partial<HarnessBenchOptions> = {
  backends: ['sim'],
  hooks: ['tc'],
  paths: [path.join(ROOT, 'scenarios', 'lb', 'rr-tcp-dnat.ts')],
  topologyRuns: 2,
};

export interface ScenarioTime {
  scenario: string;
  hook: string;
  status: string;
  durationMs: number;
}

export interface BackendSuiteTime {
  backend: HarnessBackend;
  /** Wall time of the `xlb run` process (start-up, loading scenarios, reports included). */
  wallMs: number;
  /** The runner's own duration (summary.json durationMs). */
  runnerMs: number;
  passed: number;
  failed: number;
  skipped: number;
  scenarios: ScenarioTime[];
  exitCode: number;
}

export interface HarnessBenchResult {
  options: HarnessBenchOptions;
  startedAt: string;
  topology: UpDownTimes & { spec: string };
  suites: BackendSuiteTime[];
  /** prog wall time / sim wall time (> 1: sim is faster, the aim), when both ran. */
  progOverSim: number | null;
}

async function runSuite(backend: HarnessBackend, o: HarnessBenchOptions, log: (s: string) => void): Promise<BackendSuiteTime> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `xlb-bench-harness-${backend}-`));
  try {
    // src/cli.ts directly, not the ./xlb launcher: the launcher's set-up check is not the harness.
    const args = ['--enable-source-maps', '--import', TSX_LOADER, path.join(ROOT, 'src', 'cli.ts'), 'run', ...o.paths];
    args.push('--backend', backend, '--hook', o.hooks.join(','), '--seed', String(o.seed), '--report', dir, '--tap');
    if (o.grep !== undefined) args.push('--grep', o.grep);
    const t0 = performance.now();
    const r = await execa(process.execPath, args, { reject: false, cwd: ROOT, timeout: 60 * 60_000 });
    const wallMs = performance.now() - t0;
    let summary: RunSummary;
    try {
      summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
    } catch {
      throw new Error(
        `xlb run --backend ${backend} wrote no summary.json (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(-1500)}`,
      );
    }
    const scenarios = summary.results
      .filter((x) => x.backend === backend)
      .map((x) => ({ scenario: x.scenario, hook: x.hook, status: x.status, durationMs: x.durationMs }));
    log(
      `  ${backend.padEnd(4)}: ${(wallMs / 1000).toFixed(1)} s wall (runner ${(summary.durationMs / 1000).toFixed(1)} s), ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`,
    );
    return {
      backend,
      wallMs,
      runnerMs: summary.durationMs,
      passed: summary.passed,
      failed: summary.failed,
      skipped: summary.skipped,
      scenarios,
      exitCode: r.exitCode ?? -1,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runHarnessBench(
  opts: Partial<HarnessBenchOptions> & { quick?: boolean } = {},
  log: (s: string) => void = (s) => console.log(s),
): Promise<HarnessBenchResult> {
  const { quick, ...rest } = opts;
  const o: HarnessBenchOptions = { ...DEFAULT_HARNESS_BENCH, ...(quick === true ? QUICK_HARNESS_BENCH : {}), ...rest };
  const started = new Date();
  const spec = builtinTopology('two-arm', { clients: 1, backends: 3 });
  const up = await timeUpDown(spec, o.topologyRuns);
  log(
    `  topology two-arm (1 client, 3 backends), ${up.runs} runs: up median ${up.upMedianMs.toFixed(1)} ms, down median ${up.downMedianMs.toFixed(1)} ms`,
  );
  const suites: BackendSuiteTime[] = [];
  for (const b of o.backends) suites.push(await runSuite(b, o, log));
  const sim = suites.find((s) => s.backend === 'sim');
  const prog = suites.find((s) => s.backend === 'prog');
  return {
    options: o,
    startedAt: started.toISOString(),
    topology: { ...up, spec: 'two-arm, 1 client, 3 backends' },
    suites,
    progOverSim: sim !== undefined && prog !== undefined && sim.wallMs > 0 ? prog.wallMs / sim.wallMs : null,
  };
}

const s = (ms: number): string => (ms / 1000).toFixed(1);

/** Markdown: topology times, suite time per backend, then every scenario's time per backend and hook. */
export function harnessMarkdown(r: HarnessBenchResult): string {
  const out: string[] = [];
  out.push(
    `Topology (${r.topology.spec}), ${r.topology.runs} runs: up median **${r.topology.upMedianMs.toFixed(1)} ms**, down median **${r.topology.downMedianMs.toFixed(1)} ms**.`,
    '',
  );
  out.push('| backend | hooks | whole suite (wall) | runner | scenario results | passed | failed | skipped | mean per result |');
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const b of r.suites) {
    const ran = b.scenarios.filter((x) => x.status !== 'skipped');
    const mean = ran.length > 0 ? ran.reduce((a, x) => a + x.durationMs, 0) / ran.length : NaN;
    out.push(
      `| **${b.backend}** | ${r.options.hooks.join(', ')} | ${s(b.wallMs)} s | ${s(b.runnerMs)} s | ${b.scenarios.length} | ${b.passed} | ${b.failed} | ${b.skipped} | ${Number.isFinite(mean) ? `${mean.toFixed(0)} ms` : '—'} |`,
    );
  }
  if (r.progOverSim !== null)
    out.push('', `prog / sim wall time: **${r.progOverSim.toFixed(2)}×** (the aim: sim faster than prog, i.e. > 1).`);
  const cols = r.suites.flatMap((b) => r.options.hooks.map((h) => ({ backend: b.backend, hook: h })));
  const names = [...new Set(r.suites.flatMap((b) => b.scenarios.map((x) => x.scenario)))].sort();
  if (names.length > 0) {
    out.push('', `<details><summary>Per scenario (ms; ✗ failed, – skipped)</summary>`, '');
    out.push(`| scenario | ${cols.map((c) => `${c.backend} ${c.hook}`).join(' | ')} |`, `| --- | ${cols.map(() => '---').join(' | ')} |`);
    for (const n of names) {
      const cells = cols.map((c) => {
        const x = r.suites.find((b) => b.backend === c.backend)?.scenarios.find((y) => y.scenario === n && y.hook === c.hook);
        if (x === undefined) return '';
        if (x.status === 'skipped') return '–';
        return `${x.durationMs}${x.status === 'failed' ? ' ✗' : ''}`;
      });
      out.push(`| ${n} | ${cells.join(' | ')} |`);
    }
    out.push('', '</details>');
  }
  return out.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      backends: { type: 'string' },
      hooks: { type: 'string' },
      grep: { type: 'string' },
      out: { type: 'string' },
      report: { type: 'string' },
    },
  });
  const opts: Partial<HarnessBenchOptions> & { quick?: boolean } = { quick: values.quick };
  if (values.backends !== undefined) opts.backends = values.backends.split(',') as HarnessBackend[];
  if (values.hooks !== undefined) opts.hooks = values.hooks.split(',') as ('tc' | 'xdp')[];
  if (values.grep !== undefined) opts.grep = values.grep;
  // Imported here: report.ts imports this module (its tables), so not at the top.
  const { environment } = await import('../report.ts');
  const env = await environment();
  const r = await runHarnessBench(opts);
  console.log(harnessMarkdown(r));
  await writeScriptReport(
    { script: 'node --import tsx bench/harness/run.ts', argv, quick: values.quick, out: values.out, report: values.report },
    env,
    r,
    { harness: r },
  );
  return 0;
}

runAsScript(import.meta.url, 'harness bench', main);
