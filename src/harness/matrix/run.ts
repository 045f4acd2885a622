// `xlb run … --kernels 6.1,6.12,host`: the suite once per kernel, one kernel after the other
// (one VM at a time on this machine), then one merged report. `host` runs `xlb run` directly;
// any other name is a kernel SPEC of `xlb vm run` (src/devtools/vm.ts), which boots it under
// qemu with this project folder shared read-write at its own path, so the guest writes its
// report straight into DIR/kernels/<kernel>/. Every kernel gets the same scenarios, backends,
// hooks and seed: the prog backend is then deterministic, and its observations must be equal
// byte for byte across kernels (src/harness/matrix/merge.ts says what is compared).
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import type { Hook } from '../../datapath/packet-datapath.ts';
import { GUEST_XLB, PROJECT_ROOT, vmRun } from '../../devtools/vm.ts';
import { writeHtmlReport } from '../report/index.ts';
import { writeReports } from '../results.ts';
import type { RunSummary } from '../results.ts';
import type { BackendName } from '../world.ts';
import { kernelDiffSection } from './html.ts';
import { formatMatrix, mergeKernelRuns } from './merge.ts';
import type { KernelRun, MatrixSummary } from './merge.ts';

export interface MatrixOptions {
  kernels: string[];
  paths: string[];
  backends: BackendName[];
  hooks: Hook[];
  grep?: string;
  seed: number;
  reportDir: string;
  objectDir?: string;
  /** Per guest, boot included; default from the number of results (see guestTimeoutS). */
  guestTimeoutS?: number;
}

/** Checks the --kernels list: names, no repeats. Returns it. */
export function parseKernels(v: string): string[] {
  const ks = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (ks.length === 0) throw new Error(`--kernels ${v}: give a comma-separated list such as 6.1,6.12,host`);
  const dup = ks.filter((k, i) => ks.indexOf(k) !== i);
  if (dup.length > 0) throw new Error(`--kernels ${v}: ${dup.join(', ')} given twice`);
  return ks;
}

/**
 * A guest's timeout: boot and set-up (10 min under TCG), then up to 5 min per result (a prog
 * result takes 20-60 s under TCG, a lab one a few minutes). A hung guest still ends.
 */
export function guestTimeoutS(results: number): number {
  return 600 + 300 * results;
}

function childArgs(o: MatrixOptions, reportDir: string, guest = false): string[] {
  return [
    'run',
    ...o.paths,
    '--backend',
    o.backends.join(','),
    '--hook',
    o.hooks.join(','),
    '--seed',
    String(o.seed),
    '--report',
    reportDir,
    '--tap',
    ...(o.grep === undefined ? [] : ['--grep', o.grep]),
    ...(o.objectDir === undefined ? [] : ['--object-dir', o.objectDir]),
    // Rendering index.html took ~2 min in a TCG guest; the host renders it from the guest's summary and artifacts.
    ...(guest ? ['--no-html'] : []),
  ];
}

/** Copies a TAP stream to a file, and says each top-level result on stderr as `[kernel] ok …`. */
function tapSink(file: string, label: string): Writable {
  const out = createWriteStream(file);
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      out.write(chunk);
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^(not ok|ok) \d+ - (.*?)(?: # (?:time=.*|(SKIP.*)))?$/.exec(l);
        if (m !== null)
          process.stderr.write(
            `[${label}] ${m[1] === 'ok' ? (m[3] !== undefined ? 'skip' : 'ok  ') : 'FAIL'} ${m[2] ?? ''}${m[3] !== undefined ? ` (${m[3]})` : ''}\n`,
          );
      }
      done();
    },
    final(done) {
      out.end(done);
    },
  });
}

function readSummary(dir: string): RunSummary | undefined {
  const f = path.join(dir, 'summary.json');
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, 'utf8')) as RunSummary;
}

async function runHost(o: MatrixOptions, dir: string): Promise<KernelRun> {
  const t0 = Date.now();
  const tap = tapSink(path.join(dir, 'results.tap'), 'host');
  const child = execa(path.join(PROJECT_ROOT, 'xlb'), childArgs(o, dir), {
    reject: false,
    stdout: 'pipe',
    stderr: 'inherit',
    cwd: PROJECT_ROOT,
  });
  child.stdout?.pipe(tap);
  const r = await child;
  await new Promise<void>((resolve) => tap.end(resolve));
  const summary = readSummary(dir);
  const code = r.exitCode ?? 1;
  return {
    label: 'host',
    release: release(),
    how: 'host',
    wallMs: Date.now() - t0,
    exitCode: code,
    reportDir: dir,
    ...(summary === undefined ? { failure: `xlb run exited ${code} without writing ${path.join(dir, 'summary.json')}` } : { summary }),
  };
}

async function runGuest(label: string, o: MatrixOptions, dir: string, results: number): Promise<KernelRun> {
  const t0 = Date.now();
  const tap = tapSink(path.join(dir, 'results.tap'), label);
  let r;
  try {
    r = await vmRun({
      kernel: label,
      command: [...GUEST_XLB, ...childArgs(o, dir, true)],
      timeoutS: o.guestTimeoutS ?? guestTimeoutS(results),
      // The lab's agent, traffic servers and tcpdumps are node and real processes beside the
      // runner, and the overlay's upper layer is tmpfs: 1 GiB (xlb vm run's default) is tight.
      memMiB: o.backends.includes('lab') ? 2048 : 1024,
      stdout: tap,
      stderr: process.stderr,
    });
  } catch (e) {
    // The kernel could not be fetched or qemu could not start: this kernel's column is empty.
    await new Promise<void>((resolve) => tap.end(resolve));
    return {
      label,
      how: 'vm',
      wallMs: Date.now() - t0,
      exitCode: 125,
      failure: e instanceof Error ? e.message : String(e),
      reportDir: dir,
    };
  }
  await new Promise<void>((resolve) => tap.end(resolve));
  const summary = readSummary(dir);
  if (summary !== undefined) await writeHtmlReport(dir, summary);
  const failure =
    r.failure ??
    (summary === undefined ? `the guest's xlb run exited ${r.exitCode} without writing ${path.join(dir, 'summary.json')}` : undefined);
  return {
    label,
    release: r.kernel.release,
    how: `vm, ${r.accel.accel}`,
    wallMs: r.wallMs,
    ...(r.bootMs === undefined ? {} : { bootMs: r.bootMs }),
    exitCode: r.exitCode,
    reportDir: dir,
    ...(failure === undefined ? {} : { failure: `${failure} (console log: ${r.log})` }),
    ...(summary === undefined ? {} : { summary }),
  };
}

/** Runs the matrix and writes the merged report; returns the merged summary. */
export async function runMatrix(o: MatrixOptions, results: number): Promise<MatrixSummary> {
  const started = new Date();
  const rel = path.relative(PROJECT_ROOT, o.reportDir);
  if (o.kernels.some((k) => k !== 'host') && (rel.startsWith('..') || path.isAbsolute(rel))) {
    throw new Error(
      `--report ${o.reportDir}: with guest kernels the report folder must be inside the project folder ${PROJECT_ROOT} (the guest writes into it over the shared folder)`,
    );
  }
  mkdirSync(o.reportDir, { recursive: true });
  // Build once, on the host: a guest that finds the BPF objects or the addon stale would rebuild
  // them itself under emulation (seen: 4 min of node-gyp in a TCG guest) into the shared folder.
  if (process.getuid?.() === 0) {
    const b = await execa(path.join(PROJECT_ROOT, 'scripts', 'setup.sh'), ['--quiet'], { reject: false, stdio: 'inherit' });
    if (b.exitCode !== 0) throw new Error(`scripts/setup.sh --quiet failed (exit ${b.exitCode}): fix the build before the matrix`);
  }
  const runs: KernelRun[] = [];
  // Ctrl-C (or SIGTERM) ends the kernel running now (xlb vm run kills its guest; the host's
  // xlb run gets the terminal's SIGINT itself) and the matrix after it: the kernels done so far
  // are still merged and reported, the rest are named as not run.
  let stopped: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    stopped = sig;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  for (const label of o.kernels) {
    if (stopped !== undefined) {
      runs.push({
        label,
        how: label === 'host' ? 'host' : 'vm',
        wallMs: 0,
        exitCode: 130,
        failure: `not run: the matrix was interrupted (${stopped})`,
        reportDir: '',
      });
      continue;
    }
    const dir = path.join(o.reportDir, 'kernels', label.replace(/[^A-Za-z0-9._+-]/g, '_'));
    mkdirSync(dir, { recursive: true });
    process.stderr.write(`\n=== kernel ${label}: xlb ${childArgs(o, path.relative(PROJECT_ROOT, dir), label !== 'host').join(' ')} ===\n`);
    const run = label === 'host' ? await runHost(o, dir) : await runGuest(label, o, dir, results);
    process.stderr.write(
      `=== kernel ${label}: ${run.summary === undefined ? 'no results' : `${run.summary.passed} passed, ${run.summary.failed} failed, ${run.summary.skipped} skipped`} in ${(run.wallMs / 1000).toFixed(0)} s${run.failure === undefined ? '' : `; ${run.failure}`} ===\n`,
    );
    runs.push(run);
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  const merged = mergeKernelRuns(runs, o.seed, started);
  writeReports(o.reportDir, merged);
  const text = formatMatrix(merged);
  writeFileSync(path.join(o.reportDir, 'matrix.txt'), `${text}\n`);
  await writeHtmlReport(o.reportDir, merged, kernelDiffSection(merged));
  return merged;
}
