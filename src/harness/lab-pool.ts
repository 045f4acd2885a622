// One lab World per topology and hook, reused across the results of a run: bringing a lab up
// (namespaces, servers, tcpdump, the agent's BPF load and attach) costs seconds, resetting one
// (src/harness/lab-world.ts reset(): conntrack and every counter emptied, services replaced,
// hosts' sockets and neighbours flushed, captures restarted) a fraction of that. A World that
// cannot be reused (a failed result, a process of the result still running, the agent gone)
// is closed and the next result gets a fresh one. XLB_LAB_REUSE=0 gives every result its own.
import type { LabWorld } from './lab-world.ts';
import type { World, WorldOptions } from './world.ts';

/** Worlds are interchangeable when everything createLabWorld builds from its options is the same. */
function poolKey(o: WorldOptions): string {
  return JSON.stringify([o.hook, o.topology, o.objectDir ?? '', o.snatV4 ?? '', o.snatV6 ?? '', o.runId ?? '', o.ctEntries ?? 0]);
}

const idle = new Map<string, LabWorld>();
/**
 * Parked Worlds kept at most (each holds namespaces, servers and an agent): the suite's few
 * topologies at both hooks mostly fit; the least recently parked one beyond is closed.
 */
const MAX_PARKED = 4;

export function labReuseEnabled(): boolean {
  return process.env.XLB_LAB_REUSE !== '0';
}

/** A lab World for `opts`: a parked one reset for it, else a new one. Its close({ reuse: true }) parks it again. */
export async function openPooledLabWorld(opts: WorldOptions, create: (o: WorldOptions) => Promise<LabWorld>): Promise<World> {
  const key = poolKey(opts);
  const parked = idle.get(key);
  idle.delete(key);
  let w: LabWorld | undefined;
  if (parked !== undefined) {
    try {
      await parked.reset(opts);
      w = parked;
    } catch (e) {
      process.stderr.write(`lab pool: a parked World could not be reset (${(e as Error).message}); starting a fresh one\n`);
      await parked.close().catch(() => undefined);
    }
  }
  const world = w ?? (await create(opts));
  const close = async (o?: { reuse?: boolean }): Promise<void> => {
    if (o?.reuse !== true) return world.close();
    await world.close({ reuse: true });
    if (!world.reusable) return;
    // One parked World per key: a second one (never the case with a sequential runner) closes.
    const other = idle.get(key);
    idle.delete(key);
    idle.set(key, world);
    if (other !== undefined) await other.close();
    while (idle.size > MAX_PARKED) {
      const [oldKey, oldest] = idle.entries().next().value as [string, LabWorld];
      idle.delete(oldKey);
      await oldest.close().catch(() => undefined);
    }
  };
  return Object.assign(Object.create(world) as World, { close });
}

/** Closes every parked World (the end of a run). */
export async function closePooledLabWorlds(): Promise<void> {
  const all = [...idle.values()];
  idle.clear();
  await Promise.allSettled(all.map((w) => w.close()));
}
