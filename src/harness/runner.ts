// The runner: finds scenario modules, runs each on every selected backend and hook (in that
// order: sim, prog, lab — fast and deterministic first), compares the backends (the differential
// check), and writes summary.json and junit.xml. TAP comes from node-tap, used as a library in
// this process (one process for the whole run: no per-file start-up cost): to stdout when piped
// or asked for, else to DIR/results.tap while the terminal shows progress.
import { createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Hook } from '../datapath/packet-datapath.ts';
import { compareDigests, expiryHints } from './differential.ts';
import type { Digest } from './differential.ts';
import { writeHtmlReport } from './report/index.ts';
import { failureText, summarize, writeReports } from './results.ts';
import type { ResultRecord, RunSummary } from './results.ts';
import { artifactsDirFor, runOne } from './run-one.ts';
import { isScenario, perBackend } from './scenario.ts';
import type { Scenario } from './scenario.ts';
import type { BackendName } from './world.ts';

export interface RunOptions {
  paths: string[];
  backends: BackendName[];
  hooks: Hook[];
  grep?: RegExp;
  seed: number;
  reportDir: string;
  keepOnFail: boolean;
  /** TAP on stdout (else progress on stderr and TAP in DIR/results.tap). */
  tapToStdout: boolean;
  /** DIR/index.html (default true; a TCG guest of the kernel matrix spends minutes on it, so the host renders it). */
  html?: boolean;
  objectDir?: string;
  modelFaults?: string[];
  /** Root of the scenario names (default: the `scenarios` folder above each file, else cwd). */
  root: string;
}

export interface LoadedScenario {
  file: string;
  name: string;
  scenario: Scenario;
}

/** Scenario files under the paths: `*.ts`, not `*.test.ts`, not starting with `_` (helpers). */
export function findScenarioFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st === undefined) throw new Error(`${p}: no such file or folder (give scenario files or folders, e.g. xlb run scenarios)`);
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) walk(path.join(p, e));
      return;
    }
    const base = path.basename(p);
    if (base.endsWith('.ts') && !base.endsWith('.test.ts') && !base.startsWith('_') && !base.endsWith('.d.ts')) out.push(path.resolve(p));
  };
  for (const p of paths) walk(p);
  return out;
}

/** The path under the scenarios folder without `.ts`; a file elsewhere is named from the cwd or by its base name. */
export function scenarioName(file: string, root: string): string {
  let rel = path.relative(root, file);
  if (rel.startsWith('..')) rel = path.relative(process.cwd(), file);
  if (rel.startsWith('..')) rel = path.basename(file);
  return rel.replace(/\.ts$/, '').split(path.sep).join('/');
}

export async function loadScenarios(files: string[], root: string): Promise<LoadedScenario[]> {
  const out: LoadedScenario[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    if (!isScenario(mod.default)) {
      throw new Error(
        `${path.relative(process.cwd(), file)}: the default export is not a scenario: write \`export default scenario({ … })\` (helper modules start with '_')`,
      );
    }
    out.push({ file, name: mod.default.name ?? scenarioName(file, root), scenario: mod.default });
  }
  return out;
}

function reproduceCommand(file: string, backend: BackendName, hook: Hook, seed: number): string {
  return `xlb run ${path.relative(process.cwd(), file)} --backend ${backend} --hook ${hook} --seed ${seed}`;
}

interface TapLike {
  setTimeout(ms: number): void;
  test(name: string, fn: (t: TapTest) => Promise<void>): Promise<unknown>;
  pipe(dest: NodeJS.WritableStream): unknown;
  end(): unknown;
}
interface TapTest {
  ok(v: boolean, msg: string, extra?: Record<string, unknown>): unknown;
  skip(name: string, extra?: Record<string, unknown>): unknown;
  fail(msg: string, extra?: Record<string, unknown>): unknown;
  pass(msg: string): unknown;
}

function toTap(t: TapTest, r: ResultRecord): void {
  if (r.status === 'skipped') {
    t.skip(r.skipReason ?? 'skipped');
    return;
  }
  // No `at`/`stack`/`source`: the check's own message says what went wrong, the harness's call
  // site would only be noise.
  const quiet = { at: null, stack: null, source: null };
  if (r.status === 'known_failure') {
    // TAP's TODO is an expected failure: `not ok … # TODO reason`, not counted as failed.
    t.fail(`known failure: ${failureText(r).split('\n')[0] ?? ''}`, {
      ...quiet,
      todo: r.knownFailure ?? 'known failure',
      diag: { failure: failureText(r), reproduce: r.reproduce, artifacts: r.artifactsDir },
    });
    return;
  }
  if (r.status === 'unexpected_pass')
    t.fail(`unexpected pass: marked as a known failure (${r.knownFailure ?? ''}) but every check passed: remove the knownFailures mark`, {
      ...quiet,
      diag: { reproduce: r.reproduce },
    });
  for (const c of r.checks)
    t.ok(
      c.ok,
      c.name,
      c.ok ? {} : { ...quiet, diag: { message: c.message, seed: r.seed, reproduce: r.reproduce, artifacts: r.artifactsDir } },
    );
  if (r.error !== undefined)
    t.fail(`error: ${r.error}`, { ...quiet, diag: { seed: r.seed, reproduce: r.reproduce, artifacts: r.artifactsDir } });
  if (r.checks.length === 0 && r.error === undefined) t.pass('ran');
}

const MARK: Record<ResultRecord['status'], string> = {
  passed: 'ok  ',
  failed: 'FAIL',
  skipped: 'skip',
  known_failure: 'KNOWN',
  unexpected_pass: 'XPASS',
};

function progressLine(k: number, n: number, r: ResultRecord, started: Date): string {
  const mark = MARK[r.status];
  const tail =
    r.status === 'skipped'
      ? ` (${r.skipReason ?? ''})`
      : r.status === 'known_failure'
        ? ` ${r.durationMs} ms (known failure: ${r.knownFailure ?? ''})`
        : r.status === 'unexpected_pass'
          ? ` ${r.durationMs} ms: marked as a known failure but passed: remove the knownFailures mark`
          : ` ${r.durationMs} ms`;
  const s = Math.floor((Date.now() - started.getTime()) / 1000);
  const elapsed = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return `[${k}/${n} ${elapsed}] ${mark} ${r.scenario}  ${r.backend} ${r.hook}${tail}`;
}

export async function runScenarios(o: RunOptions, loaded?: LoadedScenario[]): Promise<RunSummary> {
  const started = new Date();
  const scenarios = (loaded ?? (await loadScenarios(findScenarioFiles(o.paths), o.root))).filter(
    (s) => o.grep === undefined || o.grep.test(s.name),
  );
  if (scenarios.length === 0)
    throw new Error(`no scenario matched${o.grep === undefined ? '' : ` --grep ${o.grep.source}`} in ${o.paths.join(', ')}`);
  const tapModule = (await import('tap')) as unknown as { default: TapLike };
  const tap = tapModule.default;
  // node-tap gives the whole process 30 s by default; each result has its own timeout here.
  tap.setTimeout(0);
  if (!o.tapToStdout) {
    if (!existsSync(o.reportDir)) (await import('node:fs')).mkdirSync(o.reportDir, { recursive: true });
    tap.pipe(createWriteStream(path.join(o.reportDir, 'results.tap')));
  }
  const results: ResultRecord[] = [];
  const total = scenarios.length * o.hooks.length * o.backends.length;
  let k = 0;
  const say = (line: string): void => {
    if (!o.tapToStdout) process.stderr.write(`${process.stderr.isTTY ? '\x1b[2K' : ''}${line}\n`);
  };
  for (const s of scenarios) {
    for (const hook of o.hooks) {
      const digests: Partial<Record<BackendName, Digest>> = {};
      for (const backend of o.backends) {
        k++;
        let outcome: Awaited<ReturnType<typeof runOne>> | undefined;
        // On a terminal, what is running now (a lab result takes seconds); the result's line replaces it.
        if (!o.tapToStdout && process.stderr.isTTY) process.stderr.write(`[${k}/${total}] …    ${s.name}  ${backend} ${hook}\r`);
        await tap.test(`${s.name} [${backend} ${hook}]`, async (t) => {
          outcome = await runOne({
            scenario: s.scenario,
            name: s.name,
            file: s.file,
            backend,
            hook,
            seed: o.seed,
            artifactsDir: artifactsDirFor(o.reportDir, s.name, backend, hook),
            keepOnFail: o.keepOnFail,
            reproduce: reproduceCommand(s.file, backend, hook, o.seed),
            ...(o.objectDir === undefined ? {} : { objectDir: o.objectDir }),
            ...(o.modelFaults === undefined ? {} : { modelFaults: o.modelFaults }),
          });
          toTap(t, outcome.record);
        });
        if (outcome === undefined) continue;
        results.push(outcome.record);
        if (outcome.digest !== undefined) digests[backend] = outcome.digest;
        say(progressLine(k, total, outcome.record, started));
        if (outcome.record.status === 'failed' || outcome.record.status === 'known_failure')
          say(
            `${failureText(outcome.record).replace(/^/gm, '       ')}\n       seed ${o.seed}; reproduce: ${outcome.record.reproduce}\n       artifacts: ${outcome.record.artifactsDir ?? ''}${outcome.record.log.length > 0 ? `\n       ${outcome.record.log.join('\n       ')}` : ''}`,
          );
      }
      if (s.scenario.differential === false) continue;
      for (const d of compareDigests(digests)) {
        // A side that is a known failure differs from the others because of that bug: the
        // comparison is known to fail with it.
        const known = d.pair
          .map((b) => [b, perBackend(s.scenario.knownFailures, b, hook)] as const)
          .filter((x): x is readonly [BackendName, string] => x[1] !== undefined);
        const differ = d.differences.length > 0;
        const labRun =
          d.pair[1] === 'lab' ? results.find((r) => r.scenario === s.name && r.backend === 'lab' && r.hook === hook) : undefined;
        const ref = digests[d.pair[0]];
        const lab = digests.lab;
        const hints =
          labRun === undefined || ref === undefined || lab === undefined || d.differences.length === 0
            ? []
            : expiryHints(ref.semantic.finalStates, lab.semantic.finalStates, labRun.durationMs, s.scenario.timeoutsS ?? {});
        const record: ResultRecord = {
          scenario: s.name,
          file: s.file,
          backend: `diff:${d.pair[0]}-${d.pair[1]}`,
          hook,
          status: !differ ? 'passed' : known.length > 0 ? 'known_failure' : 'failed',
          ...(differ && known.length > 0
            ? { knownFailure: known.map(([b, why]) => `${b} ${hook} is a known failure: ${why}`).join('; ') }
            : {}),
          durationMs: 0,
          seed: o.seed,
          checks: [
            {
              name: `${d.pair[0]} and ${d.pair[1]} agree (${d.level})`,
              ok: d.differences.length === 0,
              ...(d.differences.length === 0
                ? {}
                : { message: `${d.pair[0]} vs ${d.pair[1]} differ at:\n${[...d.differences, ...hints.map((h) => `(${h})`)].join('\n')}` }),
            },
          ],
          reproduce: `xlb run ${path.relative(process.cwd(), s.file)} --backend ${d.pair.join(',')} --hook ${hook} --seed ${o.seed}`,
          log: [],
        };
        await tap.test(`${s.name} [${record.backend} ${hook}]`, async (t) => toTap(t, record));
        results.push(record);
        say(progressLine(k, total, record, started));
        if (record.status !== 'passed') say(failureText(record).replace(/^/gm, '       '));
      }
    }
  }
  if (o.backends.includes('lab')) await (await import('./lab-pool.ts')).closePooledLabWorlds();
  if (o.backends.includes('prog')) (await import('./prog-pool.ts')).closePooledProgLoads();
  tap.end();
  const summary = summarize(results, o.seed, started);
  const files = writeReports(o.reportDir, summary);
  const html = o.html === false ? 'no index.html (--no-html)' : await writeHtmlReport(o.reportDir, summary);
  const xpass = summary.results.filter((r) => r.status === 'unexpected_pass');
  if (xpass.length > 0)
    say(
      `\n${xpass.length} known failure(s) passed: remove their knownFailures mark:\n${xpass.map((r) => `  ${r.scenario}  ${r.backend} ${r.hook}`).join('\n')}`,
    );
  const known = summary.knownFailures > 0 ? `, ${summary.knownFailures} known failures` : '';
  say(
    `\n${summary.passed} passed, ${summary.failed} failed${summary.unexpectedPasses > 0 ? ` (${summary.unexpectedPasses} unexpected passes)` : ''}${known}, ${summary.skipped} skipped (seed ${o.seed}; ${html}, ${files.summary}, ${files.junit})`,
  );
  return summary;
}
