// `xlb run [PATH…] [options]`: the conformance scenarios on the backends (sim, prog, lab) and hooks.
// `xlb run [paths…] [--backend sim,prog,lab] [--hook tc,xdp] [--grep RE] [--seed N] [--report DIR]
//          [--keep-on-fail] [--tap] [--kernels 6.1,6.12,host]`
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { act, command, integer, listOf, repeat, runCommand, UsageError } from '../cli-kit.ts';
import type { Hook } from '../datapath/packet-datapath.ts';
import { BACKENDS, HOOKS } from './world.ts';
import type { BackendName } from './world.ts';
import { ROOT } from '../root.ts';

interface Opts {
  backend?: BackendName[];
  hook?: Hook[];
  grep?: string;
  seed?: number;
  report?: string;
  keepOnFail?: boolean;
  tap?: boolean;
  /** false with --no-html. */
  html?: boolean;
  objectDir?: string;
  kernels?: string;
  modelFault?: string[];
  fuzz?: boolean;
  packets?: string;
  mutate?: boolean;
  faults?: string;
}

export async function main(argv: string[]): Promise<number> {
  const cmd = command(
    'run',
    "Runs conformance scenarios (default PATH: scenarios/) on each backend and hook, compares the backends (differential check) and writes DIR/summary.json, DIR/junit.xml, DIR/results.tap and every result's pcaps under DIR/artifacts/.",
  )
    .argument('[path...]', 'scenario files or folders (default scenarios/)')
    .option('--backend <list>', 'sim,prog,lab (default: all; prog and lab need root and are skipped without it)', listOf(BACKENDS))
    .option('--hook <list>', 'tc,xdp (default: both)', listOf(HOOKS))
    .option('--grep <re>', 'only scenarios whose name matches RE')
    .option('--seed <n>', 'seed of every random choice (default: random, printed; failures name it)', integer(0, 2 ** 32 - 1))
    .option('--report <dir>', 'where the reports go (default reports/run-<time>)')
    .option('--keep-on-fail', "leave a failed lab result's lab up and say how to enter and remove it")
    .option('--tap', 'TAP on stdout (the default when stdout is not a terminal)')
    .option('--no-html', "no DIR/index.html (the other reports are written; a kernel matrix renders its guests' on the host)")
    .option('--object-dir <dir>', 'prog/lab: BPF objects from DIR instead of build/bpf (a mutated build)')
    .option(
      '--kernels <list>',
      'the kernel matrix: run on each kernel in turn (host, or a SPEC of xlb vm run: 6.1, 6.12, …, booted under qemu) and merge: DIR/matrix.txt, one summary with a column per kernel and the behaviour diff between kernels (docs/kernel-matrix.md)',
    )
    .option('--model-fault <fault>', "sim: switch on a deliberate model fault (the harness's self-test); repeatable", repeat)
    .option(
      '--fuzz',
      'differential fuzzing instead of scenarios: --packets random packets per hook through the model and prog (or, with --model-fault, a faulty model); disagreements shrunk into DIR/repro-*.ts (docs/fuzzing.md)',
    )
    .option('--packets <n>', 'with --fuzz: packets per hook (default 100000)')
    .option(
      '--mutate',
      'the mutation score: the prog suite on objects built with each deliberate fault (src/harness/mutate/faults.ts); DIR/mutation.json and mutation.md',
    )
    .option('--faults <list>', 'with --mutate: only these faults (comma-separated names)')
    .addHelpText('after', '\nExit status: 0 every result passed or was skipped, 1 a result failed, 2 usage error.');
  act(cmd, () => run((cmd.processedArgs[0] as string[] | undefined) ?? [], cmd.opts<Opts>()));
  return runCommand(cmd, argv);
}

async function run(positionals: string[], values: Opts): Promise<number> {
  const backends = values.backend ?? [...BACKENDS];
  const hooks = values.hook ?? [...HOOKS];
  const seed = values.seed ?? randomInt(1, 2 ** 31);
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
  if (values.fuzz === true) {
    const { fuzzMain } = await import('./fuzz/cli.ts');
    return fuzzMain({ packets: values.packets, seed, hooks, reportDir, modelFaults: values.modelFault });
  }
  const paths = positionals.length > 0 ? positionals : [path.join(ROOT, 'scenarios')];
  if (values.kernels !== undefined) {
    const { matrixMain } = await import('./matrix/cli.ts');
    return await matrixMain(
      { kernels: values.kernels, paths, backends, hooks, seed, reportDir, grep: values.grep, objectDir: values.objectDir },
      (m) => new UsageError(m),
    );
  }
  if (values.mutate === true || values.faults !== undefined) {
    if (values.mutate !== true) throw new UsageError('--faults goes with --mutate');
    const { mutateMain } = await import('./mutate/cli.ts');
    return await mutateMain({ faults: values.faults, paths, hooks, seed, reportDir, grep: values.grep }, (m) => new UsageError(m));
  }
  const { runScenarios } = await import('./runner.ts');
  const summary = await runScenarios({
    paths,
    backends,
    hooks,
    seed,
    reportDir,
    keepOnFail: values.keepOnFail === true,
    tapToStdout: values.tap === true || !process.stdout.isTTY,
    html: values.html !== false,
    root: path.join(ROOT, 'scenarios'),
    ...(grep === undefined ? {} : { grep }),
    ...(values.objectDir === undefined ? {} : { objectDir: path.resolve(values.objectDir) }),
    ...(values.modelFault === undefined ? {} : { modelFaults: values.modelFault }),
  });
  return summary.failed > 0 ? 1 : 0;
}
