// `xlb run [paths…] [--backend sim,prog,lab] [--hook tc,xdp] [--grep RE] [--seed N] [--report DIR]
//          [--keep-on-fail] [--tap] [--kernels 6.1,6.12,host]`
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Hook } from '../datapath/packet-datapath.ts';
import { fuzzMain } from './fuzz/cli.ts';
import { runScenarios } from './runner.ts';
import { BACKENDS, HOOKS } from './world.ts';
import type { BackendName } from './world.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const USAGE = `usage: xlb run [PATH…] [options]

Runs conformance scenarios (default PATH: scenarios/) on each backend and hook, compares the
backends (differential check) and writes DIR/summary.json, DIR/junit.xml, DIR/results.tap and
every result's pcaps under DIR/artifacts/.

  --backend LIST    sim,prog,lab (default: all; prog and lab need root and are skipped without it)
  --hook LIST       tc,xdp (default: both)
  --grep RE         only scenarios whose name matches RE
  --seed N          seed of every random choice (default: random, printed; failures name it)
  --report DIR      where the reports go (default: reports/run-<time>)
  --keep-on-fail    leave a failed lab result's lab up and say how to enter and remove it
  --tap             TAP on stdout (the default when stdout is not a terminal)
  --object-dir DIR  prog/lab: BPF objects from DIR instead of build/bpf (a mutated build)
  --kernels LIST    the kernel matrix: run on each kernel in turn (host, or a SPEC of xlb vm run:
                    6.1, 6.12, …, booted under qemu) and merge: DIR/matrix.txt, one summary with a
                    column per kernel and the behaviour diff between kernels (docs/kernel-matrix.md)
  --model-fault F   sim: switch on a deliberate model fault (the harness's self-test); repeatable
  --fuzz [--packets N]  differential fuzzing instead of scenarios: N random packets per hook
                    (default 100000) through the model and prog (or, with --model-fault, a
                    faulty model); disagreements shrunk into DIR/repro-*.ts (docs/fuzzing.md)
  --mutate          the mutation score: the prog suite on objects built with each deliberate
                    fault (src/harness/mutate/faults.ts); DIR/mutation.json and mutation.md
  --faults LIST     with --mutate: only these faults (comma-separated names)
  -h, --help        this help

Exit status: 0 every result passed or was skipped, 1 a result failed, 2 usage error.`;

class UsageError extends Error {}

function list<T extends string>(v: string | undefined, allowed: readonly T[], what: string): T[] {
  if (v === undefined) return [...allowed];
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (bad.length > 0 || items.length === 0) throw new UsageError(`--${what} ${v}: give a comma-separated list of ${allowed.join(', ')}`);
  return items as T[];
}

export async function main(argv: string[]): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        backend: { type: 'string' },
        hook: { type: 'string' },
        grep: { type: 'string' },
        seed: { type: 'string' },
        report: { type: 'string' },
        'keep-on-fail': { type: 'boolean' },
        tap: { type: 'boolean' },
        'object-dir': { type: 'string' },
        'model-fault': { type: 'string', multiple: true },
        fuzz: { type: 'boolean' },
        packets: { type: 'string' },
        mutate: { type: 'boolean' },
        faults: { type: 'string' },
        kernels: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    console.error(`xlb run: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  try {
    const backends = list<BackendName>(values.backend, BACKENDS, 'backend');
    const hooks = list<Hook>(values.hook, HOOKS, 'hook');
    let seed = randomInt(1, 2 ** 31);
    if (values.seed !== undefined) {
      seed = Number(values.seed);
      if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new UsageError(`--seed ${values.seed}: give an integer 0..4294967295`);
    }
    let grep: RegExp | undefined;
    if (values.grep !== undefined) {
      try {
        grep = new RegExp(values.grep);
      } catch (e) {
        throw new UsageError(`--grep ${values.grep}: ${(e as Error).message}`);
      }
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const reportDir = path.resolve(values.report ?? path.join(ROOT, 'reports', `run-${stamp}`));
    if (values.fuzz === true) return fuzzMain({ packets: values.packets, seed, hooks, reportDir, modelFaults: values['model-fault'] });
    const paths = positionals.length > 0 ? positionals : [path.join(ROOT, 'scenarios')];
    if (values.kernels !== undefined) {
      const { matrixMain } = await import('./matrix/cli.ts');
      return await matrixMain({ kernels: values.kernels, paths, backends, hooks, seed, reportDir, grep: values.grep, objectDir: values['object-dir'] }, (m) => new UsageError(m));
    }
    if (values.mutate === true || values.faults !== undefined) {
      if (values.mutate !== true) throw new UsageError('--faults goes with --mutate');
      const { mutateMain } = await import('./mutate/cli.ts');
      return await mutateMain({ faults: values.faults, paths, hooks, seed, reportDir, grep: values.grep }, (m) => new UsageError(m));
    }
    const summary = await runScenarios({
      paths,
      backends,
      hooks,
      seed,
      reportDir,
      keepOnFail: values['keep-on-fail'] === true,
      tapToStdout: values.tap === true || !process.stdout.isTTY,
      root: path.join(ROOT, 'scenarios'),
      ...(grep === undefined ? {} : { grep }),
      ...(values['object-dir'] === undefined ? {} : { objectDir: path.resolve(values['object-dir']) }),
      ...(values['model-fault'] === undefined ? {} : { modelFaults: values['model-fault'] }),
    });
    return summary.failed > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`xlb run: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`xlb run: ${process.env.XLB_DEBUG === '1' ? ((e as Error).stack ?? String(e)) : (e as Error).message}`);
    return 1;
  }
}
