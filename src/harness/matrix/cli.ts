// `xlb run … --kernels LIST` (parsed in src/harness/cli.ts): checks the list, runs the matrix,
// prints the merged summary. Exit 1 when a result failed or a kernel's run produced no results.
import path from 'node:path';
import type { Hook } from '../../datapath/packet-datapath.ts';
import { findScenarioFiles } from '../runner.ts';
import type { BackendName } from '../world.ts';
import { formatMatrix } from './merge.ts';
import { parseKernels, runMatrix } from './run.ts';

export interface MatrixCliOptions {
  kernels: string;
  paths: string[];
  backends: BackendName[];
  hooks: Hook[];
  seed: number;
  reportDir: string;
  grep?: string;
  objectDir?: string;
}

export async function matrixMain(o: MatrixCliOptions, usage: (m: string) => Error): Promise<number> {
  let kernels: string[];
  try {
    kernels = parseKernels(o.kernels);
  } catch (e) {
    throw usage((e as Error).message);
  }
  // Absolute paths: the guest runs in the same folder, but a path given from elsewhere must still resolve.
  const paths = o.paths.map((p) => path.resolve(p));
  const results = findScenarioFiles(paths).length * o.backends.length * o.hooks.length;
  const merged = await runMatrix(
    {
      kernels,
      paths,
      backends: o.backends,
      hooks: o.hooks,
      seed: o.seed,
      reportDir: o.reportDir,
      ...(o.grep === undefined ? {} : { grep: o.grep }),
      ...(o.objectDir === undefined ? {} : { objectDir: path.resolve(o.objectDir) }),
    },
    results,
  );
  console.log(formatMatrix(merged));
  console.log(
    `\nreports: ${path.join(o.reportDir, 'index.html')}, summary.json, junit.xml, matrix.txt; per kernel: ${path.join(o.reportDir, 'kernels')}/`,
  );
  return merged.failed > 0 ? 1 : 0;
}
