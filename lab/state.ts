// The per-lab state file, /run/xlb/labs/<name>.json: what a lab is made of and which processes
// it started, so `xlb lab ls`, `down`, `exec` and the crash sweep work from any process.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { STATE_DIR } from '../src/topology/naming.ts';
import type { ResolvedTopology } from '../src/topology/topology.ts';
import { processStartTime } from './procs.ts';

export interface TrackedProcess {
  pid: number;
  /** /proc/PID/stat start time: tells a live process from a reused pid. */
  start: string;
  node: string;
  command: string;
}

export interface LabState {
  version: 1;
  name: string;
  id: string;
  topology: ResolvedTopology;
  /** The process that owns the lab (closes it on exit); null for labs left up by `xlb lab up`. */
  owner: { pid: number; start: string } | null;
  createdAt: string;
  status: 'creating' | 'up' | 'closing';
  processes: TrackedProcess[];
  runDir: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

export function checkLabName(name: string): void {
  if (!NAME_RE.test(name)) throw new Error(`bad lab name '${name}': use 1-64 characters [A-Za-z0-9_.-], starting with a letter or digit`);
}

export function statePath(name: string): string {
  checkLabName(name);
  return path.join(STATE_DIR, `${name}.json`);
}

export function writeState(s: LabState): void {
  mkdirSync(STATE_DIR, { recursive: true });
  const file = statePath(s.name);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`);
  renameSync(tmp, file);
}

export function readState(name: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(name), 'utf8')) as LabState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read lab state ${statePath(name)}: ${(e as Error).message} (remove the file, then run 'xlb lab down --all')`);
  }
}

export function removeState(name: string): void {
  rmSync(statePath(name), { force: true });
}

/** Every readable state file; unreadable ones are reported in `broken`. */
export function listStates(): { states: LabState[]; broken: string[] } {
  const states: LabState[] = [];
  const broken: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(STATE_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return { states, broken };
  }
  for (const f of files) {
    try {
      states.push(JSON.parse(readFileSync(path.join(STATE_DIR, f), 'utf8')) as LabState);
    } catch {
      broken.push(path.join(STATE_DIR, f));
    }
  }
  return { states, broken };
}

/** True when the lab's owner process is gone (crashed or killed) and the lab is not detached. */
export function ownerIsDead(s: LabState): boolean {
  if (s.owner === null) return false;
  return processStartTime(s.owner.pid) !== s.owner.start;
}
