// `xlb run --fuzz [--packets N] [--seed N] [--hook tc,xdp] [--model-fault F] [--report DIR]`
// (parsed in src/harness/cli.ts): runs run.ts and prints the summary. Exit status 0: no
// disagreement; 1: disagreements (seed, step, reproducers printed); 2: usage.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Hook } from '../../datapath/packet-datapath.ts';
import { runFuzz } from './run.ts';
import type { SideKind } from './world.ts';

export interface FuzzCliOptions {
  packets: string | undefined;
  seed: number;
  hooks: Hook[];
  reportDir: string;
  modelFaults: string[] | undefined;
}

export function fuzzMain(o: FuzzCliOptions): number {
  const packets = o.packets === undefined ? 100_000 : Number(o.packets);
  if (!Number.isSafeInteger(packets) || packets < 1) {
    console.error(`xlb run --fuzz: --packets ${o.packets}: give a whole number of packets ≥ 1`);
    return 2;
  }
  const other: SideKind = o.modelFaults !== undefined ? { kind: 'model', faults: o.modelFaults } : { kind: 'prog' };
  if (other.kind === 'prog' && process.getuid?.() !== 0) {
    console.error(
      'xlb run --fuzz: the real programs run through BPF_PROG_TEST_RUN, which needs root; run as root, or fuzz the model against a faulty model with --model-fault F',
    );
    return 2;
  }
  const report = runFuzz({ packets, seed: o.seed, hooks: o.hooks, ref: { kind: 'model' }, other, reportDir: o.reportDir });
  mkdirSync(o.reportDir, { recursive: true });
  const file = path.join(o.reportDir, 'fuzz.json');
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const n = report.hooks.reduce((a, h) => a + h.disagreements.length, 0);
  console.log(
    `# fuzz summary in ${file}: ${n} disagreement(s); re-run this run with: xlb run --fuzz --seed ${o.seed} --packets ${packets} --hook ${o.hooks.join(',')}${(o.modelFaults ?? []).map((f) => ` --model-fault ${f}`).join('')}`,
  );
  return n > 0 ? 1 : 0;
}
