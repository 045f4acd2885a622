// The model's maps: what the controller writes (services, endpoint generations, lookup tables,
// policers) and what the pipeline keeps (round-robin cursors, least-connection counts,
// persistence, conntrack), with the datapath's configuration. Plain records; the rules live in
// the pipeline modules.
import { DEFAULT_TIMEOUTS_S, PROTO } from '../schema/maps.ts';
import { CtTable } from './conntrack.ts';
import { LruMap } from './lru.ts';
import type { ModelFault } from './faults.ts';

export interface SvcEntry {
  /** Key: VIP (16 bytes), port (0 for a port range or ICMP echo), IP protocol number, family. */
  vip: Buffer;
  port: number;
  proto: number;
  family: number;
  id: number;
  /** MODE value. */
  mode: number;
  /** ALGO value. */
  algo: number;
  /** SVC_F flags. */
  flags: number;
  gen: 0 | 1;
  epCount: number;
  schedLen: number;
  portLo: number;
  portHi: number;
  persistTimeoutS: number;
  /** Service SNAT address (zero: the configuration's). */
  snat: Buffer;
}

export interface EpEntry {
  addr: Buffer;
  port: number;
  weight: number;
  family: number;
  /** EP_F flags. */
  flags: number;
}

export interface PolicerEntry {
  ratePps: number;
  burst: number;
  tatNs: bigint;
}

export interface PersistEntry {
  lastNs: bigint;
  slot: number;
}

export interface ModelConfig {
  snatV4: Buffer;
  snatV6: Buffer;
  timeoutsS: number[];
  unknownTcp: 0 | 1;
  snatPortMin: number;
  snatPortMax: number;
  rstSeqWindow: number;
  /** Flood guard rate (new flows per second; 0: off), docs/datapath.md "Flood guard". */
  newFlowRate: number;
  maglevSize: number;
  trace: boolean;
  /** Deliberate faults switched on (faults.ts); empty normally. */
  faults: ReadonlySet<ModelFault>;
}

export function defaultConfig(maglevSize: number): ModelConfig {
  return {
    snatV4: Buffer.alloc(16),
    snatV6: Buffer.alloc(16),
    timeoutsS: [...DEFAULT_TIMEOUTS_S],
    unknownTcp: 0,
    snatPortMin: 32768,
    snatPortMax: 60999,
    rstSeqWindow: 131072,
    newFlowRate: 125_000,
    maglevSize,
    trace: true,
    faults: new Set(),
  };
}

export function svcKeyString(vip: Buffer, port: number, proto: number, family: number): string {
  return `${family}/${proto}/${vip.toString('hex')}/${port}`;
}

/** The IP protocol number of a service protocol ('icmp' is ICMPv6 for IPv6). */
export function protoNumber(protocol: 'tcp' | 'udp' | 'icmp', family: number): number {
  return protocol === 'tcp' ? PROTO.tcp : protocol === 'udp' ? PROTO.udp : family === 4 ? PROTO.icmp : PROTO.icmp6;
}

export class Tables {
  readonly services = new Map<string, SvcEntry>();
  /** Index ((id * 2 + gen) * 64 + slot). */
  readonly endpoints = new Map<number, EpEntry>();
  /** Per (id * 2 + gen): positions 0..M-1 (unwritten positions read 0, as in an array map). */
  readonly sched = new Map<number, Uint32Array>();
  readonly rr = new Map<number, number>();
  readonly policers = new Map<number, PolicerEntry>();
  /** Index id * 64 + slot. */
  readonly epConns = new Map<number, number>();
  readonly persist: LruMap<PersistEntry>;
  /** IPv4 / IPv6 fragments of tracked flows: datagram (src, dst, id, proto) -> the first fragment's ports (xlb_frags, 8192). */
  readonly frags = new LruMap<{ ns: bigint; sport: number; dport: number }>(8192);
  readonly ct: CtTable;
  /** The flood guard's window (struct xlb_flood: one CPU). */
  readonly flood = { windowNs: 0n, count: 0 };

  constructor(
    readonly config: ModelConfig,
    readonly maxServices: number,
    ctEntries: number,
    persistEntries: number,
  ) {
    this.persist = new LruMap(persistEntries);
    this.ct = new CtTable(ctEntries);
  }

  lookupService(vip: Buffer, port: number, proto: number, family: number): SvcEntry | undefined {
    return this.services.get(svcKeyString(vip, port, proto, family));
  }

  endpoint(svcId: number, gen: number, slot: number): EpEntry | undefined {
    if (slot >= 64) return undefined;
    return this.endpoints.get((svcId * 2 + (gen & 1)) * 64 + slot);
  }

  schedAt(svc: SvcEntry, pos: number): number {
    const t = this.sched.get(svc.id * 2 + (svc.gen & 1));
    return t?.[pos] ?? 0;
  }

  writeSched(id: number, gen: number, table: Uint32Array): void {
    const m = this.config.maglevSize;
    let t = this.sched.get(id * 2 + gen);
    if (t === undefined) {
      t = new Uint32Array(m);
      this.sched.set(id * 2 + gen, t);
    }
    t.set(table.subarray(0, m));
  }
}
