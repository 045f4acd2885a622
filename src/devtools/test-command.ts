// `xlb test`: every check the project has, in one run, ending with ONE line
// `N passed, N failed[, N skipped]` summed over all of them. Exits 1 on any failure.
//
//   build:bpf    clang on bpf/ (a compile error is shown with its file:line)
//   build:addon  node-gyp on src/bpf/native
//   build:js     tsc to dist/ (what the `xlb` launcher runs), with source maps
//   typecheck    tsc --noEmit (errors as file(line,col))
//   lint         eslint
//   format       prettier --check (.prettierrc.json; `npx prettier --write .` fixes it)
//   boundaries   dependency-cruiser: the import rules of .dependency-cruiser.cjs
//   unit         ava on *.test.ts (TAP, each test counted); with --coverage under c8, which
//                reports line/branch coverage and writes reports/coverage/index.html
//   vm           `xlb vm smoke --kernel 6.1`: boot 6.1 under qemu, load the datapath, one scenario on prog
//   scenarios    `xlb run scenarios --backend sim,prog,lab` (each result counted: scenario ×
//                backend × hook, and each differential comparison; prog and lab skipped without root)
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { act, command, listOf, runCommand } from '../cli-kit.ts';
import { ROOT } from '../root.ts';

const BIN = path.join(ROOT, 'node_modules', '.bin');

export interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

interface StepResult extends Tally {
  step: string;
  ms: number;
}

/** Counts a TAP stream: the summary comments when present, else the top-level test points. */
export function countTap(output: string): Tally {
  const summary = (key: string): number | undefined => {
    const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(output);
    return m?.[1] !== undefined ? Number(m[1]) : undefined;
  };
  const pass = summary('pass');
  const fail = summary('fail');
  if (pass !== undefined || fail !== undefined) {
    const skip = (summary('skip') ?? 0) + (summary('todo') ?? 0);
    return { passed: pass ?? 0, failed: fail ?? 0, skipped: skip };
  }
  const t: Tally = { passed: 0, failed: 0, skipped: 0 };
  for (const line of output.split('\n')) {
    const m = /^(not ok|ok)\b.*?(#\s*(SKIP|TODO)\b)?/i.exec(line);
    if (m === null) continue;
    if (m[3] !== undefined) t.skipped++;
    else if (m[1] === 'ok') t.passed++;
    else t.failed++;
  }
  return t;
}

async function exec(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ ok: boolean; output: string }> {
  const child = execa(cmd, args, { cwd: ROOT, reject: false, all: true, env: { FORCE_COLOR: '0', ...env } });
  child.all?.on('data', (chunk: Buffer) => process.stdout.write(chunk));
  const r = await child;
  return { ok: r.exitCode === 0 && r.failed === false, output: r.all ?? '' };
}

function findFiles(dir: string, pred: (f: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findFiles(p, pred));
    else if (pred(p)) out.push(p);
  }
  return out;
}

function banner(step: string): void {
  process.stdout.write(`\n=== ${step} ===\n`);
}

const STEPS = ['build', 'typecheck', 'lint', 'format', 'boundaries', 'unit', 'scenarios', 'vm'] as const;
type Step = (typeof STEPS)[number];

interface Opts {
  only?: Step[];
  coverage?: boolean;
}

export async function main(argv: string[]): Promise<number> {
  const cmd = command('test', 'Runs every check and ends with one line: `N passed, N failed[, N skipped]`. Exit 1 when any check failed.')
    .option('--only <steps>', `only these steps, comma-separated or repeated: ${STEPS.join(', ')}`, listOf(STEPS))
    .option('--coverage', 'run the unit step under c8: line and branch coverage, reports/coverage/index.html');
  act(cmd, () => run(cmd.opts<Opts>()));
  return runCommand(cmd, argv);
}

async function run(o: Opts): Promise<number> {
  const only = new Set<string>(o.only ?? []);
  const want = (s: string): boolean => only.size === 0 || only.has(s);
  const results: StepResult[] = [];
  const single = async (step: string, cmd: string, args: string[]): Promise<void> => {
    banner(step);
    const t0 = Date.now();
    const r = await exec(cmd, args);
    results.push({ step, ms: Date.now() - t0, passed: r.ok ? 1 : 0, failed: r.ok ? 0 : 1, skipped: 0 });
    if (!r.ok) process.stdout.write(`\n${step}: FAILED\n`);
  };

  if (want('build')) {
    await single('build:bpf', path.join(ROOT, 'scripts', 'build.sh'), ['bpf']);
    await single('build:addon', path.join(ROOT, 'scripts', 'build.sh'), ['addon']);
    await single('build:js', path.join(ROOT, 'scripts', 'build.sh'), ['js']);
  }
  if (want('typecheck')) await single('typecheck', path.join(BIN, 'tsc'), ['--noEmit', '--pretty', 'false', '-p', 'tsconfig.json']);
  if (want('lint')) await single('lint', path.join(BIN, 'eslint'), ['--max-warnings', '0', '.']);
  if (want('format')) await single('format', path.join(BIN, 'prettier'), ['--check', '--log-level', 'warn', '**/*.{ts,js,cjs,mjs,json}']);
  // Every violation fails the step (no baseline of known ones).
  if (want('boundaries'))
    await single('boundaries', path.join(BIN, 'depcruise'), ['-c', '.dependency-cruiser.cjs', 'src', 'lab', 'bench', 'scenarios']);

  if (want('unit')) {
    banner(o.coverage === true ? 'unit (ava under c8)' : 'unit (ava)');
    const t0 = Date.now();
    const coverageDir = path.join(ROOT, 'reports', 'coverage');
    const r =
      o.coverage === true
        ? await exec(path.join(BIN, 'c8'), [
            '--reporter',
            'text-summary',
            '--reporter',
            'html',
            '--report-dir',
            coverageDir,
            '--exclude',
            '**/*.test.ts',
            '--exclude',
            'node_modules/**',
            '--exclude',
            'dist/**',
            path.join(BIN, 'ava'),
            '--tap',
          ])
        : await exec(path.join(BIN, 'ava'), ['--tap']);
    if (o.coverage === true) process.stdout.write(`coverage report: ${path.relative(ROOT, coverageDir)}/index.html\n`);
    const tally = countTap(r.output);
    // A runner that failed without reporting a failed test (crash, no tests found) is a failure.
    if (!r.ok && tally.failed === 0) tally.failed = 1;
    results.push({ step: 'unit', ms: Date.now() - t0, ...tally });
  }

  const scenarioFiles = findFiles(path.join(ROOT, 'scenarios'), (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  if (want('scenarios') && scenarioFiles.length > 0) {
    // One run: every scenario on sim, prog and lab, both hooks (sim and prog compared strictly,
    // prog and lab semantically). The lab reuses one World per topology and hook, reset between
    // results (src/harness/lab-pool.ts), which is what fits the whole suite in the budget.
    // Without root, prog and lab are skipped with the reason.
    const runs: { name: string; args: string[] }[] = [{ name: 'all', args: ['scenarios', '--backend', 'sim,prog,lab'] }];
    for (const { name, args } of runs) {
      banner(`scenarios ${name} (xlb run)`);
      const t0 = Date.now();
      const reportDir = path.join(ROOT, 'reports', 'test-run', name);
      rmSync(reportDir, { recursive: true, force: true });
      const r = await exec(path.join(ROOT, 'xlb'), ['run', ...args, '--tap', '--report', reportDir]);
      const summaryFile = path.join(reportDir, 'summary.json');
      let tally: Tally = { passed: 0, failed: 1, skipped: 0 };
      if (existsSync(summaryFile)) {
        const sm = JSON.parse(readFileSync(summaryFile, 'utf8')) as Tally & { knownFailures?: number };
        // A known failure (a scenario's knownFailures mark, failing as it says) counts as skipped,
        // as the VM smoke's known failure does; an unexpected pass is already in `failed`.
        tally = { passed: sm.passed, failed: sm.failed, skipped: sm.skipped + (sm.knownFailures ?? 0) };
      }
      // A run that failed without a failed result (a crash, a usage error) is a failure.
      if (!r.ok && tally.failed === 0) tally.failed = 1;
      process.stdout.write(`scenarios ${name}: report in ${path.relative(ROOT, reportDir)}/ (index.html, summary.json, junit.xml)\n`);
      results.push({ step: `scen:${name}`, ms: Date.now() - t0, ...tally });
    }
  }

  // The kernel matrix's smoke: boot Debian's 6.1 (the oldest kernel checked) under qemu, load the
  // datapath there and run one scenario on prog, so `xlb vm` and the old-kernel verifier cannot
  // rot (the full matrix is a separate command: docs/kernel-matrix.md). One counted check.
  if (want('vm')) {
    const why =
      process.getuid?.() !== 0
        ? 'needs root'
        : !existsSync('/usr/bin/qemu-system-x86_64')
          ? 'qemu-system-x86_64 missing (./xlb setup installs it)'
          : undefined;
    if (why !== undefined) {
      process.stdout.write(`\n=== vm smoke: skipped (${why}) ===\n`);
      results.push({ step: 'vm', ms: 0, passed: 0, failed: 0, skipped: 1 });
    } else {
      banner('vm');
      const t0 = Date.now();
      const r = await exec(path.join(ROOT, 'xlb'), ['vm', 'smoke', '--kernel', '6.1']);
      results.push({ step: 'vm', ms: Date.now() - t0, passed: r.ok ? 1 : 0, failed: r.ok ? 0 : 1, skipped: 0 });
      if (!r.ok) process.stdout.write('\nvm: FAILED\n');
    }
  }

  const total = results.reduce<Tally>(
    (acc, r) => ({ passed: acc.passed + r.passed, failed: acc.failed + r.failed, skipped: acc.skipped + r.skipped }),
    { passed: 0, failed: 0, skipped: 0 },
  );
  process.stdout.write('\n=== summary ===\n');
  for (const r of results) {
    process.stdout.write(
      `${r.step.padEnd(12)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed ${String(r.skipped).padStart(3)} skipped  ${(r.ms / 1000).toFixed(1)}s\n`,
    );
  }
  const skippedPart = total.skipped > 0 ? `, ${total.skipped} skipped` : '';
  process.stdout.write(`${total.passed} passed, ${total.failed} failed${skippedPart}\n`);
  return total.failed > 0 ? 1 : 0;
}
