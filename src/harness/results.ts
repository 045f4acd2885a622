// What a run produces: one ResultRecord per scenario × backend × hook (and one per differential
// comparison), summed into summary.json (the shape of the design brief, plus details) and
// junit.xml (failure reasons in the XML itself, not only in logs).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import junitModule from 'junit-report-builder';
import type { Builder } from 'junit-report-builder';
import type { Hook } from '../datapath/packet-datapath.ts';
import type { CheckRecord } from './expect.ts';
import type { ObservationRecord } from './matrix/observation.ts';
import type { BackendName } from './world.ts';

// The package is CommonJS (module.exports = builder) with ES-style typings: the default import is
// the builder at run time, which its typings cannot say under nodenext resolution.
const junit = junitModule as unknown as Builder;

/**
 * known_failure: failed where the scenario marks a known bug (knownFailures), with the mark's
 * reason; does not fail the run. unexpected_pass: passed there: the bug is gone, remove the
 * mark; fails the run (a stale mark would hide the bug's return).
 */
export type ResultStatus = 'passed' | 'failed' | 'skipped' | 'known_failure' | 'unexpected_pass';

export interface ResultRecord {
  scenario: string;
  file: string;
  /** A backend, or `diff:sim-prog` / `diff:prog-lab` for a differential comparison. */
  backend: BackendName | `diff:${BackendName}-${BackendName}`;
  hook: Hook;
  status: ResultStatus;
  durationMs: number;
  seed: number;
  /** Why it was skipped (does not apply here, needs root, …). */
  skipReason?: string;
  /** The scenario's knownFailures mark for this backend and hook (status known_failure or unexpected_pass). */
  knownFailure?: string;
  checks: CheckRecord[];
  /** An error that stopped the scenario (thrown by the World or the scenario). */
  error?: string;
  /** The command that reproduces this result. */
  reproduce: string;
  /** Where this result's pcaps and logs are. */
  artifactsDir?: string;
  log: string[];
  /** What was observed, digested without timing: compares across kernels (src/harness/matrix/). */
  observation?: ObservationRecord;
  /** The kernel it ran on, in a merged kernel matrix summary (`xlb run --kernels`). */
  kernel?: string;
}

export interface RunSummary {
  passed: number;
  /** Failed results, unexpected passes included (the run's exit status is 1 when > 0). */
  failed: number;
  skipped: number;
  /** Results that failed as their knownFailures mark says (not in `failed`). */
  knownFailures: number;
  /** Results marked as known failures that passed (also in `failed`). */
  unexpectedPasses: number;
  seed: number;
  startedAt: string;
  durationMs: number;
  /** Wall time spent per backend (results of that backend summed), ms. */
  wallMsByBackend: Partial<Record<string, number>>;
  results: ResultRecord[];
}

export function summarize(results: ResultRecord[], seed: number, startedAt: Date): RunSummary {
  const wall: Record<string, number> = {};
  for (const r of results) if (!r.backend.startsWith('diff:')) wall[r.backend] = (wall[r.backend] ?? 0) + r.durationMs;
  return {
    passed: results.filter((r) => r.status === 'passed').length,
    failed: results.filter((r) => r.status === 'failed' || r.status === 'unexpected_pass').length,
    skipped: results.filter((r) => r.status === 'skipped').length,
    knownFailures: results.filter((r) => r.status === 'known_failure').length,
    unexpectedPasses: results.filter((r) => r.status === 'unexpected_pass').length,
    seed,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    wallMsByBackend: wall,
    results,
  };
}

/** The failure text of a result: the error, then every failed check. */
export function failureText(r: ResultRecord): string {
  const lines: string[] = [];
  if (r.status === 'unexpected_pass')
    lines.push(`unexpected pass: marked as a known failure (${r.knownFailure ?? ''}) but it passed: remove the knownFailures mark`);
  if (r.error !== undefined) lines.push(`error: ${r.error}`);
  for (const c of r.checks)
    if (!c.ok) lines.push(`✗ ${c.name}${c.message === undefined ? '' : `\n    ${c.message.split('\n').join('\n    ')}`}`);
  return lines.join('\n');
}

export function writeReports(dir: string, summary: RunSummary): { summary: string; junit: string } {
  mkdirSync(dir, { recursive: true });
  const summaryPath = path.join(dir, 'summary.json');
  writeFileSync(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  const builder = junit.newBuilder();
  const suites = new Map<string, ReturnType<typeof builder.testSuite>>();
  for (const r of summary.results) {
    let suite = suites.get(r.scenario);
    if (suite === undefined) {
      suite = builder.testSuite().name(r.scenario);
      suites.set(r.scenario, suite);
    }
    const tc = suite
      .testCase()
      .className(r.scenario)
      .name(`${r.backend} ${r.hook}${r.kernel === undefined ? '' : ` ${r.kernel}`}`)
      .file(r.file)
      .time(r.durationMs / 1000);
    if (r.status === 'skipped') tc.skipped().standardOutput(r.skipReason ?? '');
    // JUnit has no "expected failure": a skip whose text says it failed as known, and why.
    else if (r.status === 'known_failure')
      tc.skipped().standardOutput(
        `known failure: ${r.knownFailure ?? ''}\n\nit failed with:\n${failureText(r)}\n\nreproduce: ${r.reproduce}`,
      );
    else if (r.status === 'failed' || r.status === 'unexpected_pass')
      tc.failure(failureText(r).split('\n')[0] ?? 'failed').standardOutput(
        `${failureText(r)}\n\nseed ${r.seed}; reproduce: ${r.reproduce}\n${r.artifactsDir === undefined ? '' : `artifacts: ${r.artifactsDir}\n`}${r.log.join('\n')}`,
      );
  }
  const junitPath = path.join(dir, 'junit.xml');
  builder.writeTo(junitPath);
  return { summary: summaryPath, junit: junitPath };
}
