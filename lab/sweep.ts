// Removing labs from outside their owner: `xlb lab down --name N`, `--stale` (labs whose owner
// process died, e.g. kill -9 mid-run) and `--all` (everything named xlb-*: crashed runs' leftovers
// with or without a state file). Processes are found three ways: the pids in the state file,
// processes living in one of the lab's namespaces, and processes whose environment names the lab.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { deleteNetns, removePins } from './lab.ts';
import { NETNS_DIR, idOfIfname, idOfNetns } from '../src/topology/naming.ts';
import { findLabProcesses, isAlive, killAndWait, netnsInode } from './procs.ts';
import { listStates, ownerIsDead, removeState } from './state.ts';
import type { LabState } from './state.ts';

export interface SweepOptions {
  /** Every lab and every xlb-* leftover, whoever owns it. */
  all?: boolean;
  /** Labs whose owner process is dead (never detached labs of `xlb lab up`). */
  stale?: boolean;
  /** Labs by name. */
  names?: string[];
  /** Runs by id (also finds namespaces without a state file). */
  ids?: string[];
  /** Only report what would be removed. */
  dryRun?: boolean;
}

export interface SweepReport {
  labs: string[];
  namespaces: string[];
  links: string[];
  processes: number[];
  /** Processes that survived SIGKILL (should be empty). */
  survivors: number[];
}

export function labNetnsNames(): string[] {
  try {
    return readdirSync(NETNS_DIR).filter((n) => idOfNetns(n) !== undefined);
  } catch {
    return [];
  }
}

/** Host-namespace links whose name carries a run id (a lab never leaves one; a crash might). */
async function hostLabLinks(): Promise<string[]> {
  const r = await execa('ip', ['-j', 'link', 'show'], { reject: false });
  if (r.exitCode !== 0) return [];
  const links = JSON.parse(r.stdout || '[]') as { ifname: string }[];
  return links.map((l) => l.ifname).filter((n) => idOfIfname(n) !== undefined);
}

export async function sweep(opts: SweepOptions): Promise<SweepReport> {
  const { states } = listStates();
  const chosen: LabState[] = states.filter(
    (s) =>
      opts.all === true ||
      (opts.stale === true && ownerIsDead(s)) ||
      (opts.names ?? []).includes(s.name) ||
      (opts.ids ?? []).includes(s.id),
  );
  for (const n of opts.names ?? []) {
    if (!states.some((s) => s.name === n)) throw new Error(`no lab named '${n}' (see 'xlb lab ls')`);
  }
  const ids = new Set<string>([...chosen.map((s) => s.id), ...(opts.ids ?? [])]);
  const allNs = labNetnsNames();
  if (opts.all === true) for (const n of allNs) ids.add(idOfNetns(n) ?? '');
  ids.delete('');
  const namespaces = allNs.filter((n) => ids.has(idOfNetns(n) ?? ''));
  const inodes = new Set<number>();
  for (const n of namespaces) {
    const ino = netnsInode(path.join(NETNS_DIR, n));
    if (ino !== undefined) inodes.add(ino);
  }
  const pids = new Set<number>(findLabProcesses(inodes, ids));
  for (const s of chosen) for (const p of s.processes) if (isAlive(p.pid, p.start)) pids.add(p.pid);
  const processes = [...pids];
  const links = (await hostLabLinks()).filter((l) => ids.has(idOfIfname(l) ?? ''));
  if (opts.dryRun === true) return { labs: chosen.map((s) => s.name), namespaces, links, processes, survivors: [] };
  const survivors = await killAndWait(processes);
  await deleteNetns(namespaces);
  for (const l of links) await execa('ip', ['link', 'del', l], { reject: false });
  for (const id of ids) removePins(id);
  for (const s of chosen) removeState(s.name);
  return { labs: chosen.map((s) => s.name), namespaces, links, processes, survivors };
}
