// `xlb run --mutate [--faults A,B] [PATH…]`: the mutation score of the conformance suite. For each
// deliberate fault of faults.ts: build both entry objects with it (faulty-build.ts), load each
// once (a fault the verifier refuses is "not applicable", not killed), run the suite's `prog`
// backend on them through the real `xlb run --object-dir` (one child process per fault: the
// runner's node-tap root can run once per process), and call the fault killed when a result
// fails that passed on the default build (the baseline run first), survived when none does.
// Sequential on purpose (the machine has 2 cores); the next fault's build overlaps this run.
// Writes DIR/mutation.json (MutationReport), DIR/mutation.md and every run's reports under
// DIR/faults/<NAME>/. Exit 0 whatever the score: the aim (90 %) is for the suite's authors.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { Hook } from '../../datapath/packet-datapath.ts';
import { openProgDatapath } from '../../datapath/prog-datapath.ts';
import { buildFaultyObjects } from '../faulty-build.ts';
import type { ResultRecord, RunSummary } from '../results.ts';
import type { Fault, Stage } from './faults.ts';
import { ROOT } from '../../root.ts';

export const MUTATION_AIM = 0.9;

export interface MutateOptions {
  faults: Fault[];
  paths: string[];
  hooks: Hook[];
  seed: number;
  reportDir: string;
  grep?: string;
  /** Progress lines (default: stderr). */
  say?: (line: string) => void;
}

/**
 * not_applicable: the build or the verifier refused it; error: the suite's run itself broke (no
 * summary written: the harness or the machine, not a verdict on the fault; not counted, listed).
 */
export type FaultOutcome = 'killed' | 'survived' | 'not_applicable' | 'error';

export interface FaultResult {
  name: string;
  stage: Stage;
  breaks: string;
  progBlind?: string;
  outcome: FaultOutcome;
  /** not_applicable / error: why; survived/killed: absent. */
  why?: string;
  /** The results that failed with this fault and passed on the default build: `scenario [backend hook]`. */
  killedBy: string[];
  counts: { passed: number; failed: number; skipped: number };
  buildMs: number;
  runMs: number;
  /** This fault's xlb run reports. */
  reportDir: string;
}

export interface MutationReport {
  startedAt: string;
  durationMs: number;
  seed: number;
  paths: string[];
  hooks: Hook[];
  /** Results (scenario × prog × hook) of the default build, and those that failed there (not counted as kills). */
  baseline: { results: number; failed: string[]; runMs: number };
  aim: number;
  killed: number;
  survived: number;
  notApplicable: number;
  /** Runs that broke (outcome error): not counted in the score. */
  errors: number;
  applicable: number;
  /** killed / applicable (0 when nothing applied). */
  score: number;
  /** Written after each fault while the run goes on: true until the last one is done. */
  partial: boolean;
  faults: FaultResult[];
}

const label = (r: ResultRecord): string => `${r.scenario} [${r.backend} ${r.hook}]`;

/** One `xlb run --backend prog` in a child process; returns its summary. */
async function runSuite(o: MutateOptions, reportDir: string, objectDir?: string): Promise<RunSummary> {
  mkdirSync(reportDir, { recursive: true });
  const args = [
    '--enable-source-maps',
    '--import',
    `file://${ROOT}/node_modules/tsx/dist/loader.mjs`,
    path.join(ROOT, 'src/cli.ts'),
    'run',
    ...o.paths,
    '--backend',
    'prog',
    '--hook',
    o.hooks.join(','),
    '--seed',
    String(o.seed),
    '--report',
    reportDir,
    '--tap',
    ...(o.grep === undefined ? [] : ['--grep', o.grep]),
    ...(objectDir === undefined ? [] : ['--object-dir', objectDir]),
  ];
  const r = await execa(process.execPath, args, { reject: false, all: true, cwd: ROOT, timeout: 20 * 60_000 });
  writeFileSync(path.join(reportDir, 'output.txt'), r.all ?? '');
  const file = path.join(reportDir, 'summary.json');
  if (!existsSync(file))
    throw new Error(
      `xlb run ${args.slice(5).join(' ')} wrote no summary (exit ${r.exitCode ?? r.signal ?? '?'}):\n${(r.all ?? '').split('\n').slice(-20).join('\n')}`,
    );
  return JSON.parse(readFileSync(file, 'utf8')) as RunSummary;
}

/** The instructions of an object (`llvm-objdump -d -r`, without the lines naming the file). */
export async function disassemble(object: string): Promise<string> {
  for (const tool of ['llvm-objdump-16', 'llvm-objdump']) {
    const r = await execa(tool, ['-d', '-r', object], { reject: false });
    if (r.exitCode === 0) return r.stdout.split('\n').slice(2).join('\n');
  }
  throw new Error('llvm-objdump not found: install llvm (./xlb setup)');
}

/** Loads each hook's object once (the verifier's verdict); returns the error text or undefined. */
function loadError(objectDir: string, hooks: Hook[]): string | undefined {
  for (const hook of hooks) {
    try {
      openProgDatapath({ hook, objectPath: path.join(objectDir, `xlb_${hook}.bpf.o`) }).close();
    } catch (e) {
      return `${hook}: ${(e as Error).message.split('\n').slice(0, 3).join(' ').slice(0, 400)}`;
    }
  }
  return undefined;
}

interface Built {
  dir: string;
  ms: number;
  error?: string;
}

function startBuild(fault: Fault, hooks: Hook[]): Promise<Built> {
  const dir = mkdtempSync(path.join(tmpdir(), `xlb-mutate-${fault.name}-`));
  const t0 = Date.now();
  return buildFaultyObjects(fault.name, dir, hooks).then(
    () => ({ dir, ms: Date.now() - t0 }),
    (e: unknown) => ({ dir, ms: Date.now() - t0, error: (e as Error).message }),
  );
}

export async function runMutation(o: MutateOptions): Promise<MutationReport> {
  const say = o.say ?? ((l: string) => process.stderr.write(`${l}\n`));
  const started = new Date();
  mkdirSync(o.reportDir, { recursive: true });
  const t0 = Date.now();
  say(
    `mutation run: ${o.faults.length} fault${o.faults.length === 1 ? '' : 's'}, suite ${o.paths.map((p) => path.relative(process.cwd(), p) || '.').join(' ')} on prog (${o.hooks.join(', ')}), seed ${o.seed}; baseline (default build) first`,
  );
  const base = await runSuite(o, path.join(o.reportDir, 'baseline'));
  const baseFailed = new Set(base.results.filter((r) => r.status === 'failed').map(label));
  const basePassed = base.results.filter((r) => r.status === 'passed').length;
  say(
    `baseline: ${basePassed} passed, ${baseFailed.size} failed${baseFailed.size > 0 ? ` (not counted as kills: ${[...baseFailed].join(', ')})` : ''}, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  if (basePassed === 0)
    throw new Error(
      `the suite passes nothing on the default build (${base.results.length} results): a mutation score would mean nothing; see ${path.join(o.reportDir, 'baseline')}`,
    );
  const baseline = { results: base.results.length, failed: [...baseFailed], runMs: Date.now() - t0 };
  // the default build's instructions: a fault whose build has the same changes nothing (a dead point)
  const defDir = mkdtempSync(path.join(tmpdir(), 'xlb-mutate-default-'));
  const defaultCode = new Map<Hook, string>();
  try {
    await buildFaultyObjects('NONE', defDir, o.hooks); // an unused macro: the default build
    for (const h of o.hooks) defaultCode.set(h, await disassemble(path.join(defDir, `xlb_${h}.bpf.o`)));
  } finally {
    rmSync(defDir, { recursive: true, force: true });
  }

  const faults: FaultResult[] = [];
  let next: Promise<Built> | undefined = o.faults[0] === undefined ? undefined : startBuild(o.faults[0], o.hooks);
  for (let i = 0; i < o.faults.length; i++) {
    const fault = o.faults[i] as Fault;
    const built = await (next as Promise<Built>);
    const following = o.faults[i + 1];
    next = following === undefined ? undefined : startBuild(following, o.hooks);
    const reportDir = path.join(o.reportDir, 'faults', fault.name);
    const res: FaultResult = {
      name: fault.name,
      stage: fault.stage,
      breaks: fault.breaks,
      ...(fault.progBlind === undefined ? {} : { progBlind: fault.progBlind }),
      outcome: 'not_applicable',
      killedBy: [],
      counts: { passed: 0, failed: 0, skipped: 0 },
      buildMs: built.ms,
      runMs: 0,
      reportDir,
    };
    try {
      let same = built.error === undefined;
      for (const h of o.hooks) if (same && (await disassemble(path.join(built.dir, `xlb_${h}.bpf.o`))) !== defaultCode.get(h)) same = false;
      const why = built.error ?? (same ? undefined : loadError(built.dir, o.hooks));
      if (same) {
        res.why = 'the build has the default instructions: the point changes nothing';
      } else if (why !== undefined) {
        res.why = built.error !== undefined ? `build failed: ${why}` : `refused by the verifier: ${why}`;
      } else {
        const r0 = Date.now();
        try {
          const s = await runSuite(o, reportDir, built.dir);
          res.counts = { passed: s.passed, failed: s.failed, skipped: s.skipped };
          res.killedBy = s.results.filter((r) => r.status === 'failed' && !baseFailed.has(label(r))).map(label);
          res.outcome = res.killedBy.length > 0 ? 'killed' : 'survived';
        } catch (e) {
          res.outcome = 'error';
          res.why = (e as Error).message;
        }
        res.runMs = Date.now() - r0;
      }
    } finally {
      rmSync(built.dir, { recursive: true, force: true });
    }
    faults.push(res);
    const mark = { killed: 'KILLED  ', survived: 'SURVIVED', not_applicable: 'n/a     ', error: 'ERROR   ' }[res.outcome];
    const tail =
      res.outcome === 'killed'
        ? `by ${res.killedBy[0] ?? ''}${res.killedBy.length > 1 ? ` (+${res.killedBy.length - 1})` : ''}`
        : res.outcome === 'survived'
          ? `— ${fault.breaks}`
          : `— ${res.why ?? ''}`;
    // the report so far, so an interrupted run still leaves its results
    writeFileSync(
      path.join(o.reportDir, 'mutation.json'),
      `${JSON.stringify(summarizeMutation(o, started, baseline, faults, true), null, 2)}\n`,
    );
    say(
      `[${i + 1}/${o.faults.length}] ${mark} ${fault.name} (${fault.stage}) build ${(res.buildMs / 1000).toFixed(1)} s, run ${(res.runMs / 1000).toFixed(1)} s ${tail}`,
    );
  }
  if (next !== undefined) rmSync((await next).dir, { recursive: true, force: true });

  const report = summarizeMutation(o, started, baseline, faults, false);
  writeFileSync(path.join(o.reportDir, 'mutation.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(o.reportDir, 'mutation.md'), mutationMarkdown(report));
  say(`\n${scoreLine(report)}`);
  const surv = faults.filter((f) => f.outcome === 'survived');
  if (surv.length > 0)
    say(
      `survivors (each a scenario to write):\n${surv.map((f) => `  ${f.name} (${f.stage}): ${f.breaks}${f.progBlind === undefined ? '' : ` [${f.progBlind}]`}`).join('\n')}`,
    );
  say(`reports: ${path.join(o.reportDir, 'mutation.json')}, ${path.join(o.reportDir, 'mutation.md')}`);
  return report;
}

function summarizeMutation(
  o: MutateOptions,
  started: Date,
  baseline: MutationReport['baseline'],
  faults: FaultResult[],
  partial: boolean,
): MutationReport {
  const killed = faults.filter((f) => f.outcome === 'killed').length;
  const survived = faults.filter((f) => f.outcome === 'survived').length;
  const applicable = killed + survived;
  return {
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    seed: o.seed,
    paths: o.paths,
    hooks: o.hooks,
    baseline,
    aim: MUTATION_AIM,
    killed,
    survived,
    notApplicable: faults.filter((f) => f.outcome === 'not_applicable').length,
    errors: faults.filter((f) => f.outcome === 'error').length,
    applicable,
    score: applicable === 0 ? 0 : killed / applicable,
    partial,
    faults,
  };
}

export function scoreLine(r: MutationReport): string {
  const pct = (r.score * 100).toFixed(1);
  return `mutation score ${pct} % (${r.killed} killed of ${r.applicable} applicable; ${r.survived} survived, ${r.notApplicable} not applicable${r.errors > 0 ? `, ${r.errors} runs broke (not counted)` : ''}; aim ${(r.aim * 100).toFixed(0)} %${r.score >= r.aim ? ', met' : ', not met'}) in ${(r.durationMs / 1000).toFixed(0)} s`;
}

export function mutationMarkdown(r: MutationReport): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = [
    `# Mutation score: ${(r.score * 100).toFixed(1)} %`,
    '',
    `${scoreLine(r)}. Suite: ${r.paths.map((p) => path.relative(ROOT, p) || '.').join(' ')} on prog (${r.hooks.join(', ')}), seed ${r.seed}, ${r.startedAt}. Baseline (default build): ${r.baseline.results} results, ${r.baseline.failed.length} failed${r.baseline.failed.length > 0 ? ` (${r.baseline.failed.join(', ')}: not counted as kills)` : ''}.`,
    '',
    '| fault | stage | outcome | killed by | build s | run s | breaks |',
    '|---|---|---|---|---|---|---|',
    ...r.faults.map(
      (f) =>
        `| \`${f.name}\` | ${f.stage} | ${f.outcome === 'not_applicable' ? 'not applicable' : f.outcome} | ${f.outcome === 'killed' ? `${esc(f.killedBy[0] ?? '')}${f.killedBy.length > 1 ? ` (+${f.killedBy.length - 1})` : ''}` : esc((f.why ?? '').split('\n')[0] ?? '')} | ${(f.buildMs / 1000).toFixed(1)} | ${(f.runMs / 1000).toFixed(1)} | ${esc(f.breaks)}${f.progBlind === undefined ? '' : ` (${esc(f.progBlind)})`} |`,
    ),
    '',
  ];
  const surv = r.faults.filter((f) => f.outcome === 'survived');
  if (surv.length > 0)
    lines.push(
      '## Survivors (each a scenario to write)',
      '',
      ...surv.map((f) => `- \`${f.name}\` (${f.stage}): ${f.breaks}${f.progBlind === undefined ? '' : ` — ${f.progBlind}`}`),
      '',
    );
  return lines.join('\n');
}
