// Loads the kernel datapath (build/bpf/xlb_{tc,xdp}.bpf.o) through the libbpf binding: map sizes
// from the options (the sizes and Maglev size of maps already pinned win: a pinned map cannot be
// resized), maps pinned in (and reused from) pinDir so a restart keeps every flow, the tail-call
// table filled and pinned (see progsPin), the config map initialised with defaults when it is
// fresh, typed map handles, attach/detach on interfaces. The one loader of the project: the
// controller's kernel Datapath (src/datapath/kernel-datapath.ts) is built on it.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BpfMap, BpfObject, detachTc, detachXdp, u32 } from '../bpf/index.ts';
import type { BpfProgram, XdpMode } from '../bpf/index.ts';
import {
  config as configCodec,
  DEFAULT_TIMEOUTS_S,
  FWD_RESULT,
  REASON,
  XLB_MAGLEV_M,
  XLB_MAX_EP,
  XLB_MAX_SVC,
  schedEntriesPerTable,
  u32Key,
} from '../schema/maps.ts';
import type { Config } from '../schema/maps.ts';
import { DATAPATH_REQUIRES, missingFeatures, missingText, probeKernelFeatures } from './kernel-features.ts';
import type { FeatureProbe } from './kernel-features.ts';
import { ROOT } from '../root.ts';

export type Hook = 'tc' | 'xdp';

export interface LoadOptions {
  hook: Hook;
  /** bpffs directory of this instance, e.g. /sys/fs/bpf/xlb/<instance>; maps are pinned and reused here. */
  pinDir: string;
  /** Conntrack entries (two per flow); default 262144. At least 1M is supported. */
  ctEntries?: number;
  /**
   * Maglev / WRR table size per (service, generation); a prime. Default: the pinned instance's
   * size, else 4099. A value that differs from the pinned instance's is refused.
   */
  maglevSize?: number;
  /** Service-id space (ids 0..maxServices-1); default 256. Pinned maps keep their size. */
  maxServices?: number;
  /** Source-persistence entries; default 65536. */
  persistEntries?: number;
  /** Config fields written on every load (the rest keeps its pinned value or the defaults). */
  config?: Partial<Config>;
  /** Another object file (tests); default build/bpf/xlb_<hook>.bpf.o. */
  objectPath?: string;
}

/** The datapath's maps, by role. */
export interface DatapathMaps {
  config: BpfMap;
  services: BpfMap;
  endpoints: BpfMap;
  sched: BpfMap;
  ct: BpfMap;
  persist: BpfMap;
  rr: BpfMap;
  epConns: BpfMap;
  policers: BpfMap;
  svcStats: BpfMap;
  epStats: BpfMap;
  reasons: BpfMap;
  fwd: BpfMap;
  trace: BpfMap;
}

export interface AttachOptions {
  /** XDP only; default 'native' (veth supports it). */
  xdpMode?: XdpMode;
  /** TC filter handle/priority; default 1/1. */
  handle?: number;
  priority?: number;
  /** Replace a program already attached there (TC filter with the same handle/priority, XDP). */
  replace?: boolean;
}

export interface LoadedDatapath {
  readonly hook: Hook;
  readonly pinDir: string;
  readonly maglevSize: number;
  /** The service-id space the maps hold (the pinned maps' when they were reused). */
  readonly maxServices: number;
  /** True when the maps were re-opened from pins (a restart), false when created. */
  readonly reusedPins: boolean;
  /** The running kernel's features (kernel-features.ts), e.g. `have.fib_lookup_tbid` for XLB_CFG_F_FIB_TABLE. */
  readonly features: FeatureProbe;
  /**
   * Pin of this load's tail-call table (xlb_progs_<hook>_<pid>_<random> in pinDir). The kernel
   * empties a PROG_ARRAY when its last user-space reference (fd or pin) goes, so without it a
   * program left attached after this process exits would tail-call into nothing: established
   * flows go on (fast path), new flows pass untouched (pass_tailcall). Each load pins its own
   * table because the program attached by an earlier process still uses that process's table
   * until this one's program replaces it: call dropStaleProgsPins() once attached everywhere.
   */
  readonly progsPin: string;
  readonly obj: BpfObject;
  readonly maps: DatapathMaps;
  /** The entry program (fast path) and the tail-called slow path. */
  readonly main: BpfProgram;
  readonly slow: BpfProgram;
  readConfig(): Config;
  writeConfig(patch: Partial<Config>): Config;
  /** Attach the entry program to ifindex (TC: clsact ingress). */
  attach(ifindex: number, opts?: AttachOptions): void;
  detach(ifindex: number, opts?: AttachOptions): void;
  /** Removes the tail-call-table pins of earlier loads of this hook in pinDir (not this one's). */
  dropStaleProgsPins(): void;
  /**
   * Closes every fd; pinned maps stay (remove pinDir to delete the instance), and so does this
   * load's tail-call-table pin unless `detached` says no interface runs the program any more.
   */
  close(opts?: { detached?: boolean }): void;
}

/** Maps sized by the options; a pinned map keeps its own size. */
const SIZED_MAPS = [
  'xlb_services',
  'xlb_endpoints',
  'xlb_sched',
  'xlb_rr',
  'xlb_ep_conns',
  'xlb_policers',
  'xlb_svc_stats',
  'xlb_ep_stats',
  'xlb_ct',
  'xlb_persist',
] as const;
type SizedMap = (typeof SIZED_MAPS)[number];

function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** The flood guard's default (bpf/include/flood.h): Katran's MAX_CONN_RATE, new flows per second per CPU. */
export const DEFAULT_NEW_FLOW_RATE = 125_000;

/** Default config of a fresh instance. */
export function defaultConfig(maglevSize: number): Config {
  const timeouts = [...DEFAULT_TIMEOUTS_S];
  return {
    flags: 0,
    maglev_size: maglevSize,
    fib_table: 0,
    fib_cache_ms: 1000,
    snat_port_min: 32768,
    snat_port_max: 60999,
    rst_seq_window: 131072,
    unknown_tcp: 0,
    new_flow_rate: DEFAULT_NEW_FLOW_RATE,
    clock_offset_ns: 0n,
    snat_v4: Buffer.alloc(16),
    snat_v6: Buffer.alloc(16),
    timeouts_s: timeouts,
  };
}

export function objectPathFor(hook: Hook): string {
  return path.join(ROOT, 'build', 'bpf', `xlb_${hook}.bpf.o`);
}

export function loadDatapath(opts: LoadOptions): LoadedDatapath {
  const hook = opts.hook;
  // The helpers and map types the objects use, from the kernel's own BTF (kernel-features.ts):
  // a kernel without one is named here instead of failing in the verifier ("unknown func").
  const features = probeKernelFeatures();
  const lacking = missingFeatures(DATAPATH_REQUIRES, features);
  if (lacking.length > 0 && features.have.btf)
    throw new Error(`loadDatapath: ${missingText(lacking, features)}; run the datapath on Linux 5.15 or newer`);
  if (hook !== 'tc' && hook !== 'xdp') throw new Error(`loadDatapath: hook '${String(hook)}' is not 'tc' or 'xdp'`);
  const pinnedMaglev = pinnedMaglevSize(opts.pinDir);
  const maglevSize = opts.maglevSize ?? pinnedMaglev ?? XLB_MAGLEV_M;
  if (!isPrime(maglevSize) || maglevSize > 1_000_003) {
    throw new Error(`loadDatapath: maglevSize ${maglevSize} must be a prime ≤ 1000003 (e.g. 4099, 65537)`);
  }
  // A pinned instance fixes the table size (xlb_sched's size depends on it): say so before
  // libbpf refuses to reuse the map.
  if (pinnedMaglev !== undefined && pinnedMaglev !== maglevSize) {
    throw new Error(
      `loadDatapath: the maps pinned in ${opts.pinDir} use Maglev size ${pinnedMaglev}, not ${maglevSize}: ` +
        `load with maglevSize ${pinnedMaglev} (or without maglevSize), or remove the pins of that instance to start empty`,
    );
  }
  const wantServices = opts.maxServices ?? XLB_MAX_SVC;
  if (!Number.isInteger(wantServices) || wantServices < 1 || wantServices > 1_048_576) {
    throw new Error(`loadDatapath: maxServices ${wantServices} must be an integer in 1..1048576`);
  }
  // xlb_sched is indexed by a __u32 ((id * 2 + gen) * entries per table + position / chunk).
  if (wantServices * 2 * schedEntriesPerTable(maglevSize) > 0xffffffff) {
    throw new Error(
      `loadDatapath: maxServices ${wantServices} with Maglev size ${maglevSize} needs more than 2^32 table entries: use fewer services or a smaller Maglev size`,
    );
  }
  const ctEntries = opts.ctEntries ?? 262144;
  if (!Number.isInteger(ctEntries) || ctEntries < 16) throw new Error(`loadDatapath: ctEntries ${ctEntries} must be an integer ≥ 16`);
  const objectPath = opts.objectPath ?? objectPathFor(hook);
  if (!existsSync(objectPath))
    throw new Error(`loadDatapath: ${objectPath} is missing: build it with 'make -s -C bpf' (or ./scripts/build.sh bpf)`);

  const reusedPins = existsSync(path.join(opts.pinDir, 'xlb_services'));
  const sizes = adoptPinnedSizes(opts.pinDir, {
    xlb_services: wantServices,
    xlb_endpoints: wantServices * 2 * XLB_MAX_EP,
    xlb_sched: wantServices * 2 * schedEntriesPerTable(maglevSize),
    xlb_rr: wantServices,
    xlb_ep_conns: wantServices * XLB_MAX_EP,
    xlb_policers: wantServices,
    xlb_svc_stats: wantServices,
    xlb_ep_stats: wantServices * XLB_MAX_EP,
    xlb_ct: ctEntries,
    xlb_persist: opts.persistEntries ?? 65536,
  });
  // Every id below maxServices has its slots in every per-service map.
  const maxServices = Math.min(
    sizes.xlb_services,
    sizes.xlb_rr,
    sizes.xlb_policers,
    sizes.xlb_svc_stats,
    Math.floor(sizes.xlb_endpoints / (2 * XLB_MAX_EP)),
    Math.floor(sizes.xlb_ep_stats / XLB_MAX_EP),
    Math.floor(sizes.xlb_ep_conns / XLB_MAX_EP),
  );

  const createdDir = !existsSync(opts.pinDir);
  const carried = setAsideSmallerCounterPins(opts.pinDir);
  let obj: BpfObject;
  try {
    // per-endpoint next-hop cache (internal, not pinned)
    obj = BpfObject.open(objectPath, {
      pinDir: opts.pinDir,
      maxEntries: { ...sizes, xlb_ep_nh: maxServices * XLB_MAX_EP },
      // the TC object's in-place L4 checksum (bpf/include/hook.h) needs bpf_cast_to_kern_ctx
      kconfig: { CONFIG_XLB_KERN_CTX: features.have.cast_to_kern_ctx },
    });
  } catch (e) {
    // The old counter pins go back where they were; nothing is left behind when this call
    // created the pin directory.
    for (const c of carried) c.restore();
    if (createdDir) rmSync(opts.pinDir, { recursive: true, force: true });
    throw e;
  }
  const progsPin = path.join(opts.pinDir, `xlb_progs_${hook}_${process.pid}_${randomBytes(3).toString('hex')}`);
  try {
    for (const c of carried) c.carryInto(obj.map(c.name));
    const m = (name: string): BpfMap => obj.map(name);
    const maps: DatapathMaps = {
      config: m('xlb_config'),
      services: m('xlb_services'),
      endpoints: m('xlb_endpoints'),
      sched: m('xlb_sched'),
      ct: m('xlb_ct'),
      persist: m('xlb_persist'),
      rr: m('xlb_rr'),
      epConns: m('xlb_ep_conns'),
      policers: m('xlb_policers'),
      svcStats: m('xlb_svc_stats'),
      epStats: m('xlb_ep_stats'),
      reasons: m('xlb_reasons'),
      fwd: m('xlb_fwd'),
      trace: m('xlb_trace'),
    };
    const main = obj.program(`xlb_${hook}_main`);
    const slow = obj.program(`xlb_${hook}_slow`);
    // XDP's TC half (bpf/xlb_xdp.bpf.c xlb_xdp_neigh): sends with bpf_redirect_neigh what XDP
    // passed for want of a resolved neighbour (docs/datapath.md, "Neighbour unknown"). An object
    // without it (tests' objects) attaches XDP alone.
    const neigh = hook === 'xdp' && obj.programs().some((p) => p.name === 'xlb_xdp_neigh') ? obj.program('xlb_xdp_neigh') : undefined;
    // libbpf fills the tail-call table from the object's static initialiser; writing it again
    // makes the loader independent of that libbpf feature.
    const progs = obj.map('xlb_progs');
    progs.update(u32(0), u32(slow.fd));

    const readConfig = (): Config => {
      const v = maps.config.lookup(u32Key(0));
      if (v === undefined) throw new Error('datapath: xlb_config[0] is missing (the config map is an array of 1)');
      return configCodec.decode(v);
    };
    const writeConfig = (patch: Partial<Config>): Config => {
      const next = { ...readConfig(), ...patch };
      maps.config.update(u32Key(0), configCodec.encode(next));
      return next;
    };
    const current = readConfig();
    if (current.maglev_size === 0) {
      writeConfig({ ...defaultConfig(maglevSize), ...opts.config });
    } else {
      if (current.maglev_size !== maglevSize) {
        throw new Error(
          `loadDatapath: the maps pinned in ${opts.pinDir} use Maglev size ${current.maglev_size}, not ${maglevSize}: ` +
            `load with maglevSize ${current.maglev_size}, or remove the pins of that instance to start empty`,
        );
      }
      if (opts.config) writeConfig(opts.config);
    }
    progs.pin(progsPin);

    const tcOpts = (o: AttachOptions | undefined): { handle: number; priority: number } => ({
      handle: o?.handle ?? 1,
      priority: o?.priority ?? 1,
    });
    const progsPrefix = `xlb_progs_${hook}_`;
    return {
      hook,
      pinDir: opts.pinDir,
      maglevSize,
      maxServices,
      reusedPins,
      features,
      progsPin,
      obj,
      maps,
      main,
      slow,
      readConfig,
      writeConfig,
      attach(ifindex: number, o?: AttachOptions): void {
        // XDP: the TC half first, so no packet XDP hands over meets an ingress without it
        if (neigh !== undefined) neigh.attachTc(ifindex, 'ingress', { ...tcOpts(o), replace: o?.replace === true });
        if (hook === 'xdp') main.attachXdp(ifindex, o?.xdpMode ?? 'native', { replace: o?.replace === true });
        else main.attachTc(ifindex, 'ingress', { ...tcOpts(o), replace: o?.replace === true });
      },
      detach(ifindex: number, o?: AttachOptions): void {
        if (hook === 'xdp') detachXdp(ifindex, o?.xdpMode);
        else detachTc(ifindex, 'ingress', tcOpts(o));
        if (neigh !== undefined) detachTc(ifindex, 'ingress', tcOpts(o));
      },
      dropStaleProgsPins(): void {
        for (const f of readdirSync(opts.pinDir)) {
          if (f.startsWith(progsPrefix) && path.join(opts.pinDir, f) !== progsPin) rmSync(path.join(opts.pinDir, f), { force: true });
        }
      },
      close(o: { detached?: boolean } = {}): void {
        if (o.detached === true) rmSync(progsPin, { force: true });
        obj.close();
      },
    };
  } catch (e) {
    obj.close();
    rmSync(progsPin, { force: true });
    if (createdDir) rmSync(opts.pinDir, { recursive: true, force: true });
    throw e;
  }
}

/** The Maglev size recorded in the config map pinned in pinDir, if any. */
function pinnedMaglevSize(pinDir: string): number | undefined {
  const pinnedConfig = path.join(pinDir, 'xlb_config');
  if (!existsSync(pinnedConfig)) return undefined;
  const m = BpfMap.openPinned(pinnedConfig);
  try {
    const v = m.lookup(u32Key(0));
    const size = v === undefined ? 0 : configCodec.decode(v).maglev_size;
    return size === 0 ? undefined : size;
  } finally {
    m.close();
  }
}

/**
 * Counter arrays sized by an enum of the schema: one slot per reason (xlb_reasons), per
 * forwarding result (xlb_fwd). They grow when a release adds a name, and libbpf refuses to reuse a
 * pin of another size, so an agent restarted on a newer release over an older one's pins would
 * not load.
 */
const ENUM_SIZED_COUNTERS: Record<string, number> = { xlb_reasons: REASON.length, xlb_fwd: FWD_RESULT.length };

interface CarriedCounters {
  name: string;
  /** Puts the old pin back (the load failed). */
  restore(): void;
  /** Writes the old per-CPU values into the new map, slot for slot, and lets the old map go. */
  carryInto(m: BpfMap): void;
}

/**
 * A pinned enum-sized counter map smaller than this release's (left by an older release) is
 * unpinned, held open by an fd, so the object creates and pins the new size (the old pin is put
 * back if the load fails); its values are
 * then carried over, so the counters go on from where they were. Counts the old program makes
 * between the read (carryInto) and its replacement on the interface are not carried: at most a
 * restart's worth, and only at the restart that changes the size. A larger pin (a newer release's)
 * is refused with what to do.
 */
function setAsideSmallerCounterPins(pinDir: string): CarriedCounters[] {
  const out: CarriedCounters[] = [];
  for (const [name, want] of Object.entries(ENUM_SIZED_COUNTERS)) {
    const pin = path.join(pinDir, name);
    if (!existsSync(pin)) continue;
    const old = BpfMap.openPinned(pin);
    const have = old.maxEntries;
    if (have >= want) {
      old.close();
      if (have === want) continue;
      for (const c of out) c.restore();
      throw new Error(
        `loadDatapath: ${pin} has ${have} slots, this release's ${name} has ${want}: the pins were left by a newer xlb. ` +
          `Run that release, or remove ${pin} (its counters restart from 0)`,
      );
    }
    // bpffs refuses rename: the old map is held by this fd while its pin is removed
    rmSync(pin);
    out.push({
      name,
      restore: () => {
        rmSync(pin, { force: true }); // libbpf unpins what a failed load pinned; in case it did not
        old.pin(pin);
        old.close();
      },
      carryInto: (next: BpfMap) => {
        try {
          for (let i = 0; i < have; i++) {
            const v = old.lookupPerCpu(u32Key(i));
            if (v !== undefined) next.updatePerCpu(u32Key(i), v);
          }
        } finally {
          old.close();
        }
      },
    });
  }
  return out;
}

/** The wanted sizes, with the size of each map already pinned in pinDir instead of its wish. */
function adoptPinnedSizes(pinDir: string, want: Record<SizedMap, number>): Record<SizedMap, number> {
  const out = { ...want };
  for (const name of SIZED_MAPS) {
    const pin = path.join(pinDir, name);
    if (!existsSync(pin)) continue;
    const m = BpfMap.openPinned(pin);
    try {
      out[name] = m.maxEntries;
    } finally {
      m.close();
    }
  }
  return out;
}
