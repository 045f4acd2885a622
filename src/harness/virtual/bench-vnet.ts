// How fast the virtual network is (wall time; the virtual clock does not care):
//   node --import tsx src/harness/virtual/bench-vnet.ts [--backend pass|sim|prog] [--conns N] [--runs R]
// Runs N TCP connections (payload 64 B, concurrency 10) from c1 to the backends of the two-arm
// topology through the LB node, R times, and prints per run: wall ms, frames carried over links
// (every delivery counts once), frames through the datapath, frames per second of wall time and
// of CPU time (on a shared, loaded machine the CPU figure is the one to compare). `pass` is the
// pass-through test double (the network's own cost: the client straight to b1's address);
// `sim` and `prog` balance an rr DNAT service through the model / the real programs (root).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtinTopology } from '../../topology/builtins.ts';
import { openProgDatapath } from '../../datapath/prog-datapath.ts';
import { openModelDatapath } from '../../model/index.ts';
import { VirtualWorld } from '../virtual-world.ts';
import type { OpenDatapath } from '../virtual-world.ts';
import { openPassThroughDatapath } from './pass-through-datapath.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'pass' },
    conns: { type: 'string', default: '30' },
    runs: { type: 'string', default: '5' },
  },
});
const backend = values.backend ?? 'pass';
const conns = Number(values.conns);
const runs = Number(values.runs);
const open: Record<string, OpenDatapath> = {
  pass: openPassThroughDatapath,
  sim: (o) => openModelDatapath({ ...o, seed: 1 }),
  prog: (o) => openProgDatapath(o),
};
const opener = open[backend];
if (opener === undefined) throw new Error(`--backend ${backend}: use pass, sim or prog`);

for (let run = 0; run < runs; run++) {
  const dir = mkdtempSync(join(tmpdir(), 'xlb-bench-vnet-'));
  const t0 = performance.now();
  const w = new VirtualWorld(
    { backend: backend === 'prog' ? 'prog' : 'sim', hook: 'tc', topology: builtinTopology('two-arm'), seed: run + 1, artifactsDir: dir },
    opener,
  );
  if (backend !== 'pass') {
    await w.apply([
      {
        name: 'echo',
        vip: '198.18.100.1',
        port: 7000,
        protocol: 'tcp',
        algorithm: 'rr',
        mode: 'dnat',
        endpoints: ['198.18.2.11', '198.18.2.12', '198.18.2.13'].map((ip) => ({ ip, port: 7000 })),
      },
    ]);
  }
  const tr = performance.now();
  const cpu0 = process.cpuUsage();
  const r = await w.client('c1', {
    proto: 'tcp',
    target: backend === 'pass' ? '198.18.2.11' : '198.18.100.1',
    count: conns,
    concurrency: 10,
  });
  const wall = performance.now() - tr;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const frames = w.net.ifaces.reduce((n, i) => n + i.stats.rxFrames, 0);
  await w.close();
  const total = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  if (r.summary.ok !== conns)
    throw new Error(`run ${run}: ${r.summary.errors} connection(s) failed: ${r.results.find((x) => x.error !== null)?.error ?? ''}`);
  process.stdout.write(
    `${JSON.stringify({ backend, run, conns, clientWallMs: Math.round(wall), worldWallMs: Math.round(total), frames, datapathFrames: w.events.length, framesPerSec: Math.round(frames / (wall / 1000)), clientCpuMs: Math.round(cpuMs), framesPerCpuSec: Math.round(frames / (cpuMs / 1000)) })}\n`,
  );
}
