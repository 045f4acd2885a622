// The `--mutate` branch of `xlb run` (src/harness/cli.ts parses the options and hands over).
import path from 'node:path';
import type { Hook } from '../../datapath/packet-datapath.ts';
import { selectFaults } from './faults.ts';
import { runMutation } from './run.ts';

export interface MutateArgs {
  faults: string | undefined;
  paths: string[];
  hooks: Hook[];
  seed: number;
  reportDir: string;
  grep: string | undefined;
}

/** Runs the mutation score; usage errors are thrown through `usage` (exit 2 in cli.ts). Exit 0 whatever the score. */
export async function mutateMain(a: MutateArgs, usage: (message: string) => Error): Promise<number> {
  let faults;
  try {
    faults = selectFaults(a.faults);
  } catch (e) {
    throw usage((e as Error).message);
  }
  if (process.getuid?.() !== 0) {
    console.error('xlb run --mutate: the prog backend loads BPF programs: run as root');
    return 1;
  }
  await runMutation({
    faults,
    paths: a.paths.map((p) => path.resolve(p)),
    hooks: a.hooks,
    seed: a.seed,
    reportDir: a.reportDir,
    ...(a.grep === undefined ? {} : { grep: a.grep }),
  });
  return 0;
}
