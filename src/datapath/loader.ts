// Loads the kernel datapath (build/bpf/xlb_{tc,xdp}.bpf.o) through the libbpf binding: map sizes
// from the options, maps pinned in (and reused from) pinDir so a restart keeps every flow, the
// tail-call table checked, the config map initialised with defaults when it is fresh, typed
// map handles, attach/detach on interfaces.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfMap, BpfObject, detachTc, detachXdp, u32 } from '../bpf/index.ts';
import type { BpfProgram, XdpMode } from '../bpf/index.ts';
import { config as configCodec, DEFAULT_TIMEOUTS_S, XLB_MAGLEV_M, XLB_MAX_EP, XLB_MAX_SVC, u32Key } from '../schema/maps.ts';
import type { Config } from '../schema/maps.ts';

export type Hook = 'tc' | 'xdp';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface LoadOptions {
  hook: Hook;
  /** bpffs directory of this instance, e.g. /sys/fs/bpf/xlb/<instance>; maps are pinned and reused here. */
  pinDir: string;
  /** Conntrack entries (two per flow); default 262144. At least 1M is supported. */
  ctEntries?: number;
  /** Maglev / WRR table size per (service, generation); a prime; default 4099. */
  maglevSize?: number;
  /** Service-id space (ids 0..maxServices-1); default 256. */
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
}

export interface LoadedDatapath {
  readonly hook: Hook;
  readonly pinDir: string;
  readonly maglevSize: number;
  readonly maxServices: number;
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
  /** Closes every fd; pinned maps stay (use removePins to delete the instance). */
  close(): void;
}

function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

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
  if (hook !== 'tc' && hook !== 'xdp') throw new Error(`loadDatapath: hook '${String(hook)}' is not 'tc' or 'xdp'`);
  const maglevSize = opts.maglevSize ?? XLB_MAGLEV_M;
  if (!isPrime(maglevSize) || maglevSize > 1_000_003) {
    throw new Error(`loadDatapath: maglevSize ${maglevSize} must be a prime ≤ 1000003 (e.g. 4099, 65537)`);
  }
  const maxServices = opts.maxServices ?? XLB_MAX_SVC;
  if (!Number.isInteger(maxServices) || maxServices < 1 || maxServices > 65536) {
    throw new Error(`loadDatapath: maxServices ${maxServices} must be an integer in 1..65536`);
  }
  const ctEntries = opts.ctEntries ?? 262144;
  if (!Number.isInteger(ctEntries) || ctEntries < 16) throw new Error(`loadDatapath: ctEntries ${ctEntries} must be an integer ≥ 16`);
  const objectPath = opts.objectPath ?? objectPathFor(hook);
  if (!existsSync(objectPath)) throw new Error(`loadDatapath: ${objectPath} is missing: build it with 'make -s -C bpf' (or ./scripts/build.sh bpf)`);

  // A pinned instance fixes the table size (xlb_sched's size depends on it): say so before
  // libbpf refuses to reuse the map.
  const pinnedConfig = path.join(opts.pinDir, 'xlb_config');
  if (existsSync(pinnedConfig)) {
    const m = BpfMap.openPinned(pinnedConfig);
    try {
      const v = m.lookup(u32Key(0));
      const pinnedSize = v === undefined ? 0 : configCodec.decode(v).maglev_size;
      if (pinnedSize !== 0 && pinnedSize !== maglevSize) {
        throw new Error(
          `loadDatapath: the maps pinned in ${opts.pinDir} use Maglev size ${pinnedSize}, not ${maglevSize}: ` +
            `load with maglevSize ${pinnedSize}, or remove the pins of that instance to start empty`,
        );
      }
    } finally {
      m.close();
    }
  }

  const obj = BpfObject.open(objectPath, {
    pinDir: opts.pinDir,
    maxEntries: {
      xlb_ct: ctEntries,
      xlb_persist: opts.persistEntries ?? 65536,
      xlb_endpoints: maxServices * 2 * XLB_MAX_EP,
      xlb_sched: maxServices * 2 * maglevSize,
      xlb_rr: maxServices,
      xlb_ep_conns: maxServices * XLB_MAX_EP,
      xlb_policers: maxServices,
      xlb_svc_stats: maxServices,
      xlb_ep_stats: maxServices * XLB_MAX_EP,
      // per-endpoint next-hop cache (internal, not pinned)
      xlb_ep_nh: maxServices * XLB_MAX_EP,
    },
  });
  try {
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
    // libbpf fills the tail-call table from the object's static initialiser; writing it again
    // makes the loader independent of that libbpf feature.
    obj.map('xlb_progs').update(u32(0), u32(slow.fd));

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

    const tcOpts = (o: AttachOptions | undefined): { handle: number; priority: number } => ({ handle: o?.handle ?? 1, priority: o?.priority ?? 1 });
    return {
      hook,
      pinDir: opts.pinDir,
      maglevSize,
      maxServices,
      obj,
      maps,
      main,
      slow,
      readConfig,
      writeConfig,
      attach(ifindex: number, o?: AttachOptions): void {
        if (hook === 'xdp') main.attachXdp(ifindex, o?.xdpMode ?? 'native');
        else main.attachTc(ifindex, 'ingress', tcOpts(o));
      },
      detach(ifindex: number, o?: AttachOptions): void {
        if (hook === 'xdp') detachXdp(ifindex, o?.xdpMode);
        else detachTc(ifindex, 'ingress', tcOpts(o));
      },
      close(): void {
        obj.close();
      },
    };
  } catch (e) {
    obj.close();
    throw e;
  }
}
