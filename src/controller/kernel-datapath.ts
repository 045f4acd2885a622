// The kernel implementation of the controller's Datapath: the compiled programs of bpf/
// (build/bpf/xlb_{tc,xdp}.bpf.o) loaded through the libbpf binding with their maps pinned under
// a per-instance directory, so a restarted agent re-opens the same maps (every flow survives).
//
// Maps sized by the service-id space S (ids 1..S-1): xlb_services S, xlb_endpoints S·2·64,
// xlb_sched S·2·M, xlb_rr / xlb_policers / xlb_svc_stats S, xlb_ep_conns / xlb_ep_stats S·64.
// When the pins exist their sizes win (a pinned map cannot be resized; libbpf refuses to reuse
// a pin whose definition differs).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfMap, BpfObject, detachTc, detachXdp, ifindex, numPossibleCpus } from '../bpf/index.ts';
import type { BpfProgram } from '../bpf/index.ts';
import type { DatapathHandle } from '../agent/agent.ts';
import type { Datapath, DatapathLimits, DpCounters, DpEndpoint, DpFlow, DpService, DpServiceKey } from './datapath.ts';
import { DatapathRefusal, EMPTY_SLOT } from './datapath.ts';
import { formatIp, parseIp } from './ip.ts';
import { maglevTable, wrrSchedule } from './lookup-tables.ts';
import { defaultConfig } from '../datapath/loader.ts';
import {
  ALGO_CODE,
  CT_STATES,
  FWD_RESULTS,
  MODE_CODE,
  PROTO_CODE,
  REASONS,
  XLB_CT_F_LC_COUNTED,
  XLB_CT_F_REPLY,
  XLB_EP_F_ACTIVE,
  XLB_MAX_EP,
  XLB_SVC_F_PERSIST,
  config as configCodec,
  counters as countersCodec,
  ctEntry,
  ctKey,
  endpoint as endpointCodec,
  policer as policerCodec,
  service as serviceCodec,
  svcKey,
  svcStats,
  u32Key,
} from './kernel-schema.ts';
import type { Algorithm, Mode, Protocol } from './types.ts';
import { serviceKeyText } from './types.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface KernelDatapathOptions {
  hook: 'tc' | 'xdp';
  /** bpffs directory for the pinned maps, e.g. /sys/fs/bpf/xlb/default. */
  pinDir: string;
  /** Conntrack entries (two per flow) when the maps are created. Default 262144. */
  ctEntries?: number;
  /** Service-id space when the maps are created. Default 1024. */
  maxServices?: number;
  /** Maglev table size (prime) when the maps are created. Default 4099. */
  maglevSize?: number;
  /** Full-NAT source addresses written into the config map. */
  snatV4?: string;
  snatV6?: string;
  /** XDP attach mode (default native). */
  xdpMode?: 'native' | 'generic';
  /** Unpin and remove pinDir on close (benchmarks and tests). */
  removePinsOnClose?: boolean;
  /** Object file override (tests). */
  objectPath?: string;
}

const MAX_WEIGHT = 65535;
const MODES = Object.keys(MODE_CODE) as Mode[];
const ALGOS = Object.keys(ALGO_CODE) as Algorithm[];

function addr16(ip: string): { bytes: Buffer; family: 4 | 6 } {
  const p = parseIp(ip);
  if (p === undefined) throw new Error(`kernel datapath: '${ip}' is not an IP address`);
  const b = Buffer.alloc(16);
  p.bytes.copy(b);
  return { bytes: b, family: p.family };
}

function protoName(code: number): Protocol | undefined {
  return code === 6 ? 'tcp' : code === 17 ? 'udp' : undefined;
}

function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

function sumPerCpu<T>(values: Buffer[] | undefined, decode: (b: Buffer) => T, add: (a: T, b: T) => T, zero: T): T {
  if (values === undefined) return zero;
  return values.reduce((acc, v) => add(acc, decode(v)), zero);
}

export class KernelDatapath implements Datapath {
  readonly limits: DatapathLimits;
  readonly maglevSize: number;
  private readonly maps: {
    config: BpfMap;
    services: BpfMap;
    endpoints: BpfMap;
    sched: BpfMap;
    ct: BpfMap;
    policers: BpfMap;
    svcStats: BpfMap;
    epStats: BpfMap;
    epConns: BpfMap;
    reasons: BpfMap;
    rr: BpfMap;
    fwd: BpfMap;
  };
  /** sched_len written with each generation, for the service entry that flips to it. */
  private readonly schedLen = new Map<string, number>();
  /** id → key of the entries seen or written (guards writes to an active generation). */
  private readonly idKey = new Map<number, { key: DpServiceKey; gen: 0 | 1 }>();

  constructor(obj: BpfObject) {
    this.maps = {
      config: obj.map('xlb_config'),
      services: obj.map('xlb_services'),
      endpoints: obj.map('xlb_endpoints'),
      sched: obj.map('xlb_sched'),
      ct: obj.map('xlb_ct'),
      policers: obj.map('xlb_policers'),
      svcStats: obj.map('xlb_svc_stats'),
      epStats: obj.map('xlb_ep_stats'),
      epConns: obj.map('xlb_ep_conns'),
      reasons: obj.map('xlb_reasons'),
      rr: obj.map('xlb_rr'),
      fwd: obj.map('xlb_fwd'),
    };
    const cfg = this.readConfig();
    const maxServices = Math.min(this.maps.policers.maxEntries, this.maps.svcStats.maxEntries, Math.floor(this.maps.endpoints.maxEntries / (2 * XLB_MAX_EP)));
    this.maglevSize = cfg.maglev_size;
    this.limits = { maxServices, maxEndpoints: XLB_MAX_EP, maxWeight: MAX_WEIGHT };
  }

  readConfig(): ReturnType<typeof configCodec.decode> {
    const v = this.maps.config.lookup(u32Key(0));
    if (v === undefined) throw new Error('kernel datapath: xlb_config[0] is missing');
    return configCodec.decode(v);
  }

  writeConfig(patch: Partial<ReturnType<typeof configCodec.decode>>): void {
    this.maps.config.update(u32Key(0), configCodec.encode({ ...this.readConfig(), ...patch }));
  }

  // ---------------------------------------------------------------- services
  private encodeKey(k: DpServiceKey, range: boolean): Buffer {
    const a = addr16(k.vip);
    return svcKey.encode({ addr: a.bytes, port: range ? 0 : k.port, proto: PROTO_CODE[k.protocol], family: a.family });
  }

  private decodeService(kb: Buffer, vb: Buffer): DpService | undefined {
    const k = svcKey.decode(kb);
    const v = serviceCodec.decode(vb);
    const protocol = protoName(k.proto);
    const mode = MODES[v.mode];
    const algorithm = ALGOS[v.algo];
    if (protocol === undefined || mode === undefined || algorithm === undefined || (k.family !== 4 && k.family !== 6)) return undefined;
    const pol = this.maps.policers.lookup(u32Key(v.id));
    const p = pol === undefined ? { rate_pps: 0, burst: 0 } : policerCodec.decode(pol);
    const range = k.port === 0;
    const svc: DpService = {
      key: { vip: formatIp(k.addr, k.family), port: range ? v.port_lo : k.port, protocol },
      id: v.id,
      portEnd: range ? v.port_hi : 0,
      mode,
      algorithm,
      persistenceTimeoutS: (v.flags & XLB_SVC_F_PERSIST) !== 0 ? v.persist_timeout_s : 0,
      policer: { ratePps: p.rate_pps, burst: p.burst },
      endpointCount: v.ep_count,
      generation: (v.gen & 1) as 0 | 1,
    };
    this.idKey.set(svc.id, { key: svc.key, gen: svc.generation });
    return svc;
  }

  listServices(): DpService[] {
    const out: DpService[] = [];
    for (const [k, v] of this.maps.services.entries()) {
      const s = this.decodeService(k, v);
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  getService(key: DpServiceKey): DpService | undefined {
    const exact = this.encodeKey(key, false);
    const v = this.maps.services.lookup(exact);
    if (v !== undefined) return this.decodeService(exact, v);
    const rk = this.encodeKey(key, true);
    const rv = this.maps.services.lookup(rk);
    if (rv === undefined) return undefined;
    const s = this.decodeService(rk, rv);
    return s !== undefined && s.key.port === key.port ? s : undefined;
  }

  readEndpoints(id: number, generation: 0 | 1, count: number): DpEndpoint[] {
    const out: DpEndpoint[] = [];
    for (let slot = 0; slot < count; slot++) {
      const v = this.maps.endpoints.lookup(u32Key((id * 2 + generation) * XLB_MAX_EP + slot));
      if (v === undefined) {
        out.push({ ...EMPTY_SLOT });
        continue;
      }
      const e = endpointCodec.decode(v);
      if (e.family !== 4 && e.family !== 6) out.push({ ...EMPTY_SLOT });
      else out.push({ ip: formatIp(e.addr, e.family), port: e.port, weight: e.weight, active: (e.flags & XLB_EP_F_ACTIVE) !== 0 });
    }
    return out;
  }

  writeGeneration(id: number, generation: 0 | 1, algorithm: Algorithm, endpoints: DpEndpoint[]): void {
    const owner = this.idKey.get(id);
    if (owner !== undefined && owner.gen === generation && this.maps.services.lookup(this.encodeKey(owner.key, false)) !== undefined) {
      throw new Error(`kernel datapath: refusing to write the ACTIVE generation ${generation} of service id ${id} (${serviceKeyText(owner.key)})`);
    }
    if (id <= 0 || id >= this.limits.maxServices) throw new Error(`kernel datapath: service id ${id} is outside 1..${this.limits.maxServices - 1}`);
    if (endpoints.length > XLB_MAX_EP) throw new Error(`kernel datapath: ${endpoints.length} endpoints > ${XLB_MAX_EP}`);
    const base = (id * 2 + generation) * XLB_MAX_EP;
    const entries: [Buffer, Buffer][] = endpoints.map((e, slot) => {
      if (e.ip === '') return [u32Key(base + slot), endpointCodec.encode({ addr: Buffer.alloc(16), port: 0, weight: 0, family: 0, flags: 0 })];
      const a = addr16(e.ip);
      return [u32Key(base + slot), endpointCodec.encode({ addr: a.bytes, port: e.port, weight: e.weight, family: a.family, flags: e.active ? XLB_EP_F_ACTIVE : 0 })];
    });
    this.maps.endpoints.updateBatch(entries);
    let table: Uint32Array | undefined;
    if (algorithm === 'maglev' && this.maglevSize > 0) table = maglevTable(endpoints, this.maglevSize);
    else if (algorithm === 'wrr') table = wrrSchedule(endpoints, this.maglevSize);
    if (table !== undefined && table.length > 0) {
      // One BPF_MAP_UPDATE_BATCH from contiguous key/value arrays (no Buffer per entry).
      const tbase = (id * 2 + generation) * this.maglevSize;
      const keys = new Uint32Array(table.length);
      for (let i = 0; i < table.length; i++) keys[i] = tbase + i;
      this.maps.sched.updateBatchRaw({ count: table.length, keys: Buffer.from(keys.buffer), values: Buffer.from(table.buffer, table.byteOffset, table.byteLength) });
    }
    this.schedLen.set(`${id}/${generation}`, algorithm === 'wrr' ? (table?.length ?? 0) : 0);
  }

  refusal(svc: Pick<DpService, 'key' | 'mode' | 'portEnd'>): string | undefined {
    if (svc.mode !== 'fullnat') return undefined;
    const cfg = this.readConfig();
    const family = svc.key.vip.includes(':') ? 6 : 4;
    if ((family === 4 ? cfg.snat_v4 : cfg.snat_v6).every((b) => b === 0)) {
      return `mode fullnat needs a source address for IPv${family}: start the agent with --snat-v${family} ADDR (an address of this host the backends route back to)`;
    }
    return undefined;
  }

  putService(svc: DpService): void {
    const range = svc.portEnd !== 0;
    const key = this.encodeKey(svc.key, range);
    if (range) {
      const other = this.maps.services.lookup(key);
      if (other !== undefined && serviceCodec.decode(other).port_lo !== svc.key.port) {
        throw new DatapathRefusal(`${svc.key.vip} ${svc.key.protocol} already has a port range; the datapath holds one port range per VIP and protocol`);
      }
    }
    const no = this.refusal(svc);
    if (no !== undefined) throw new DatapathRefusal(no);
    // Policer first (the entry that names it is written last).
    const pk = u32Key(svc.id);
    const cur = this.maps.policers.lookup(pk);
    const p = cur === undefined ? undefined : policerCodec.decode(cur);
    if (p === undefined || p.rate_pps !== svc.policer.ratePps || p.burst !== svc.policer.burst) {
      this.maps.policers.update(pk, policerCodec.encode({ rate_pps: svc.policer.ratePps, burst: svc.policer.burst, tat_ns: 0n }));
    }
    let schedLen = this.schedLen.get(`${svc.id}/${svc.generation}`);
    if (schedLen === undefined) {
      const existing = this.maps.services.lookup(key);
      schedLen = existing === undefined ? 0 : serviceCodec.decode(existing).sched_len;
    }
    const value = serviceCodec.encode({
      id: svc.id,
      mode: MODE_CODE[svc.mode],
      algo: ALGO_CODE[svc.algorithm],
      flags: svc.persistenceTimeoutS > 0 ? XLB_SVC_F_PERSIST : 0,
      gen: svc.generation,
      ep_count: svc.endpointCount,
      sched_len: schedLen,
      port_lo: range ? svc.key.port : 0,
      port_hi: range ? svc.portEnd : 0,
      persist_timeout_s: svc.persistenceTimeoutS,
      snat_addr: Buffer.alloc(16),
    });
    this.maps.services.update(key, value);
    this.idKey.set(svc.id, { key: svc.key, gen: svc.generation });
    // A service that turned from one port into a range (or back) keeps its id and key text but
    // lives under the other map key: drop the entry of its previous shape (after the new one
    // exists, so no packet finds neither).
    const otherKey = this.encodeKey(svc.key, !range);
    const other = this.maps.services.lookup(otherKey);
    if (other !== undefined && serviceCodec.decode(other).id === svc.id) this.maps.services.delete(otherKey);
  }

  deleteService(key: DpServiceKey): boolean {
    const s = this.getService(key);
    if (s === undefined) return false;
    this.maps.services.delete(this.encodeKey(key, s.portEnd !== 0));
    this.idKey.delete(s.id);
    this.schedLen.delete(`${s.id}/0`);
    this.schedLen.delete(`${s.id}/1`);
    // Counters of the id start from zero for the next service that takes it.
    const zeros = (n: number, size: number): Buffer[] => Array.from({ length: n }, () => Buffer.alloc(size));
    const cpus = numPossibleCpus();
    this.maps.svcStats.updatePerCpu(u32Key(s.id), zeros(cpus, svcStats.size));
    for (let slot = 0; slot < XLB_MAX_EP; slot++) {
      this.maps.epStats.updatePerCpu(u32Key(s.id * XLB_MAX_EP + slot), zeros(cpus, countersCodec.size));
    }
    return true;
  }

  // ---------------------------------------------------------------- flows
  private alive(e: ReturnType<typeof ctEntry.decode>, now: bigint, timeouts: number[]): boolean {
    const t = BigInt(timeouts[e.state & 15] ?? 0) * 1_000_000_000n;
    return now - e.last_seen_ns <= t;
  }

  private now(cfg: ReturnType<typeof configCodec.decode>): bigint {
    return monotonicNs() + cfg.clock_offset_ns;
  }

  /** Every entry of the conntrack map (decoded), read with batch lookups (a few syscalls). */
  private ctEntries(): { kb: Buffer; k: ReturnType<typeof ctKey.decode>; e: ReturnType<typeof ctEntry.decode> }[] {
    const raw = this.maps.ct.lookupBatchRaw();
    const ks = this.maps.ct.keySize;
    const vs = this.maps.ct.valueBufferSize;
    const out = new Array<{ kb: Buffer; k: ReturnType<typeof ctKey.decode>; e: ReturnType<typeof ctEntry.decode> }>(raw.count);
    for (let i = 0; i < raw.count; i++) {
      const kb = raw.keys.subarray(i * ks, (i + 1) * ks);
      out[i] = { kb, k: ctKey.decode(kb), e: ctEntry.decode(raw.values.subarray(i * vs, (i + 1) * vs)) };
    }
    return out;
  }

  private peerKey(k: ReturnType<typeof ctKey.decode>, e: ReturnType<typeof ctEntry.decode>): Buffer {
    return ctKey.encode({ saddr: e.nat_daddr, daddr: e.nat_saddr, sport: e.nat_dport, dport: e.nat_sport, proto: k.proto, family: k.family });
  }

  listFlows(): DpFlow[] {
    const cfg = this.readConfig();
    const now = this.now(cfg);
    const all = this.ctEntries();
    const byKey = new Map(all.map((x) => [x.kb.toString('hex'), x]));
    const out: DpFlow[] = [];
    for (const { k, e } of all) {
      if ((e.flags & XLB_CT_F_REPLY) !== 0 || !this.alive(e, now, cfg.timeouts_s)) continue;
      const fam = k.family === 6 ? 6 : 4;
      const peer = byKey.get(this.peerKey(k, e).toString('hex'));
      const proto = k.proto === 6 ? 'tcp' : k.proto === 17 ? 'udp' : 'icmp';
      out.push({
        serviceId: e.svc_id,
        protocol: proto,
        client: { ip: formatIp(k.saddr, fam), port: k.sport },
        vip: { ip: formatIp(k.daddr, fam), port: k.dport },
        endpoint: { ip: formatIp(e.nat_daddr, fam), port: e.nat_dport },
        endpointSlot: e.ep_slot,
        state: CT_STATES[e.state] ?? `STATE_${e.state}`,
        packets: Number(e.packets + (peer?.e.packets ?? 0n)),
        bytes: Number(e.bytes + (peer?.e.bytes ?? 0n)),
        ageMs: Number((now - e.created_ns) / 1_000_000n),
        idleMs: Number((now - (peer !== undefined && peer.e.last_seen_ns > e.last_seen_ns ? peer.e.last_seen_ns : e.last_seen_ns)) / 1_000_000n),
      });
    }
    return out;
  }

  deleteFlows(serviceId: number, ep: { ip: string; port: number }): number {
    const target = addr16(ep.ip).bytes;
    let n = 0;
    for (const { kb, k, e } of this.ctEntries()) {
      if ((e.flags & XLB_CT_F_REPLY) !== 0 || e.svc_id !== serviceId || e.nat_dport !== ep.port || !e.nat_daddr.equals(target)) continue;
      this.maps.ct.delete(this.peerKey(k, e));
      if (this.maps.ct.delete(kb)) n++;
    }
    return n;
  }

  /**
   * Conntrack maintenance: deletes entries past their state's timeout (the datapath already
   * treats them as absent; deleting frees LRU room and ends their least-connection count) and
   * rewrites xlb_ep_conns from the live, counted flows. The datapath increments a slot's count
   * when it creates a counted flow and decrements it when the flow reaches TIME_WAIT/CLOSED; a
   * flow that times out or is evicted never decrements, which this recount repairs. A flow
   * created between the snapshot and the write is missed until the next sweep (self-correcting).
   */
  sweep(): { expired: number; lcSlotsFixed: number } {
    const cfg = this.readConfig();
    const now = this.now(cfg);
    const all = this.ctEntries();
    let expired = 0;
    const counts = new Map<number, number>();
    for (const { kb, e } of all) {
      if (!this.alive(e, now, cfg.timeouts_s)) {
        if (this.maps.ct.delete(kb)) expired++;
        continue;
      }
      if ((e.flags & XLB_CT_F_REPLY) === 0 && (e.flags & XLB_CT_F_LC_COUNTED) !== 0 && e.ep_slot < XLB_MAX_EP) {
        const idx = e.svc_id * XLB_MAX_EP + e.ep_slot;
        counts.set(idx, (counts.get(idx) ?? 0) + 1);
      }
    }
    let fixed = 0;
    for (const s of this.listServices()) {
      if (s.algorithm !== 'lc') continue;
      for (let slot = 0; slot < XLB_MAX_EP; slot++) {
        const idx = s.id * XLB_MAX_EP + slot;
        const want = BigInt(counts.get(idx) ?? 0);
        const cur = this.maps.epConns.lookup(u32Key(idx));
        if (cur !== undefined && cur.readBigInt64LE(0) === want) continue;
        const b = Buffer.alloc(8);
        b.writeBigInt64LE(want);
        this.maps.epConns.update(u32Key(idx), b);
        fixed++;
      }
    }
    return { expired, lcSlotsFixed: fixed };
  }

  /** The datapath's least-connection counts (xlb_ep_conns) of a service's first `count` slots. */
  endpointConnections(id: number, count: number): number[] {
    return Array.from({ length: count }, (_, slot) => Number(this.maps.epConns.lookup(u32Key(id * XLB_MAX_EP + slot))?.readBigInt64LE(0) ?? 0n));
  }

  counters(): DpCounters {
    const out: DpCounters = { services: new Map(), endpoints: new Map(), drops: new Map(), verdicts: new Map() };
    const zero = { packets: 0n, bytes: 0n };
    const add = (a: { packets: bigint; bytes: bigint }, b: { packets: bigint; bytes: bigint }) => ({ packets: a.packets + b.packets, bytes: a.bytes + b.bytes });
    for (const s of this.listServices()) {
      const sc = sumPerCpu(this.maps.svcStats.lookupPerCpu(u32Key(s.id)), (b) => svcStats.decode(b), add, zero);
      out.services.set(s.id, { packets: Number(sc.packets), bytes: Number(sc.bytes) });
      const eps = new Map<number, { packets: number; bytes: number }>();
      for (let slot = 0; slot < s.endpointCount; slot++) {
        const c = sumPerCpu(this.maps.epStats.lookupPerCpu(u32Key(s.id * XLB_MAX_EP + slot)), (b) => countersCodec.decode(b), add, zero);
        eps.set(slot, { packets: Number(c.packets), bytes: Number(c.bytes) });
      }
      out.endpoints.set(s.id, eps);
    }
    REASONS.forEach((name, i) => {
      const c = sumPerCpu(this.maps.reasons.lookupPerCpu(u32Key(i)), (b) => countersCodec.decode(b), add, zero);
      if (name.startsWith('drop_')) out.drops.set(name.slice(5), Number(c.packets));
      else out.verdicts.set(name, Number(c.packets));
    });
    FWD_RESULTS.forEach((name, i) => {
      const c = sumPerCpu(this.maps.fwd.lookupPerCpu(u32Key(i)), (b) => countersCodec.decode(b), add, zero);
      out.verdicts.set(`fwd_${name}`, Number(c.packets));
    });
    return out;
  }
}

/** Sizes of the maps for a service-id space and CT capacity; pinned maps keep their own size. */
function mapSizes(pinDir: string, maxServices: number, maglevSize: number, ctEntries: number): Record<string, number> {
  const want: Record<string, number> = {
    xlb_services: maxServices,
    xlb_endpoints: maxServices * 2 * XLB_MAX_EP,
    xlb_sched: maxServices * 2 * maglevSize,
    xlb_rr: maxServices,
    xlb_policers: maxServices,
    xlb_svc_stats: maxServices,
    xlb_ep_conns: maxServices * XLB_MAX_EP,
    xlb_ep_stats: maxServices * XLB_MAX_EP,
    xlb_ct: ctEntries,
  };
  for (const name of Object.keys(want)) {
    const pin = path.join(pinDir, name);
    if (!existsSync(pin)) continue;
    const m = BpfMap.openPinned(pin);
    want[name] = m.maxEntries;
    m.close();
  }
  return want;
}

export interface KernelDatapathHandle extends DatapathHandle {
  kernel: KernelDatapath;
  /** True when the maps were re-opened from pins (a restart), false when created. */
  reusedPins: boolean;
  program: BpfProgram;
}

/** Loads the datapath for a hook, reusing pinned maps under pinDir when they exist. */
export function openKernelDatapath(opts: KernelDatapathOptions): KernelDatapathHandle {
  const objectPath = opts.objectPath ?? path.join(ROOT, 'build', 'bpf', opts.hook === 'tc' ? 'xlb_tc.bpf.o' : 'xlb_xdp.bpf.o');
  const reusedPins = existsSync(path.join(opts.pinDir, 'xlb_services'));
  let maglevSize = opts.maglevSize ?? 4099;
  if (reusedPins && existsSync(path.join(opts.pinDir, 'xlb_config'))) {
    const m = BpfMap.openPinned(path.join(opts.pinDir, 'xlb_config'));
    const v = m.lookup(u32Key(0));
    m.close();
    if (v !== undefined && configCodec.decode(v).maglev_size > 0) maglevSize = configCodec.decode(v).maglev_size;
  }
  const createdDir = !existsSync(opts.pinDir);
  let obj: BpfObject;
  try {
    obj = BpfObject.open(objectPath, { pinDir: opts.pinDir, maxEntries: mapSizes(opts.pinDir, opts.maxServices ?? 1024, maglevSize, opts.ctEntries ?? 262144) });
  } catch (err) {
    // Leave nothing behind when this call created the pin directory.
    if (createdDir) rmSync(opts.pinDir, { recursive: true, force: true });
    throw err;
  }
  let kernel: KernelDatapath;
  try {
    kernel = new KernelDatapath(obj);
    const cfg = kernel.readConfig();
    if (cfg.maglev_size === 0) {
      // A fresh config map: the datapath's own defaults (timeouts, SNAT ports, next-hop cache…).
      kernel.writeConfig(defaultConfig(maglevSize));
      (kernel as { maglevSize: number }).maglevSize = maglevSize;
    }
    // The tail-call table: libbpf fills it from the object's initialiser; writing it again keeps
    // this loader independent of that libbpf feature (as src/datapath/loader.ts does).
    obj.map('xlb_progs').update(u32Key(0), u32Key(obj.program(opts.hook === 'tc' ? 'xlb_tc_slow' : 'xlb_xdp_slow').fd));
    const snat: Partial<ReturnType<typeof configCodec.decode>> = {};
    if (opts.snatV4 !== undefined) snat.snat_v4 = addr16(opts.snatV4).bytes;
    if (opts.snatV6 !== undefined) snat.snat_v6 = addr16(opts.snatV6).bytes;
    if (Object.keys(snat).length > 0) kernel.writeConfig(snat);
  } catch (err) {
    obj.close();
    throw err;
  }
  const program = obj.program(opts.hook === 'tc' ? 'xlb_tc_main' : 'xlb_xdp_main');
  // The tail-call table (xlb_progs) is not pinned by the object. The kernel empties a PROG_ARRAY
  // when its last user-space reference goes (an fd or a pin), so after the agent exits the
  // still-attached program would tail-call into nothing: established flows go on (fast path),
  // new flows pass untouched. Pinning it under a name of this process keeps it filled;
  // afterAttach() removes the pins of earlier processes once this one's program is attached.
  const progsPin = path.join(opts.pinDir, `xlb_progs_${opts.hook}_${process.pid}_${Date.now().toString(36)}`);
  try {
    obj.map('xlb_progs').pin(progsPin);
  } catch (err) {
    obj.close();
    throw err;
  }
  const stalePins = (): string[] => readdirSync(opts.pinDir).filter((f) => f.startsWith(`xlb_progs_${opts.hook}_`) && path.join(opts.pinDir, f) !== progsPin);
  const attached = new Set<string>();
  return {
    datapath: kernel,
    kernel,
    reusedPins,
    program,
    describe: `kernel ${opts.hook} ${opts.pinDir}`,
    attach(iface: string) {
      const idx = ifindex(iface);
      if (opts.hook === 'tc') program.attachTc(idx, 'ingress', { replace: true });
      else program.attachXdp(idx, opts.xdpMode ?? 'native', { replace: true });
      attached.add(iface);
    },
    detach(iface: string) {
      const idx = ifindex(iface);
      if (opts.hook === 'tc') detachTc(idx, 'ingress');
      else detachXdp(idx, opts.xdpMode ?? 'native');
      attached.delete(iface);
    },
    afterAttach() {
      for (const f of stalePins()) rmSync(path.join(opts.pinDir, f), { force: true });
    },
    maintain() {
      return kernel.sweep();
    },
    close(opts2: { detached?: boolean } = {}) {
      // Detached: nothing runs the program any more, its tail-call table pin can go.
      if (opts2.detached === true) rmSync(progsPin, { force: true });
      obj.close();
      if (opts.removePinsOnClose === true) rmSync(opts.pinDir, { recursive: true, force: true });
    },
  };
}
