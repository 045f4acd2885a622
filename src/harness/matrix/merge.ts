// Merging the kernel matrix: one run's summary.json per kernel (same scenarios, backends, hooks
// and seed) into one summary with a column per kernel, and the behaviour diff: every
// scenario × backend × hook whose outcome or observations differ between kernels, named even
// when every kernel passed it. Pure functions of the per-kernel summaries (tested without a VM).
//
// What counts as the same behaviour, per backend:
// - sim, prog: the strict observation (every frame on every link, counters, conntrack, trace,
//   traffic; no timing). Same seed, same virtual world, so the same bytecode must give the same
//   bytes on every kernel; any difference is the kernel's (its verifier, its helpers).
// - lab: the semantic observation (connections ok/failed per traffic call, final conntrack
//   states, new flows, drop counters): a real TCP stack's ISNs, ports and retransmits are not
//   stable from one run to the next even on one kernel.
// - a sim or prog result whose scenario declares `observationVaries` (its strict view depends on
//   a source the seed does not fix, such as bpf_get_prandom_u32): the semantic observation too.
// Besides: a different status (passed / failed / skipped, and the skip reason), and a different
// set of failed checks.
import type { ResultRecord, RunSummary } from '../results.ts';
import { summarize } from '../results.ts';
import type { ObservationRecord } from './observation.ts';

export interface KernelRun {
  /** As given in --kernels: 6.1, 6.12, host. */
  label: string;
  /** uname -r of the kernel it ran on (undefined when the guest never said). */
  release?: string;
  /** Wall time of this kernel's whole run (boot included for a guest), ms. */
  wallMs: number;
  /** qemu start to the command's start, ms (guests). */
  bootMs?: number;
  /** How it ran: host, or the VM's accelerator. */
  how: string;
  exitCode: number;
  /** Why the kernel's run did not produce results (guest died, timeout…). */
  failure?: string;
  /** Its summary.json, when it was written. */
  summary?: RunSummary;
  /** Where its own report is. */
  reportDir: string;
}

export type DiffKind = 'status' | 'checks' | 'observation' | 'missing';

export interface BehaviourDiff {
  scenario: string;
  backend: string;
  hook: string;
  kind: DiffKind;
  /** One line per kernel, or the parts that differ. */
  detail: string[];
}

export interface MatrixKernelInfo {
  label: string;
  release?: string;
  how: string;
  wallMs: number;
  bootMs?: number;
  exitCode: number;
  failure?: string;
  passed: number;
  failed: number;
  skipped: number;
  reportDir: string;
}

export interface MatrixSummary extends RunSummary {
  matrix: {
    kernels: MatrixKernelInfo[];
    diffs: BehaviourDiff[];
  };
}

type Cell = { kernel: string; r: ResultRecord | undefined };

function key(r: Pick<ResultRecord, 'scenario' | 'backend' | 'hook'>): string {
  return `${r.scenario}\u0000${r.backend}\u0000${r.hook}`;
}

function failedChecks(r: ResultRecord): string[] {
  return [...r.checks.filter((c) => !c.ok).map((c) => c.name), ...(r.error === undefined ? [] : ['error'])].sort();
}

function statusText(r: ResultRecord | undefined): string {
  if (r === undefined) return 'not run';
  if (r.status === 'skipped') return `skipped (${r.skipReason ?? ''})`;
  if (r.status === 'known_failure') return `known failure (${r.knownFailure ?? ''})`;
  return r.status;
}

/** The comparison level of a backend's observation (`varies`: the scenario's observationVaries). */
export function observationLevel(backend: string, varies?: string): 'strict' | 'semantic' {
  return backend === 'lab' || varies !== undefined ? 'semantic' : 'strict';
}

function observationDiff(backend: string, cells: { kernel: string; o: ObservationRecord }[]): string[] | undefined {
  const varies = cells.find((c) => c.o.varies !== undefined)?.o.varies;
  const level = observationLevel(backend, varies);
  if (new Set(cells.map((c) => c.o[level])).size <= 1) return undefined;
  const out: string[] = [];
  if (level === 'strict') {
    const parts = [...new Set(cells.flatMap((c) => Object.keys(c.o.parts)))];
    const differing = parts.filter((p) => new Set(cells.map((c) => c.o.parts[p] ?? '-')).size > 1);
    out.push(`strict observation differs in: ${differing.join(', ')}`);
  } else out.push(varies === undefined ? 'semantic observation differs' : `semantic observation differs (strict not compared: ${varies})`);
  // The readable values, where they differ.
  const names = [...new Set(cells.flatMap((c) => Object.keys(c.o.values)))];
  for (const n of names) {
    const vals = cells.map((c) => JSON.stringify(c.o.values[n] ?? null));
    if (new Set(vals).size > 1) out.push(`${n}: ${cells.map((c, i) => `${c.kernel} ${vals[i] ?? ''}`).join(' | ')}`);
  }
  return out;
}

/** The behaviour diff of one scenario × backend × hook across kernels. */
export function diffCells(cells: Cell[]): { kind: DiffKind; detail: string[] } | undefined {
  const present = cells.filter((c) => c.r !== undefined);
  if (present.length < cells.length && present.length > 0) {
    return { kind: 'missing', detail: cells.map((c) => `${c.kernel}: ${statusText(c.r)}`) };
  }
  if (present.length < 2) return undefined;
  const statuses = cells.map((c) => statusText(c.r));
  if (new Set(statuses).size > 1) return { kind: 'status', detail: cells.map((c, i) => `${c.kernel}: ${statuses[i] ?? ''}`) };
  const fails = cells.map((c) => (c.r === undefined ? '' : failedChecks(c.r).join(', ')));
  if (new Set(fails).size > 1)
    return { kind: 'checks', detail: cells.map((c, i) => `${c.kernel}: failed ${fails[i] === '' ? 'nothing' : fails[i]}`) };
  const withObs = cells.filter(
    (c): c is { kernel: string; r: ResultRecord & { observation: ObservationRecord } } => c.r?.observation !== undefined,
  );
  if (withObs.length < 2) return undefined;
  const backend = withObs[0]?.r.backend ?? '';
  const d = observationDiff(
    backend,
    withObs.map((c) => ({ kernel: c.kernel, o: c.r.observation })),
  );
  return d === undefined ? undefined : { kind: 'observation', detail: d };
}

/** Merges the kernels' runs: every result tagged with its kernel, the behaviour diff, the per-kernel table. */
export function mergeKernelRuns(runs: KernelRun[], seed: number, startedAt: Date): MatrixSummary {
  const results: ResultRecord[] = [];
  const byKey = new Map<string, Map<string, ResultRecord>>();
  const order: string[] = [];
  for (const run of runs) {
    for (const r of run.summary?.results ?? []) {
      const k = key(r);
      let m = byKey.get(k);
      if (m === undefined) {
        m = new Map();
        byKey.set(k, m);
        order.push(k);
      }
      m.set(run.label, r);
      results.push({ ...r, kernel: run.label });
    }
  }
  const diffs: BehaviourDiff[] = [];
  for (const k of order) {
    const m = byKey.get(k);
    if (m === undefined) continue;
    const [scenario = '', backend = '', hook = ''] = k.split('\u0000');
    // A kernel whose whole run failed has no results at all: that is one line in the kernel
    // table, not one missing cell per result.
    const cells = runs.filter((run) => run.summary !== undefined).map((run) => ({ kernel: run.label, r: m.get(run.label) }));
    const d = diffCells(cells);
    if (d !== undefined) diffs.push({ scenario, backend, hook, ...d });
  }
  const base = summarize(results, seed, startedAt);
  const kernels: MatrixKernelInfo[] = runs.map((run) => ({
    label: run.label,
    ...(run.release === undefined ? {} : { release: run.release }),
    how: run.how,
    wallMs: run.wallMs,
    ...(run.bootMs === undefined ? {} : { bootMs: run.bootMs }),
    exitCode: run.exitCode,
    ...(run.failure === undefined ? {} : { failure: run.failure }),
    passed: run.summary?.passed ?? 0,
    failed: run.summary?.failed ?? 0,
    skipped: run.summary?.skipped ?? 0,
    reportDir: run.reportDir,
  }));
  // A kernel that produced no summary is a failure of the matrix, even with no result failed.
  const lost = runs.filter((run) => run.summary === undefined).length;
  return { ...base, failed: base.failed + lost, matrix: { kernels, diffs } };
}

// ---- the terminal table ----------------------------------------------------------------------

function secs(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

function mark(r: ResultRecord | undefined): string {
  if (r === undefined) return '·';
  if (r.status === 'skipped') return 'skip';
  if (r.status === 'failed') return 'FAIL';
  if (r.status === 'known_failure') return 'known';
  if (r.status === 'unexpected_pass') return 'XPASS';
  return r.backend.startsWith('diff:') ? 'ok' : `ok ${secs(r.durationMs)}`;
}

/** The merged summary as text: kernels, a row per scenario × backend × hook with a column per kernel, the behaviour diff. */
export function formatMatrix(s: MatrixSummary): string {
  const ks = s.matrix.kernels;
  const lines: string[] = [];
  lines.push(`kernel matrix: ${ks.map((k) => k.label).join(', ')}; seed ${s.seed}; started ${s.startedAt}; ${secs(s.durationMs)} in all`);
  lines.push('');
  const kw = Math.max(6, ...ks.map((k) => k.label.length));
  lines.push(`${'kernel'.padEnd(kw)}  ${'release'.padEnd(22)}  ${'wall'.padStart(12)}  ${'boot'.padStart(7)}  passed failed skipped  how`);
  for (const k of ks) {
    lines.push(
      `${k.label.padEnd(kw)}  ${(k.release ?? '?').padEnd(22)}  ${secs(k.wallMs).padStart(12)}  ${(k.bootMs === undefined ? '-' : secs(k.bootMs)).padStart(7)}  ${String(k.passed).padStart(6)} ${String(k.failed).padStart(6)} ${String(k.skipped).padStart(7)}  ${k.how}${k.failure === undefined ? '' : `\n${' '.repeat(kw + 2)}RUN FAILED (exit ${k.exitCode}): ${k.failure.split('\n')[0] ?? ''}`}`,
    );
  }
  lines.push('');
  const rows = new Map<string, Map<string, ResultRecord>>();
  for (const r of s.results) {
    const k = `${r.scenario}  ${r.backend} ${r.hook}`;
    let m = rows.get(k);
    if (m === undefined) {
      m = new Map();
      rows.set(k, m);
    }
    m.set(r.kernel ?? '', r);
  }
  const names = [...rows.keys()];
  const nw = Math.max(8, ...names.map((n) => n.length));
  const cw = Math.max(
    10,
    ...ks.map((k) => k.label.length),
    ...[...rows.values()].flatMap((m) => [...m.values()].map((r) => mark(r).length)),
  );
  const differs = new Set(s.matrix.diffs.map((d) => `${d.scenario}  ${d.backend} ${d.hook}`));
  lines.push(`${'result'.padEnd(nw)}  ${ks.map((k) => k.label.padEnd(cw)).join('  ')}`);
  for (const n of names) {
    const m = rows.get(n);
    lines.push(`${n.padEnd(nw)}  ${ks.map((k) => mark(m?.get(k.label)).padEnd(cw)).join('  ')}${differs.has(n) ? '  ≠' : ''}`);
  }
  lines.push('');
  if (s.matrix.diffs.length === 0)
    lines.push('behaviour diff: none (every result that ran on several kernels has the same status, failed checks and observations)');
  else {
    lines.push(`behaviour diff: ${s.matrix.diffs.length} result(s) differ between kernels (≠ above):`);
    for (const d of s.matrix.diffs) lines.push(`  ${d.scenario}  ${d.backend} ${d.hook}  [${d.kind}]\n    ${d.detail.join('\n    ')}`);
  }
  lines.push('');
  lines.push(`${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped across ${ks.length} kernels`);
  return lines.join('\n');
}
