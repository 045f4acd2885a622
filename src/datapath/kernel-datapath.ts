// The kernel implementation of the controller's Datapath, on the project's one loader
// (src/datapath/loader.ts: maps pinned per instance and reused on restart, pinned sizes adopted,
// tail-call table pinned) and one schema (src/schema/maps.ts), reading and writing the maps only
// through src/datapath/maps.ts (the one place of map access). A restarted agent re-opens the
// same maps, so every flow survives.
//
// Maps sized by the service-id space S (ids 1..S-1): xlb_services S, xlb_endpoints S·2·64,
// xlb_sched S·2·M, xlb_rr / xlb_policers / xlb_svc_stats S, xlb_ep_conns / xlb_ep_stats S·64.
// When the pins exist their sizes win (a pinned map cannot be resized).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ifindex, maglevFillNative } from '../bpf/index.ts';
import type { BpfProgram } from '../bpf/index.ts';
import type {
  Datapath,
  DatapathHandle,
  DatapathLimits,
  DpCounters,
  DpEndpoint,
  DpFlow,
  DpService,
  DpServiceKey,
  FlowQuery,
} from '../controller/datapath.ts';
import { DatapathRefusal, portRangeTaken } from '../controller/datapath.ts';
import { formatIp } from '../controller/ip.ts';
import { MaglevTables, wrrSchedule } from '../controller/lookup-tables.ts';
import { loadDatapath, objectPathFor } from './loader.ts';
import { assertEnumMirrors, assertStructLayouts } from '../schema/btf.ts';
import { SCHEMA_CODECS, SCHEMA_ENUMS } from '../schema/maps.ts';
import type { LoadedDatapath } from './loader.ts';
import {
  addr16,
  algorithmName,
  countFlowsByState,
  ctAlive,
  ctEntryOffset,
  ctPeerKey,
  datapathNow,
  deleteService as deleteServiceEntry,
  familyCode,
  modeName,
  protoName,
  putService as putServiceEntry,
  readCt,
  readEndpointConns,
  readEndpointStats,
  readEndpoints as readEndpointSlots,
  readFwdResults,
  readReasons,
  readServiceStats,
  resetServiceCounters,
  schedBytesPerTable,
  serviceKeyBytes,
  setPolicer,
  endpointStatsIndex,
  writeEndpointConns,
  writeEndpoints,
  writeSched,
  writeSchedBytes,
} from './maps.ts';
import {
  CT_F,
  CT_STATE,
  FWD_RESULT,
  REASON,
  SVC_F_PERSIST,
  XLB_MAX_EP,
  ctEntry,
  ctKey,
  policer as policerCodec,
  service as serviceCodec,
  svcKey,
  u32Key,
} from '../schema/maps.ts';
import type { Config, CtEntry, CtKey } from '../schema/maps.ts';
import type { Algorithm } from '../controller/types.ts';
import { serviceKeyText } from '../controller/types.ts';
import { xdpVethWarning } from './veth-gro.ts';

export interface KernelDatapathOptions {
  hook: 'tc' | 'xdp';
  /** bpffs directory for the pinned maps, e.g. /sys/fs/bpf/xlb/default. */
  pinDir: string;
  /** Conntrack entries (two per flow) when the maps are created. Default 262144. */
  ctEntries?: number;
  /** Service-id space when the maps are created. Default 1024. */
  maxServices?: number;
  /** Maglev table size (prime) when the maps are created; default the pinned size, else 4099. */
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
  /** Attach-time warnings (the agent logs them; default: process.emitWarning). */
  onWarning?: (fields: Record<string, unknown>, message: string) => void;
}

const MAX_WEIGHT = 65535;

/** How old a count of flows by state may be before flowCounts() takes a new one (the agent's conntrack maintenance, every 5 s, keeps it fresher). */
const FLOW_COUNT_MAX_AGE_MS = 10_000;

/** The controller's record of a flow: its entry, with the other direction's counters added (peerOf finds that entry). */
function flowRecord(k: CtKey, e: CtEntry, now: bigint, peerOf: (k: CtKey, e: CtEntry) => CtEntry | undefined): DpFlow {
  const fam = familyCode(k.family);
  const peer = peerOf(k, e);
  return {
    serviceId: e.svc_id,
    protocol: protoName(k.proto) ?? 'icmp',
    client: { ip: formatIp(k.saddr, fam), port: k.sport },
    vip: { ip: formatIp(k.daddr, fam), port: k.dport },
    endpoint: { ip: formatIp(e.nat_daddr, fam), port: e.nat_dport },
    endpointSlot: e.ep_slot,
    state: CT_STATE[e.state] ?? `STATE_${e.state}`,
    packets: Number(e.packets + (peer?.packets ?? 0n)),
    bytes: Number(e.bytes + (peer?.bytes ?? 0n)),
    ageMs: Number((now - e.created_ns) / 1_000_000n),
    idleMs: Number((now - (peer !== undefined && peer.last_seen_ns > e.last_seen_ns ? peer.last_seen_ns : e.last_seen_ns)) / 1_000_000n),
  };
}

export class KernelDatapath implements Datapath {
  readonly limits: DatapathLimits;
  readonly maglevSize: number;
  private readonly dp: LoadedDatapath;
  private readonly maps: LoadedDatapath['maps'];
  /** sched_len written with each generation, for the service entry that flips to it. */
  private readonly schedLen = new Map<string, number>();
  /**
   * id → key, generation and shape (port range or not) of the entries seen (listServices,
   * getService) or written: guards writes to an active generation, and tells putService when a
   * service changed shape. Every entry the map holds was seen by the Reconciler's first
   * listServices, so an id missing here has no entry.
   */
  private readonly idKey = new Map<number, { key: DpServiceKey; gen: 0 | 1; range: boolean }>();
  /** The last count of live flows by state (maintainConntrack or flowCounts took it). */
  private flowCount: { byState: Record<string, number>; atMs: number } | undefined;
  /** Maglev tables by members (built by the addon's fill), and the one buffer each table is built into (zero past m). */
  private readonly maglev: MaglevTables | undefined;
  private readonly schedBuf: Uint8Array;

  constructor(dp: LoadedDatapath) {
    this.dp = dp;
    this.maps = dp.maps;
    this.maglevSize = dp.maglevSize;
    this.limits = { maxServices: dp.maxServices, maxEndpoints: XLB_MAX_EP, maxWeight: MAX_WEIGHT };
    this.maglev = dp.maglevSize > 0 ? new MaglevTables(dp.maglevSize, 1024, maglevFillNative) : undefined;
    this.schedBuf = new Uint8Array(dp.maglevSize > 0 ? schedBytesPerTable(dp.maglevSize) : 0);
  }

  /** Maglev tables built and taken from the cache (benchmarks). */
  maglevStats(): { hits: number; builds: number } {
    return { ...(this.maglev?.stats ?? { hits: 0, builds: 0 }) };
  }

  readConfig(): Config {
    return this.dp.readConfig();
  }

  writeConfig(patch: Partial<Config>): void {
    this.dp.writeConfig(patch);
  }

  // ---------------------------------------------------------------- services
  private encodeKey(k: DpServiceKey, range: boolean): Buffer {
    return serviceKeyBytes({ vip: k.vip, port: range ? 0 : k.port, proto: k.protocol });
  }

  /** `policers`: the whole xlb_policers array read in one batch (listServices), else one lookup. */
  private decodeService(kb: Buffer, vb: Buffer, policers?: { values: Buffer; count: number }): DpService | undefined {
    const k = svcKey.decode(kb);
    const v = serviceCodec.decode(vb);
    const protocol = protoName(k.proto);
    const mode = modeName(v.mode);
    const algorithm = algorithmName(v.algo);
    // ICMP echo services are the datapath's, not the controller's (it has no such protocol).
    if (
      protocol === undefined ||
      protocol === 'icmp' ||
      mode === undefined ||
      algorithm === undefined ||
      (k.family !== 4 && k.family !== 6)
    )
      return undefined;
    const ps = policerCodec.size;
    const pol =
      policers !== undefined && v.id < policers.count
        ? policers.values.subarray(v.id * ps, (v.id + 1) * ps)
        : this.maps.policers.lookup(u32Key(v.id));
    const p = pol === undefined ? { rate_pps: 0, burst: 0 } : policerCodec.decode(pol);
    const range = k.port === 0;
    const svc: DpService = {
      key: { vip: formatIp(k.addr, k.family), port: range ? v.port_lo : k.port, protocol },
      id: v.id,
      portEnd: range ? v.port_hi : 0,
      mode,
      algorithm,
      persistenceTimeoutS: (v.flags & SVC_F_PERSIST) !== 0 ? v.persist_timeout_s : 0,
      policer: { ratePps: p.rate_pps, burst: p.burst },
      endpointCount: v.ep_count,
      generation: (v.gen & 1) as 0 | 1,
    };
    this.idKey.set(svc.id, { key: svc.key, gen: svc.generation, range });
    return svc;
  }

  listServices(): DpService[] {
    // Batch reads (a few syscalls for 100,000 services, not two per service).
    const raw = this.maps.services.lookupBatchRaw();
    const out: DpService[] = [];
    if (raw.count === 0) return out;
    const pol = this.maps.policers.lookupBatchRaw();
    const ks = this.maps.services.keySize;
    const vs = this.maps.services.valueBufferSize;
    for (let i = 0; i < raw.count; i++) {
      const s = this.decodeService(raw.keys.subarray(i * ks, (i + 1) * ks), raw.values.subarray(i * vs, (i + 1) * vs), pol);
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
    return readEndpointSlots(this.dp, id, generation, count);
  }

  writeGeneration(id: number, generation: 0 | 1, algorithm: Algorithm, endpoints: DpEndpoint[]): void {
    const owner = this.idKey.get(id);
    if (
      owner !== undefined &&
      owner.gen === generation &&
      this.maps.services.lookup(this.encodeKey(owner.key, owner.range)) !== undefined
    ) {
      throw new Error(
        `kernel datapath: refusing to write the ACTIVE generation ${generation} of service id ${id} (${serviceKeyText(owner.key)})`,
      );
    }
    if (id <= 0 || id >= this.limits.maxServices)
      throw new Error(`kernel datapath: service id ${id} is outside 1..${this.limits.maxServices - 1}`);
    if (endpoints.length > XLB_MAX_EP) throw new Error(`kernel datapath: ${endpoints.length} endpoints > ${XLB_MAX_EP}`);
    // The generation's slots as one contiguous run of the mmapped xlb_endpoints: one memcpy of
    // the used slots (packets read at most the service entry's ep_count of them). No packet reads
    // this generation until putService names it (the map update is the barrier).
    writeEndpoints(this.dp, id, generation, endpoints, { clearRest: false });
    // The table: one copy into the mmapped xlb_sched.
    let wrrLen = 0;
    if (algorithm === 'maglev' && this.maglev !== undefined) {
      writeSchedBytes(this.dp, id, generation, this.maglev.fill(endpoints, this.schedBuf));
    } else if (algorithm === 'wrr') {
      const table = wrrSchedule(endpoints, this.maglevSize);
      if (table.length > 0) writeSched(this.dp, id, generation, table);
      wrrLen = table.length;
    }
    this.schedLen.set(`${id}/${generation}`, wrrLen);
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
        throw portRangeTaken(svc.key);
      }
    }
    const no = this.refusal(svc);
    if (no !== undefined) throw new DatapathRefusal(no);
    // Policer first (the entry that names it is written last).
    const cur = this.maps.policers.lookup(u32Key(svc.id));
    const p = cur === undefined ? undefined : policerCodec.decode(cur);
    if (p === undefined || p.rate_pps !== svc.policer.ratePps || p.burst !== svc.policer.burst)
      setPolicer(this.dp, svc.id, svc.policer.ratePps, svc.policer.burst);
    let schedLen = this.schedLen.get(`${svc.id}/${svc.generation}`);
    if (schedLen === undefined) {
      const existing = this.maps.services.lookup(key);
      schedLen = existing === undefined ? 0 : serviceCodec.decode(existing).sched_len;
    }
    putServiceEntry(this.dp, {
      vip: svc.key.vip,
      port: range ? 0 : svc.key.port,
      proto: svc.key.protocol,
      id: svc.id,
      mode: svc.mode,
      algo: svc.algorithm,
      gen: svc.generation,
      epCount: svc.endpointCount,
      schedLen,
      portLo: range ? svc.key.port : 0,
      portHi: range ? svc.portEnd : 0,
      persistTimeoutS: svc.persistenceTimeoutS,
    });
    const before = this.idKey.get(svc.id);
    this.idKey.set(svc.id, { key: svc.key, gen: svc.generation, range });
    // A service that turned from one port into a range (or back) keeps its id and key text but
    // lives under the other map key: drop the entry of its previous shape (after the new one
    // exists, so no packet finds neither).
    if (before !== undefined && before.range !== range) {
      const otherKey = this.encodeKey(before.key, before.range);
      const other = this.maps.services.lookup(otherKey);
      // (An ICMP echo service has port 0 in both shapes: its other key is its own.)
      if (!otherKey.equals(key) && other !== undefined && serviceCodec.decode(other).id === svc.id) this.maps.services.delete(otherKey);
    }
  }

  deleteService(key: DpServiceKey): boolean {
    const s = this.getService(key);
    if (s === undefined) return false;
    deleteServiceEntry(this.dp, { vip: key.vip, port: s.portEnd !== 0 ? 0 : key.port, proto: key.protocol });
    this.idKey.delete(s.id);
    this.schedLen.delete(`${s.id}/0`);
    this.schedLen.delete(`${s.id}/1`);
    resetServiceCounters(this.dp, s.id);
    return true;
  }

  // ---------------------------------------------------------------- flows
  /**
   * Flows matching q, reading each entry's filter fields in place (no decode) and building at
   * most q.limit records; the other direction's counters come from one lookup per record built
   * (an index of every entry only when many records are asked for).
   */
  queryFlows(q: FlowQuery): { total: number; flows: DpFlow[] } {
    const cfg = this.readConfig();
    const now = datapathNow(cfg);
    const raw = this.maps.ct.lookupBatchRaw();
    const ks = this.maps.ct.keySize;
    const vs = this.maps.ct.valueBufferSize;
    const view = new DataView(raw.values.buffer, raw.values.byteOffset, raw.values.length);
    const oFlags = ctEntryOffset('flags');
    const oSvc = ctEntryOffset('svc_id');
    const oState = ctEntryOffset('state');
    const oLast = ctEntryOffset('last_seen_ns');
    const states =
      q.states === undefined ? undefined : new Set(q.states.map((x) => (CT_STATE as readonly string[]).indexOf(x.toUpperCase())));
    const limit = q.limit ?? Number.MAX_SAFE_INTEGER;
    const picked: number[] = [];
    let total = 0;
    for (let i = 0; i < raw.count; i++) {
      const b = i * vs;
      const flags = view.getUint8(b + oFlags);
      if ((flags & CT_F.reply) !== 0) continue;
      if (q.serviceId !== undefined && view.getUint32(b + oSvc, true) !== q.serviceId) continue;
      const state = view.getUint8(b + oState);
      if (states !== undefined && !states.has(state)) continue;
      // ct_alive (maps.ts) on the three fields in place.
      if (!ctAlive({ state, flags, last_seen_ns: view.getBigUint64(b + oLast, true) }, now, cfg.timeouts_s)) continue;
      total++;
      if (picked.length < limit) picked.push(i);
    }
    let peerOf: (k: CtKey, e: CtEntry) => CtEntry | undefined;
    if (picked.length > 4096) {
      const byKey = new Map<string, number>();
      for (let i = 0; i < raw.count; i++) byKey.set(raw.keys.subarray(i * ks, (i + 1) * ks).toString('hex'), i);
      peerOf = (k, e) => {
        const j = byKey.get(ctPeerKey(k, e).toString('hex'));
        return j === undefined ? undefined : ctEntry.decode(raw.values.subarray(j * vs, (j + 1) * vs));
      };
    } else {
      peerOf = (k, e) => {
        const v = this.maps.ct.lookup(ctPeerKey(k, e));
        return v === undefined ? undefined : ctEntry.decode(v);
      };
    }
    const flows = picked.map((i) =>
      flowRecord(
        ctKey.decode(raw.keys.subarray(i * ks, (i + 1) * ks)),
        ctEntry.decode(raw.values.subarray(i * vs, (i + 1) * vs)),
        now,
        peerOf,
      ),
    );
    return { total, flows };
  }

  listFlows(): DpFlow[] {
    const cfg = this.readConfig();
    const now = datapathNow(cfg);
    const all = readCt(this.maps.ct);
    const byKey = new Map(all.map((x) => [x.kb.toString('hex'), x.e]));
    const out: DpFlow[] = [];
    for (const { k, e } of all) {
      if ((e.flags & CT_F.reply) !== 0 || !ctAlive(e, now, cfg.timeouts_s)) continue;
      out.push(flowRecord(k, e, now, (pk, pe) => byKey.get(ctPeerKey(pk, pe).toString('hex'))));
    }
    return out;
  }

  deleteFlows(serviceId: number, ep: { ip: string; port: number }): number {
    const target = addr16(ep.ip).addr;
    let n = 0;
    for (const { kb, k, e } of readCt(this.maps.ct)) {
      if ((e.flags & CT_F.reply) !== 0 || e.svc_id !== serviceId || e.nat_dport !== ep.port || !e.nat_daddr.equals(target)) continue;
      this.maps.ct.delete(ctPeerKey(k, e));
      if (this.maps.ct.delete(kb)) n++;
    }
    return n;
  }

  /**
   * Conntrack maintenance (the agent runs it every few seconds): deletes entries past their
   * state's timeout (the datapath already treats them as absent; deleting frees LRU room and ends
   * their least-connection count), counts the live flows by state (what flowCounts() reports),
   * and rewrites xlb_ep_conns from the live, counted flows. The datapath increments a slot's count
   * when it creates a counted flow and decrements it when the flow reaches TIME_WAIT/CLOSED; a
   * flow that times out or is evicted never decrements, which this recount repairs. A flow
   * created between the snapshot and the write is missed until the next run (self-correcting).
   */
  maintainConntrack(): { expired: number; lcSlotsFixed: number } {
    const cfg = this.readConfig();
    const now = datapathNow(cfg);
    let expired = 0;
    const counts = new Map<number, number>();
    const byState: Record<string, number> = {};
    for (const { kb, e } of readCt(this.maps.ct)) {
      if (!ctAlive(e, now, cfg.timeouts_s)) {
        if (this.maps.ct.delete(kb)) expired++;
        continue;
      }
      if ((e.flags & CT_F.reply) !== 0) continue;
      const state = CT_STATE[e.state] ?? 'UNKNOWN';
      byState[state] = (byState[state] ?? 0) + 1;
      if ((e.flags & CT_F.lcCounted) !== 0 && e.ep_slot < XLB_MAX_EP) {
        const idx = endpointStatsIndex(e.svc_id, e.ep_slot);
        counts.set(idx, (counts.get(idx) ?? 0) + 1);
      }
    }
    this.flowCount = { byState, atMs: performance.now() };
    let fixed = 0;
    for (const s of this.listServices()) {
      if (s.algorithm !== 'lc') continue;
      for (let slot = 0; slot < XLB_MAX_EP; slot++) {
        const want = BigInt(counts.get(endpointStatsIndex(s.id, slot)) ?? 0);
        if (readEndpointConns(this.dp, s.id, slot) === want) continue;
        writeEndpointConns(this.dp, s.id, slot, want);
        fixed++;
      }
    }
    return { expired, lcSlotsFixed: fixed };
  }

  /**
   * Live flows by state without decoding the table per request: the count of the last
   * maintenance run (at most the agent's maintenance interval old, 5 s by default), or, when that
   * is older than 10 s (no agent running the maintenance), a new count that reads three fields of
   * each entry in place (countFlowsByState).
   */
  flowCounts(): { byState: Record<string, number>; ageMs: number } {
    const nowMs = performance.now();
    if (this.flowCount === undefined || nowMs - this.flowCount.atMs > FLOW_COUNT_MAX_AGE_MS) {
      const cfg = this.readConfig();
      this.flowCount = { byState: countFlowsByState(this.maps.ct, datapathNow(cfg), cfg.timeouts_s), atMs: performance.now() };
    }
    return { byState: { ...this.flowCount.byState }, ageMs: performance.now() - this.flowCount.atMs };
  }

  /** The datapath's least-connection counts (xlb_ep_conns) of a service's first `count` slots. */
  endpointConnections(id: number, count: number): number[] {
    return Array.from({ length: count }, (_, slot) => Number(readEndpointConns(this.dp, id, slot)));
  }

  counters(): DpCounters {
    const out: DpCounters = { services: new Map(), endpoints: new Map(), drops: new Map(), verdicts: new Map() };
    for (const s of this.listServices()) {
      const sc = readServiceStats(this.dp, s.id);
      out.services.set(s.id, { packets: Number(sc.packets), bytes: Number(sc.bytes), flows: Number(sc.flows), drops: Number(sc.drops) });
      const eps = new Map<number, { packets: number; bytes: number }>();
      for (let slot = 0; slot < s.endpointCount; slot++) {
        const c = readEndpointStats(this.dp, s.id, slot);
        eps.set(slot, { packets: Number(c.packets), bytes: Number(c.bytes) });
      }
      out.endpoints.set(s.id, eps);
    }
    const reasons = readReasons(this.dp);
    for (const name of REASON) {
      const packets = Number(reasons[name].packets);
      if (name.startsWith('drop_')) out.drops.set(name, packets);
      else out.verdicts.set(name, packets);
    }
    const fwd = readFwdResults(this.dp);
    for (const name of FWD_RESULT) out.verdicts.set(`fwd_${name}`, Number(fwd[name].packets));
    return out;
  }
}

export interface KernelDatapathHandle extends DatapathHandle {
  kernel: KernelDatapath;
  /** True when the maps were re-opened from pins (a restart), false when created. */
  reusedPins: boolean;
  program: BpfProgram;
}

/**
 * At XDP, a packet whose next hop has no resolved neighbour is handed to the XDP object's TC half
 * (bpf_redirect_neigh). On a driver that refuses XDP metadata it goes to the kernel's stack
 * instead, translated; under full NAT with the LB's own SNAT address as its source; the stack's source
 * validation drops such a packet ("martian source") unless accept_local is set on the device it
 * arrived on, and then nothing ever resolves the neighbour (docs/datapath.md, Forwarding). So
 * the XDP attach sets net.ipv4.conf.<iface>.accept_local = 1 (in the calling thread's network
 * namespace: /proc/sys/net is per namespace). IPv6 has no such switch: on that path a full-NAT IPv6 flow at
 * XDP still needs the endpoint's neighbour resolved (docs/datapath.md says so).
 */
function acceptLocalSource(iface: string): void {
  const knob = `/proc/sys/net/ipv4/conf/${iface}/accept_local`;
  try {
    if (readFileSync(knob, 'utf8').trim() !== '1') writeFileSync(knob, '1\n');
  } catch (e) {
    throw new Error(
      `XDP on ${iface}: could not set ${knob} to 1 (${(e as Error).message}); full NAT needs it when a backend's neighbour is not resolved yet: set it by hand (sysctl -w net.ipv4.conf.${iface}.accept_local=1) or run as root`,
    );
  }
}

/**
 * Loads the datapath for a hook (loadDatapath), reusing pinned maps under pinDir when they exist.
 * First the object's BTF is checked against the schema (every struct codec and enum mirror of
 * src/schema/maps.ts): an object built from other headers than this code was written for is
 * refused before a byte is written, with every difference named (a few ms: libbpf parses the BTF).
 */
export function openKernelDatapath(opts: KernelDatapathOptions): KernelDatapathHandle {
  const objectPath = opts.objectPath ?? objectPathFor(opts.hook);
  // A missing object: loadDatapath says how to build it.
  if (existsSync(objectPath)) {
    assertStructLayouts(objectPath, SCHEMA_CODECS);
    assertEnumMirrors(objectPath, SCHEMA_ENUMS);
  }
  const config: Partial<Config> = {};
  if (opts.snatV4 !== undefined) config.snat_v4 = addr16(opts.snatV4).addr;
  if (opts.snatV6 !== undefined) config.snat_v6 = addr16(opts.snatV6).addr;
  const dp = loadDatapath({
    hook: opts.hook,
    pinDir: opts.pinDir,
    maxServices: opts.maxServices ?? 1024,
    ...(opts.ctEntries !== undefined ? { ctEntries: opts.ctEntries } : {}),
    ...(opts.maglevSize !== undefined ? { maglevSize: opts.maglevSize } : {}),
    objectPath,
    config,
  });
  const kernel = new KernelDatapath(dp);
  const xdpMode = opts.xdpMode ?? 'native';
  return {
    datapath: kernel,
    kernel,
    reusedPins: dp.reusedPins,
    program: dp.main,
    describe: `kernel ${opts.hook} ${opts.pinDir}`,
    attach(iface: string) {
      dp.attach(ifindex(iface), { xdpMode, replace: true });
      if (opts.hook === 'xdp') {
        acceptLocalSource(iface);
        const w = xdpVethWarning(iface);
        if (w !== undefined) (opts.onWarning ?? ((_f, m) => process.emitWarning(m)))({ iface }, w);
      }
    },
    detach(iface: string) {
      dp.detach(ifindex(iface), { xdpMode });
    },
    afterAttach() {
      // This process's program runs everywhere now: the tail-call tables of earlier ones can go.
      dp.dropStaleProgsPins();
    },
    maintain() {
      return kernel.maintainConntrack();
    },
    close(o: { detached?: boolean } = {}) {
      dp.close(o);
      if (opts.removePinsOnClose === true) rmSync(opts.pinDir, { recursive: true, force: true });
    },
  };
}
