// /proc helpers: process identity (pid + start time) and finding the processes that belong to a
// lab (living in one of its namespaces, or carrying its id in XLB_LAB_ID).
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { LAB_ENV } from '../src/topology/naming.ts';

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined if gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parens: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number, start?: string): boolean {
  const s = processStartTime(pid);
  if (s === undefined) return false;
  if (start !== undefined && s !== start) return false;
  // A zombie has exited; only its parent's wait is missing.
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return state.slice(state.lastIndexOf(')') + 2, state.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => p !== process.pid);
}

/** Inode of a network namespace file (/run/netns/NAME), or undefined. */
export function netnsInode(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

/** Pids whose network namespace is one of `inodes`, or whose environment names one of `ids`. */
export function findLabProcesses(inodes: Set<number>, ids: Set<string>): number[] {
  const found: number[] = [];
  for (const pid of allPids()) {
    try {
      const link = readlinkSync(`/proc/${pid}/ns/net`);
      const m = /net:\[(\d+)\]/.exec(link);
      if (m?.[1] !== undefined && inodes.has(Number(m[1]))) {
        found.push(pid);
        continue;
      }
    } catch {
      continue;
    }
    if (ids.size === 0) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      for (const kv of env) {
        if (kv.startsWith(`${LAB_ENV}=`) && ids.has(kv.slice(LAB_ENV.length + 1))) {
          found.push(pid);
          break;
        }
      }
    } catch {
      // gone or kernel thread
    }
  }
  return found;
}

/** SIGKILL every pid, then wait (bounded) until they are gone. */
export async function killAndWait(pids: number[], timeoutMs = 3000): Promise<number[]> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter((p) => isAlive(p));
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    left = left.filter((p) => isAlive(p));
  }
  return left;
}
