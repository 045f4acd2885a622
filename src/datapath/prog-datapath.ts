// The `prog` backend's datapath: the real compiled BPF programs, loaded (not attached) into a
// fresh pin directory of their own and fed one frame at a time with BPF_PROG_TEST_RUN; the
// controller programs the same maps through the kernel Datapath. Implements the packet
// interface of packet-datapath.ts (read its header: empty FIB, 'pass' + 'pass_fib' for
// translated packets).
//
// What one process() call observes, and where it comes from:
// - verdict: the entry program's return code (it tail-calls the slow path itself);
// - reason: the one xlb_reasons counter that moved (the datapath counts exactly one per packet);
// - fwd: the xlb_fwd counter that moved, if any (one per translated packet);
// - trace: the packet's xlb_trace_event, drained synchronously from the ring buffer (the trace
//   flag is always on here), checked against the counter's reason.
//
// Determinism:
// - One CPU: a test run executes on the CPU of the thread that asks, and per-CPU state
//   (round-robin cursors, the policer's scratch, counters) only replays identically when every
//   run lands on the same CPU. The calling thread is pinned to the CPU it runs on while any
//   prog datapath is open (reference-counted per thread) and its affinity restored after.
// - A virtual clock: the instance runs with XLB_CFG_F_VIRTUAL_CLOCK, so the programs' clock is
//   xlb_config.clock_offset_ns alone (bpf/include/conntrack.h, xlb_now); this file writes the
//   virtual time there whenever it moves. Real time spent between packets (a loaded machine can
//   stall a process for a second between two packets of a sequence) ages nothing, and every
//   timestamp (now(), trace, conntrack) is exactly the virtual time.
// - The ctx names ifindex 1 (lo): XDP test runs need an existing ingress device, and TC ones an
//   existing ifindex. The datapath only uses it for the FIB (empty here) and the trace, whose
//   ifindex is reported as the interface process() was given.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { RingBuffer, currentCpu, getCpuAffinity, setCpuAffinity, skBuff, xdpMd } from '../bpf/index.ts';
import { KernelDatapath } from './kernel-datapath.ts';
import { CFG_F, CT_STATE, FWD_RESULT, REASON, UNKNOWN_TCP, config as configCodec, traceEvent, u32Key } from '../schema/maps.ts';
import type { Config, CtStateName, FwdResultName, ReasonName, TraceEvent } from '../schema/maps.ts';
import { loadDatapath } from './loader.ts';
import type { LoadedDatapath } from './loader.ts';
import { addr16, readCt, readEndpointConns } from './maps.ts';
import type {
  DatapathSettings,
  DatapathUnderTest,
  DpCtEntry,
  DpTraceEvent,
  DpTuple,
  FrameResult,
  Hook,
  OpenDatapathOptions,
  PacketDatapath,
  Verdict,
} from './packet-datapath.ts';
import { EMPTY_FIB_TABLE, ctKeyBytes, toDpCtEntry, toDpTraceEvent, verdictOf } from './records.ts';

/** Where every prog instance pins its maps: /sys/fs/bpf/xlb/prog-<run id>. */
export const PROG_PIN_PREFIX = '/sys/fs/bpf/xlb/prog-';

/** Byte offset of xlb_config.clock_offset_ns (the schema's, checked against BTF). */
const CLOCK_OFFSET_AT = (() => {
  const f = configCodec.fields.find((x) => x.name === 'clock_offset_ns');
  if (f === undefined || f.size !== 8) throw new Error('schema: xlb_config has no 8-byte clock_offset_ns field');
  return f.offset;
})();

// ------------------------------------------------------------------ CPU pinning (per thread)
// Module state is per thread (each worker thread has its own module instance), as is affinity.
let pinned: { count: number; cpu: number; saved: number[] } | undefined;

function pinCpu(): number {
  if (pinned !== undefined) {
    pinned.count++;
    return pinned.cpu;
  }
  const saved = getCpuAffinity();
  const cpu = currentCpu();
  setCpuAffinity(cpu);
  pinned = { count: 1, cpu, saved };
  return cpu;
}

function unpinCpu(): void {
  if (pinned === undefined) return;
  if (--pinned.count > 0) return;
  const { saved } = pinned;
  pinned = undefined;
  setCpuAffinity(saved);
}

// ------------------------------------------------------------------ decoding
/** Cumulative packets per index of a per-CPU xlb_counters array (xlb_reasons, xlb_fwd), one batch lookup. */
function counterPackets(map: LoadedDatapath['maps']['reasons'], n: number): bigint[] {
  const raw = map.lookupBatchRaw();
  const out = new Array<bigint>(n).fill(0n);
  const vs = map.valueBufferSize;
  const stride = Math.ceil(map.valueSize / 8) * 8;
  for (let i = 0; i < raw.count; i++) {
    const idx = raw.keys.readUInt32LE(i * map.keySize);
    if (idx >= n) continue;
    let sum = 0n;
    for (let off = i * vs; off < (i + 1) * vs; off += stride) sum += raw.values.readBigUInt64LE(off);
    out[idx] = sum;
  }
  return out;
}

/** Settings → the xlb_config fields they set (the rest stays). */
function configPatch(s: DatapathSettings, current: Config): Partial<Config> {
  const patch: Partial<Config> = {};
  if (s.snatV4 !== undefined) patch.snat_v4 = addr16(s.snatV4).addr;
  if (s.snatV6 !== undefined) patch.snat_v6 = addr16(s.snatV6).addr;
  if (s.snatPortMin !== undefined) patch.snat_port_min = s.snatPortMin;
  if (s.snatPortMax !== undefined) patch.snat_port_max = s.snatPortMax;
  if (s.rstSeqWindow !== undefined) patch.rst_seq_window = s.rstSeqWindow;
  if (s.unknownTcp !== undefined) patch.unknown_tcp = UNKNOWN_TCP[s.unknownTcp];
  if (s.newFlowRate !== undefined) patch.new_flow_rate = s.newFlowRate;
  if (s.timeoutsS !== undefined) {
    const t = [...current.timeouts_s];
    for (const [name, secs] of Object.entries(s.timeoutsS) as [CtStateName, number | undefined][]) {
      const i = CT_STATE.indexOf(name);
      if (i < 0) throw new Error(`prog datapath: timeoutsS names '${name}', not a conntrack state (${CT_STATE.join(', ')})`);
      if (secs === undefined) continue;
      if (!Number.isInteger(secs) || secs < 0 || secs > 0xffffffff)
        throw new RangeError(`prog datapath: timeoutsS.${name} = ${secs}: whole seconds ≥ 0 expected`);
      t[i] = secs;
    }
    patch.timeouts_s = t;
  }
  // Trace stays on whatever `trace` says: process() returns every packet's trace event; the
  // clock stays virtual.
  patch.flags = CFG_F.trace | CFG_F.fibTable | CFG_F.virtualClock;
  patch.fib_table = EMPTY_FIB_TABLE;
  return patch;
}

// ------------------------------------------------------------------ the datapath
export interface ProgPacketDatapath extends PacketDatapath {
  readonly implementation: 'kernel';
  /** The loaded objects (maps, programs), for checks the interface does not cover. */
  readonly loaded: LoadedDatapath;
}

export interface ProgDatapathUnderTest extends DatapathUnderTest {
  control: KernelDatapath;
  packets: ProgPacketDatapath;
  /** This instance's bpffs directory (removed on close). */
  readonly pinDir: string;
  /** The CPU every test run executes on. */
  readonly cpu: number;
}

/**
 * A loaded, unattached datapath: the objects in their own pin directory, the trace ring, the
 * calling thread pinned to its CPU (until close()). What a ProgDatapathUnderTest runs on;
 * openProgDatapath makes one per instance, a pool (src/harness/prog-pool.ts) reuses one across
 * instances, putting every map back as it was right after the load in between.
 */
export interface ProgLoad {
  readonly hook: Hook;
  readonly loaded: LoadedDatapath;
  readonly ring: RingBuffer;
  /** Trace records the ring delivered and nobody has read yet. */
  readonly pending: Buffer[];
  readonly pinDir: string;
  readonly cpu: number;
  /** Unpins the CPU, closes the ring and the objects, removes the pin directory. */
  close(): void;
}

/**
 * Loads build/bpf/xlb_<hook>.bpf.o (or opts.objectPath) into /sys/fs/bpf/xlb/prog-<id>, not
 * attached, with the prog backend's config (trace on, the empty FIB table, the virtual clock at
 * 0; opts.settings are not applied here), and pins the calling thread to its CPU. Root (CAP_BPF).
 */
export function loadProgDatapath(
  opts: Pick<OpenDatapathOptions, 'hook' | 'ctEntries' | 'maxServices' | 'maglevSize' | 'objectPath'>,
): ProgLoad {
  const hook: Hook = opts.hook;
  const pinDir = `${PROG_PIN_PREFIX}${randomBytes(4).toString('hex')}`;
  const cpu = pinCpu();
  let dp: LoadedDatapath | undefined;
  let ring: RingBuffer | undefined;
  const pending: Buffer[] = [];
  try {
    dp = loadDatapath({
      hook,
      pinDir,
      ctEntries: opts.ctEntries ?? 4096,
      maxServices: opts.maxServices ?? 64,
      maglevSize: opts.maglevSize ?? 4099,
      ...(opts.objectPath !== undefined ? { objectPath: opts.objectPath } : {}),
      config: { flags: CFG_F.trace | CFG_F.fibTable | CFG_F.virtualClock, fib_table: EMPTY_FIB_TABLE },
    });
    ring = new RingBuffer(dp.maps.trace, (b) => pending.push(b)).unref();
  } catch (e) {
    ring?.close();
    dp?.close({ detached: true });
    rmSync(pinDir, { recursive: true, force: true });
    unpinCpu();
    throw e;
  }
  const loaded = dp;
  const rb = ring;
  let closed = false;
  return {
    hook,
    loaded,
    ring: rb,
    pending,
    pinDir,
    cpu,
    close(): void {
      if (closed) return;
      closed = true;
      try {
        rb.close();
        loaded.close({ detached: true });
      } finally {
        rmSync(pinDir, { recursive: true, force: true });
        unpinCpu();
      }
    },
  };
}

/**
 * Loads build/bpf/xlb_<hook>.bpf.o (or opts.objectPath) into /sys/fs/bpf/xlb/prog-<id>, not
 * attached, and pins the calling thread to its CPU until close(). Root (CAP_BPF) needed.
 */
export function openProgDatapath(opts: OpenDatapathOptions): ProgDatapathUnderTest {
  const load = loadProgDatapath(opts);
  try {
    return openProgDatapathOn(load, opts, () => load.close());
  } catch (e) {
    load.close();
    throw e;
  }
}

/**
 * An instance on a load whose maps are as right after loadProgDatapath: applies opts.settings,
 * takes the counters' baseline, starts the virtual clock at 0. Its close() calls `release`
 * (openProgDatapath's: load.close()) with what the caller of close() passed.
 */
export function openProgDatapathOn(
  load: ProgLoad,
  opts: OpenDatapathOptions,
  release: (o?: { reuse?: boolean }) => void,
): ProgDatapathUnderTest {
  const { hook, loaded, pinDir, cpu, pending } = load;
  if (hook !== opts.hook) throw new Error(`prog datapath: a ${hook} load cannot serve a ${opts.hook} instance`);
  const rb = load.ring;
  rb.consume();
  pending.length = 0;
  if (opts.settings !== undefined) loaded.writeConfig(configPatch(opts.settings, loaded.readConfig()));
  const control = new KernelDatapath(loaded);
  let virtualNs = 0n;
  let reasonTotals = counterPackets(loaded.maps.reasons, REASON.length);
  let fwdTotals = counterPackets(loaded.maps.fwd, FWD_RESULT.length);
  const ctx = hook === 'xdp' ? xdpMd({ ingressIfindex: 1 }) : skBuff({ ifindex: 1 });
  let closed = false;
  const configKey = u32Key(0);
  /** Writes the virtual time into clock_offset_ns (the programs' clock, XLB_CFG_F_VIRTUAL_CLOCK) when it moved; patches the one field of the raw value. */
  let lastOffset: bigint | undefined;
  const syncClock = (): void => {
    if (virtualNs === lastOffset) return;
    const raw = loaded.maps.config.lookup(configKey);
    if (raw === undefined) throw new Error('prog datapath: xlb_config[0] is missing');
    raw.writeBigUInt64LE(virtualNs, CLOCK_OFFSET_AT);
    loaded.maps.config.update(configKey, raw);
    lastOffset = virtualNs;
  };

  const live = (what: string): void => {
    if (closed) throw new Error(`prog datapath: ${what} after close()`);
  };
  const verdict = (code: number, what: string): Verdict => {
    const v = verdictOf(hook, code);
    if (v.startsWith('other'))
      throw new Error(
        `prog datapath (${hook}): ${what} ${code} is no verdict the datapath returns (TC: OK/SHOT/REDIRECT; XDP: PASS/DROP/TX/REDIRECT)`,
      );
    return v as Verdict;
  };

  syncClock();

  const packets: ProgPacketDatapath = {
    hook,
    implementation: 'kernel',
    loaded,
    process(frame: Uint8Array, ifindex: number): FrameResult {
      live('process()');
      const input = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
      syncClock();
      rb.consume();
      pending.length = 0;
      const r = loaded.main.testRun({ data: input, ctx });
      rb.consume();
      const v = verdict(r.retval, 'return code');

      const reasonsNow = counterPackets(loaded.maps.reasons, REASON.length);
      const moved: ReasonName[] = [];
      REASON.forEach((name, i) => {
        const d = reasonsNow[i]! - reasonTotals[i]!;
        for (let n = 0n; n < d; n++) moved.push(name);
      });
      reasonTotals = reasonsNow;
      if (moved.length !== 1) {
        throw new Error(
          `prog datapath: one packet moved ${moved.length} xlb_reasons counters (${moved.join(', ') || 'none'}); the datapath counts exactly one reason per packet (is another process running packets through these maps? is it running on another CPU?)`,
        );
      }
      const reason = moved[0]!;

      const fwdNow = counterPackets(loaded.maps.fwd, FWD_RESULT.length);
      const fwdMoved: FwdResultName[] = [];
      FWD_RESULT.forEach((name, i) => {
        if (fwdNow[i]! !== fwdTotals[i]!) fwdMoved.push(name);
      });
      fwdTotals = fwdNow;
      if (fwdMoved.length > 1)
        throw new Error(
          `prog datapath: one packet moved ${fwdMoved.length} xlb_fwd counters (${fwdMoved.join(', ')}); a translated packet leaves one way`,
        );

      if (pending.length !== 1) {
        throw new Error(
          `prog datapath: the packet left ${pending.length} trace events in xlb_trace, expected 1 (is XLB_CFG_F_TRACE on in xlb_config.flags? ${(loaded.readConfig().flags & CFG_F.trace) !== 0})`,
        );
      }
      const ev: TraceEvent = traceEvent.decode(pending[0]!);
      pending.length = 0;
      const evReason = REASON[ev.reason];
      if (evReason !== reason) {
        throw new Error(
          `prog datapath: the trace event says reason ${evReason ?? ev.reason} but the xlb_reasons counter '${reason}' moved: the datapath disagrees with itself`,
        );
      }
      // The clock is read only where the datapath needs it (0: not read, e.g. non-IP): the run's time then.
      const trace: DpTraceEvent = toDpTraceEvent(ev, { unreadTime: virtualNs, ifindex });
      const out: FrameResult = { verdict: v, frame: v === 'drop' ? Buffer.from(input) : r.data, reason, trace };
      if (fwdMoved.length === 1) out.fwd = fwdMoved[0]!;
      return out;
    },
    now(): bigint {
      return virtualNs;
    },
    advance(ms: number): void {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`prog datapath: advance(${ms}): the clock only moves forward (ms ≥ 0)`);
      virtualNs += BigInt(Math.round(ms * 1e6));
      // Now, not only before the next packet: the control side (listFlows ages, maintainConntrack expiry)
      // reads the same clock offset.
      if (!closed) syncClock();
    },
    configure(settings: DatapathSettings): void {
      live('configure()');
      loaded.writeConfig(configPatch(settings, loaded.readConfig()));
      lastOffset = undefined;
    },
    conntrack(): DpCtEntry[] {
      live('conntrack()');
      return readCt(loaded.maps.ct).map(({ k, e }) => toDpCtEntry(k, e));
    },
    reasons(): Map<ReasonName, number> {
      live('reasons()');
      const t = counterPackets(loaded.maps.reasons, REASON.length);
      return new Map(REASON.map((n, i) => [n, Number(t[i]!)]));
    },
    fwdResults(): Map<FwdResultName, number> {
      live('fwdResults()');
      const t = counterPackets(loaded.maps.fwd, FWD_RESULT.length);
      return new Map(FWD_RESULT.map((n, i) => [n, Number(t[i]!)]));
    },
    endpointConnections(serviceId: number, slot: number): number {
      live('endpointConnections()');
      return Number(readEndpointConns(loaded, serviceId, slot));
    },
    deleteConntrack(key: DpTuple): boolean {
      live('deleteConntrack()');
      return loaded.maps.ct.delete(ctKeyBytes(key));
    },
  };

  return {
    control,
    packets,
    pinDir,
    cpu,
    close(o?: { reuse?: boolean }): void {
      if (closed) return;
      closed = true;
      release(o);
    },
  };
}
