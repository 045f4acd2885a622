// Times bringing a topology up and down, N times in a row (`xlb lab bench`). Each round is a
// whole Lab.up() (state file, namespaces, veth pairs, addresses, routes, sysctls) and a whole
// close() (processes, namespaces, pins, state file).
import { Lab } from './lab.ts';
import type { TopologySpec } from '../src/topology/topology.ts';

export interface UpDownTimes {
  runs: number;
  upMs: number[];
  downMs: number[];
  upMedianMs: number;
  downMedianMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

export async function timeUpDown(spec: TopologySpec, runs: number): Promise<UpDownTimes> {
  const upMs: number[] = [];
  const downMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const lab = await Lab.up(spec);
    const t1 = performance.now();
    await lab.close();
    const t2 = performance.now();
    upMs.push(t1 - t0);
    downMs.push(t2 - t1);
  }
  return { runs, upMs, downMs, upMedianMs: median(upMs), downMedianMs: median(downMs) };
}
