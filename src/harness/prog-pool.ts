// One loaded prog datapath per hook, object and map sizes, reused across the results of a run.
// Loading is what a prog result spends most of its time on: the verifier takes ~0.4 s over the
// slow path (13,900 instructions) on this machine, a scenario's packets a few ms. So a result
// that passed gives its load back (VirtualWorld.close({ reuse: true })), and every map of the
// object is put back byte for byte as it was right after the load (the snapshot below) before
// the next result gets it: arrays (per-CPU ones on every CPU, .bss, the next-hop cache, the
// config with its virtual clock at 0) rewritten (a read-only one, .kconfig, left as it is), hash maps (conntrack, persistence, fragments,
// services) emptied, the trace ring drained; the tail-call table is never written by the
// programs. The controller, the virtual network and the packet-datapath state in front of the
// maps (counter baselines, clock) are new for every result (openProgDatapathOn).
//
// One residue the maps cannot show: an LRU map's free nodes are split between the CPU's local
// free list and the global one differently after deletions than after creation, which only
// changes which entry is evicted, and eviction starts only once fewer than 128 nodes are free
// (kernel/bpf/bpf_lru_list.c, LOCAL_FREE_TARGET). A scenario that fills a table sets ctEntries
// and so gets a load of its own (the size is part of the key); a load whose LRU map ends a
// result within LRU_MARGIN of full is closed rather than reused, and says so.
//
// A failed result's load is closed, never reused. XLB_PROG_REUSE=0 gives every result its own.
import { rmSync } from 'node:fs';
import type { BpfMap } from '../bpf/index.ts';
import type { OpenDatapathOptions } from '../datapath/packet-datapath.ts';
import { loadProgDatapath, openProgDatapathOn } from '../datapath/prog-datapath.ts';
import type { ProgDatapathUnderTest, ProgLoad } from '../datapath/prog-datapath.ts';

/** Free LRU nodes below which eviction order could depend on the map's history (2 × LOCAL_FREE_TARGET). */
export const LRU_MARGIN = 256;
/** Parked loads kept at most (a run uses one per hook, plus one per distinct ctEntries). */
const MAX_PARKED = 4;

const ARRAY_TYPES = new Set(['array', 'percpu_array']);
const HASH_TYPES = new Set(['hash', 'percpu_hash', 'lru_hash', 'lru_percpu_hash']);
/** Not reset: the programs never write them (prog_array), or openProgDatapathOn drains them (ringbuf). */
const UNTOUCHED_TYPES = new Set(['prog_array', 'ringbuf']);
/** map_flags of a map the programs can only read (libbpf's .rodata and .kconfig: frozen, not writable from user space either). */
const BPF_F_RDONLY_PROG = 0x80;

interface MapImage {
  map: BpfMap;
  count: number;
  keys: Buffer;
  values: Buffer;
}

/** Every resettable map's contents, as read right after the load. */
function snapshot(load: ProgLoad): MapImage[] {
  const out: MapImage[] = [];
  for (const map of load.loaded.obj.maps()) {
    if (UNTOUCHED_TYPES.has(map.type) || (map.flags & BPF_F_RDONLY_PROG) !== 0) continue;
    if (!ARRAY_TYPES.has(map.type) && !HASH_TYPES.has(map.type))
      throw new Error(
        `prog pool: map ${map.name} is a ${map.type}: the pool cannot put it back as loaded between results; teach src/harness/prog-pool.ts its reset, or run with XLB_PROG_REUSE=0`,
      );
    const raw = map.lookupBatchRaw();
    out.push({ map, count: raw.count, keys: Buffer.from(raw.keys), values: Buffer.from(raw.values) });
  }
  return out;
}

/** LRU maps holding more than capacity − LRU_MARGIN entries now: `name n/max`. */
function nearlyFullLru(images: MapImage[]): string[] {
  const out: string[] = [];
  for (const { map } of images) {
    if (!map.type.startsWith('lru_')) continue;
    const n = map.lookupBatchRaw().count;
    if (n > map.maxEntries - LRU_MARGIN) out.push(`${map.name} ${n}/${map.maxEntries}`);
  }
  return out;
}

/** Puts every map back to its image: hash maps emptied and refilled, arrays rewritten whole. */
export function restore(images: MapImage[]): void {
  for (const im of images) {
    if (HASH_TYPES.has(im.map.type)) {
      const now = im.map.lookupBatchRaw();
      if (now.count > 0) im.map.deleteBatchRaw(now.keys, now.count);
    }
    if (im.count > 0) im.map.updateBatchRaw({ count: im.count, keys: im.keys, values: im.values });
  }
}

interface Pooled {
  load: ProgLoad;
  images: MapImage[];
  /** Results served so far (1: the current one, on a fresh load). */
  uses: number;
}

const idle = new Map<string, Pooled>();
/** Every load this pool made and has not closed (parked or in use): removed on exit and on a signal. */
const live = new Set<ProgLoad>();

export function progReuseEnabled(): boolean {
  return process.env.XLB_PROG_REUSE !== '0';
}

/** Loads are interchangeable when everything loadProgDatapath builds from its options is the same. */
function poolKey(o: OpenDatapathOptions): string {
  return JSON.stringify([o.hook, o.objectPath ?? '', o.ctEntries ?? 0, o.maxServices ?? 0, o.maglevSize ?? 0]);
}

function closeLoad(load: ProgLoad): void {
  live.delete(load);
  load.close();
  if (live.size === 0) uninstall();
}

/** A prog datapath for `opts` on a parked load of the same key when there is one, else on a new load. */
export function openPooledProgDatapath(opts: OpenDatapathOptions): ProgDatapathUnderTest {
  const key = poolKey(opts);
  let p = idle.get(key);
  idle.delete(key);
  if (p === undefined) {
    const load = loadProgDatapath(opts);
    try {
      p = { load, images: snapshot(load), uses: 0 };
    } catch (e) {
      load.close();
      throw e;
    }
    live.add(load);
    install();
  }
  const pooled = p;
  pooled.uses++;
  const release = (o?: { reuse?: boolean }): void => {
    if (o?.reuse !== true) return closeLoad(pooled.load);
    try {
      const full = nearlyFullLru(pooled.images);
      if (full.length > 0) {
        // On a fresh load (a scenario with its own ctEntries) this is the expected end: closed
        // quietly. On a reused one, the result just run may have evicted otherwise than on a
        // fresh load: said.
        if (pooled.uses > 1)
          process.stderr.write(
            `prog pool: ${full.join(', ')} entries at the end of a result on a reused load: an LRU map this full may evict in another order than after a fresh load; give the scenario its own ctEntries (it then gets a load of its own), or run with XLB_PROG_REUSE=0\n`,
          );
        return closeLoad(pooled.load);
      }
      pooled.load.ring.consume();
      pooled.load.pending.length = 0;
      if (resetBetweenResults) restore(pooled.images);
    } catch (e) {
      process.stderr.write(`prog pool: a load could not be put back as loaded (${(e as Error).message}); closing it\n`);
      return closeLoad(pooled.load);
    }
    // One parked load per key (a sequential runner never has two).
    const other = idle.get(key);
    idle.delete(key);
    idle.set(key, pooled);
    if (other !== undefined) closeLoad(other.load);
    while (idle.size > MAX_PARKED) {
      const [oldKey, oldest] = idle.entries().next().value as [string, Pooled];
      idle.delete(oldKey);
      closeLoad(oldest.load);
    }
  };
  try {
    return openProgDatapathOn(pooled.load, opts, release);
  } catch (e) {
    closeLoad(pooled.load);
    throw e;
  }
}

/** Closes every parked load (the end of a run). Loads still in use close with their instance. */
export function closePooledProgLoads(): void {
  const all = [...idle.values()];
  idle.clear();
  for (const p of all) closeLoad(p.load);
}

/** The parked loads (tests). */
export function parkedProgLoads(): ProgLoad[] {
  return [...idle.values()].map((p) => p.load);
}

let resetBetweenResults = true;
/** Tests only: false skips putting the maps back, to prove the independence test can fail. */
export function setResetBetweenResultsForTest(on: boolean): void {
  resetBetweenResults = on;
}

// ---- cleanup on exit and on a signal: the pins of every live load go ---------------------------
// Signals: this handler runs first (prepended), removes the pins and itself; when no other
// handler is left (tap's signal-exit kills the process itself, the lab's exits after its own
// cleanup), the signal is raised again for its default action.
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function removePinsSync(): void {
  for (const load of live) rmSync(load.pinDir, { recursive: true, force: true });
}

function onSignal(sig: NodeJS.Signals): void {
  removePinsSync();
  uninstall();
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', removePinsSync);
  for (const s of SIGNALS) process.prependListener(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', removePinsSync);
  for (const s of SIGNALS) process.off(s, onSignal);
}
