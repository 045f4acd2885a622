// Map access in one place: every read and write of the datapath's maps, in schema terms
// (services, endpoint generations, lookup tables (Maglev / WRR), policers, conntrack, counters),
// over the schema's codecs (src/schema/maps.ts). The kernel adapter (kernel-datapath.ts), the
// prog backend (prog-datapath.ts, records.ts) and the lab's readers of pinned maps
// (lab/lb-maps.ts) all go through these, so a slot index, an endpoint slot's bytes, a
// conntrack entry's liveness or a protocol number is worked out once. Every write is one map
// update (or one batch); the generation protocol (write the inactive generation, then flip the
// service entry) is the caller's (see docs/datapath.md).
import { familyOf, parseIp } from '../packet/index.ts';
import { numPossibleCpus } from '../bpf/index.ts';
import type { BpfMap } from '../bpf/index.ts';
import { dottedQuad, formatIp } from '../controller/ip.ts';
import type { Algorithm, Mode } from '../controller/types.ts';
import type { LoadedDatapath } from './loader.ts';
import type { DpProto } from './packet-datapath.ts';
import {
  ALGO,
  AF,
  CFG_F,
  CT_F,
  CT_STATE,
  EP_F_ACTIVE,
  FWD_RESULT,
  MODE,
  PROTO,
  REASON,
  SVC_F_PERSIST,
  XLB_MAX_EP,
  XLB_SCHED_CHUNK,
  counters,
  ctEntry,
  ctKey,
  endpoint as endpointCodec,
  policer as policerCodec,
  schedEntriesPerTable,
  service as serviceCodec,
  svcKey,
  svcStats,
  u32Key,
} from '../schema/maps.ts';
import type { Config, CtEntry, CtKey, FwdResultName, ReasonName } from '../schema/maps.ts';

// The controller's spellings of modes and algorithms are the schema's enum names (compile-time check).
const sameNames = <A extends string, B extends A>(x: [A, B] | [B, A]): typeof x => x;
sameNames<Mode, keyof typeof MODE>(['dnat', 'dnat']);
sameNames<Algorithm, keyof typeof ALGO>(['rr', 'rr']);

/** Name of an enum value, by value (not by the object's key order). */
function byValue<K extends string>(o: Readonly<Record<K, number>>): (code: number) => K | undefined {
  const m = new Map<number, K>((Object.entries(o) as [K, number][]).map(([k, v]) => [v, k]));
  return (code) => m.get(code);
}

/** The mode / algorithm a service entry's byte names; undefined for a value the schema does not know. */
export const modeName: (code: number) => Mode | undefined = byValue(MODE);
export const algorithmName: (code: number) => Algorithm | undefined = byValue(ALGO);

/** 16-byte schema address (IPv4 in the first 4 bytes) and its family code. */
export function addr16(ip: string): { addr: Buffer; family: 4 | 6 } {
  const raw = parseIp(ip);
  const addr = Buffer.alloc(16);
  addr.set(raw);
  return { addr, family: raw.length === 4 ? AF.v4 : AF.v6 };
}

const scratch16 = Buffer.alloc(16);

/**
 * addr16 into one shared buffer, for writers that copy it into their record at once (the
 * codecs copy): valid until the next call. An IPv4 text is parsed in one scan into it, no
 * allocation (a 100,000-service load writes 900,000 addresses).
 */
function scratchAddr16(ip: string): { addr: Buffer; family: 4 | 6 } {
  scratch16.fill(0);
  if (dottedQuad(ip, scratch16)) return { addr: scratch16, family: AF.v4 };
  const a = addr16(ip);
  a.addr.copy(scratch16);
  return { addr: scratch16, family: a.family };
}

/** The family of a schema record's `family` byte (anything but 6 reads as IPv4, as the datapath does). */
export function familyCode(family: number): 4 | 6 {
  return family === AF.v6 ? 6 : 4;
}

/** The IP protocol number of a key: ICMP echo is icmp for IPv4, icmp6 for IPv6. */
export function protoNumber(proto: DpProto, family: number): number {
  if (proto === 'icmp') return family === AF.v4 ? PROTO.icmp : PROTO.icmp6;
  return PROTO[proto];
}

/** The name of an IP protocol number the datapath tracks (ICMP and ICMPv6 are both 'icmp'); undefined for any other. */
export function protoName(code: number): DpProto | undefined {
  if (code === PROTO.tcp) return 'tcp';
  if (code === PROTO.udp) return 'udp';
  if (code === PROTO.icmp || code === PROTO.icmp6) return 'icmp';
  return undefined;
}

// ------------------------------------------------------------------ slot indexes
/** xlb_endpoints is indexed by (service id, generation, slot). */
export function endpointIndex(svcId: number, gen: 0 | 1, slot: number): number {
  return (svcId * 2 + gen) * XLB_MAX_EP + slot;
}

/** xlb_ep_stats / xlb_ep_conns are indexed by (service id, slot). */
export function endpointStatsIndex(svcId: number, slot: number): number {
  return svcId * XLB_MAX_EP + slot;
}

/** The inverse of endpointStatsIndex. */
export function endpointOfStatsIndex(index: number): { svcId: number; slot: number } {
  return { svcId: Math.floor(index / XLB_MAX_EP), slot: index % XLB_MAX_EP };
}

export interface ServiceKeySpec {
  vip: string;
  /** 0 for a port range (portLo..portHi) and for ICMP echo services. */
  port: number;
  proto: DpProto;
}

export interface ServiceSpec extends ServiceKeySpec {
  id: number;
  mode: Mode;
  algo: Algorithm;
  /** Slots in use in the active generation. */
  epCount: number;
  gen: 0 | 1;
  /** WRR schedule length in the active generation. */
  schedLen?: number;
  portLo?: number;
  portHi?: number;
  /** Source persistence timeout in seconds; 0/undefined = off. */
  persistTimeoutS?: number;
  /** Full-NAT source address of this service; default the config's. */
  snat?: string;
}

export function serviceKeyBytes(k: ServiceKeySpec): Buffer {
  const { addr, family } = scratchAddr16(k.vip);
  return svcKey.encode({ addr, port: k.port, proto: protoNumber(k.proto, family), family });
}

export function putService(dp: LoadedDatapath, s: ServiceSpec): void {
  if (!Number.isInteger(s.id) || s.id < 0 || s.id >= dp.maxServices) {
    throw new RangeError(`service id ${s.id} is outside 0..${dp.maxServices - 1}: load the datapath with a larger maxServices`);
  }
  if (s.epCount < 0 || s.epCount > XLB_MAX_EP) throw new RangeError(`epCount ${s.epCount} is outside 0..${XLB_MAX_EP}`);
  const snat = s.snat ? addr16(s.snat).addr : Buffer.alloc(16);
  if (s.snat && familyOf(s.snat) !== familyOf(s.vip)) throw new Error(`service ${s.vip}: SNAT address ${s.snat} is of another family`);
  dp.maps.services.update(
    serviceKeyBytes(s),
    serviceCodec.encode({
      id: s.id,
      mode: MODE[s.mode],
      algo: ALGO[s.algo],
      flags: s.persistTimeoutS ? SVC_F_PERSIST : 0,
      gen: s.gen,
      ep_count: s.epCount,
      sched_len: s.schedLen ?? 0,
      port_lo: s.portLo ?? 0,
      port_hi: s.portHi ?? 0,
      persist_timeout_s: s.persistTimeoutS ?? 0,
      snat_addr: snat,
    }),
  );
}

export function deleteService(dp: LoadedDatapath, k: ServiceKeySpec): boolean {
  return dp.maps.services.delete(serviceKeyBytes(k));
}

export interface EndpointSpec {
  /** '' for an unused slot. */
  ip: string;
  /** 0: keep the client's destination port. */
  port: number;
  weight?: number;
  active?: boolean;
}

const EMPTY_ENDPOINT = { addr: Buffer.alloc(16), port: 0, weight: 0, family: 0, flags: 0 };

/** The bytes of one xlb_endpoints slot; undefined or ip '' is an unused slot. */
export function encodeEndpoint(e: EndpointSpec | undefined): Buffer {
  if (e === undefined || e.ip === '') return endpointCodec.encode(EMPTY_ENDPOINT);
  const { addr, family } = addr16(e.ip);
  return endpointCodec.encode({ addr, port: e.port, weight: e.weight ?? 1, family, flags: e.active === false ? 0 : EP_F_ACTIVE });
}

/** One slot read back; an unused slot (no family) is `{ ip: '', port: 0, weight: 0, active: false }`. */
export function decodeEndpoint(b: Buffer | undefined): Required<EndpointSpec> {
  const e = b === undefined ? undefined : endpointCodec.decode(b);
  if (e === undefined || (e.family !== AF.v4 && e.family !== AF.v6)) return { ip: '', port: 0, weight: 0, active: false };
  return { ip: formatIp(e.addr, e.family), port: e.port, weight: e.weight, active: (e.flags & EP_F_ACTIVE) !== 0 };
}

/**
 * Writes slots 0..eps.length-1 of generation gen of service svcId with one memcpy into the
 * mmapped xlb_endpoints (BPF_F_MMAPABLE; a generation's slots are contiguous); by default
 * (`clearRest`) the other slots of the generation become unused too. The controller's adapter
 * passes `clearRest: false`: the reader bounds itself by the service's ep_count, so the slots
 * past it are never read and need not be written.
 */
export function writeEndpoints(
  dp: LoadedDatapath,
  svcId: number,
  gen: 0 | 1,
  eps: EndpointSpec[],
  opts: { clearRest?: boolean } = {},
): void {
  if (eps.length > XLB_MAX_EP) throw new RangeError(`${eps.length} endpoints: at most ${XLB_MAX_EP} per service`);
  const n = opts.clearRest === false ? eps.length : XLB_MAX_EP;
  if (n === 0) return;
  const size = endpointCodec.size;
  const raw = Buffer.alloc(n * size); // all zero: family 0, an unused slot
  const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
  eps.forEach((e, slot) => {
    if (e.ip === '') return;
    const { addr, family } = scratchAddr16(e.ip);
    endpointCodec.write(view, slot * size, {
      addr,
      port: e.port,
      weight: e.weight ?? 1,
      family,
      flags: e.active === false ? 0 : EP_F_ACTIVE,
    });
  });
  dp.maps.endpoints.writeMapped(endpointIndex(svcId, gen, 0) * size, raw);
}

/** The first `count` slots of generation gen of svcId (one copy out of the mapping). */
export function readEndpoints(dp: LoadedDatapath, svcId: number, gen: 0 | 1, count: number): Required<EndpointSpec>[] {
  if (count <= 0) return [];
  const size = endpointCodec.size;
  const raw = Buffer.alloc(count * size);
  dp.maps.endpoints.readMapped(endpointIndex(svcId, gen, 0) * size, raw);
  return Array.from({ length: count }, (_, slot) => decodeEndpoint(raw.subarray(slot * size, (slot + 1) * size)));
}

/** Byte offset of generation gen's table of svcId in the mmapped xlb_sched (XLB_SCHED_CHUNK positions per entry). */
export function schedOffset(maglevSize: number, svcId: number, gen: 0 | 1): number {
  return (svcId * 2 + gen) * schedEntriesPerTable(maglevSize) * XLB_SCHED_CHUNK;
}

/**
 * Writes a Maglev table or WRR schedule (position → slot) into generation gen of svcId: the
 * table's run of xlb_sched (one byte per position, zero after the table's end) with one memcpy
 * into the mmapped map (xlb_sched is BPF_F_MMAPABLE; docs/datapath.md).
 */
export function writeSched(dp: LoadedDatapath, svcId: number, gen: 0 | 1, table: Uint32Array): void {
  if (table.length > dp.maglevSize) throw new RangeError(`table of ${table.length} entries: at most ${dp.maglevSize} (the Maglev size)`);
  const bytes = new Uint8Array(schedBytesPerTable(dp.maglevSize));
  for (let i = 0; i < table.length; i++) {
    const slot = table[i] as number;
    if (slot >= XLB_MAX_EP) throw new RangeError(`table position ${i} names slot ${slot}: slots are 0..${XLB_MAX_EP - 1}`);
    bytes[i] = slot;
  }
  writeSchedBytes(dp, svcId, gen, bytes);
}

/** Bytes of one table's run of xlb_sched (whole XLB_SCHED_CHUNK-position entries). */
export function schedBytesPerTable(maglevSize: number): number {
  return schedEntriesPerTable(maglevSize) * XLB_SCHED_CHUNK;
}

/**
 * writeSched of a table already in its byte form: schedBytesPerTable bytes, one per position
 * (each a slot < XLB_MAX_EP), zero past the table's end. The kernel adapter builds each Maglev
 * table into one such buffer it reuses (MaglevTables.fill), so a table costs no conversion and
 * no allocation.
 */
export function writeSchedBytes(dp: LoadedDatapath, svcId: number, gen: 0 | 1, bytes: Uint8Array): void {
  const want = schedBytesPerTable(dp.maglevSize);
  if (bytes.length !== want) throw new RangeError(`a table's run of xlb_sched is ${want} bytes, got ${bytes.length}`);
  dp.maps.sched.writeMapped(schedOffset(dp.maglevSize, svcId, gen), bytes);
}

/** The first `len` positions of generation gen's table of svcId (read back through the mapping). */
export function readSched(dp: LoadedDatapath, svcId: number, gen: 0 | 1, len = dp.maglevSize): Uint32Array {
  const per = schedEntriesPerTable(dp.maglevSize);
  const bytes = new Uint8Array(Math.min(len, per * XLB_SCHED_CHUNK));
  dp.maps.sched.readMapped(schedOffset(dp.maglevSize, svcId, gen), bytes);
  return Uint32Array.from(bytes);
}

export function setPolicer(dp: LoadedDatapath, svcId: number, ratePps: number, burst: number): void {
  dp.maps.policers.update(u32Key(svcId), policerCodec.encode({ rate_pps: ratePps, burst, tat_ns: 0n }));
}

// ------------------------------------------------------------------ conntrack
/** The datapath's clock as the programs read it (xlb_now in bpf/include/conntrack.h). */
export function datapathNow(cfg: Config): bigint {
  if ((cfg.flags & CFG_F.virtualClock) !== 0) return cfg.clock_offset_ns;
  return process.hrtime.bigint() + cfg.clock_offset_ns;
}

const SYN_SENT = CT_STATE.indexOf('SYN_SENT');

/**
 * The datapath's ct_alive (docs/datapath.md): an entry is live until its state's timeout has
 * passed since it was last seen; a mid-stream adoption the backend has not answered yet gets at
 * most SYN_SENT's timeout.
 */
export function ctAlive(e: Pick<CtEntry, 'state' | 'flags' | 'last_seen_ns'>, now: bigint, timeoutsS: readonly number[]): boolean {
  let s = timeoutsS[e.state & 15] ?? 0;
  if ((e.flags & CT_F.midstream) !== 0) s = Math.min(s, timeoutsS[SYN_SENT] ?? 0);
  return now - e.last_seen_ns <= BigInt(s) * 1_000_000_000n;
}

export interface RawCtEntry {
  /** The key's bytes (a view into the batch buffer). */
  kb: Buffer;
  k: CtKey;
  e: CtEntry;
}

/** Every entry of a conntrack map (xlb_ct, loaded or pinned), decoded, read with batch lookups (a few syscalls). */
export function readCt(ct: BpfMap): RawCtEntry[] {
  const raw = ct.lookupBatchRaw();
  const ks = ct.keySize;
  const vs = ct.valueBufferSize;
  const out = new Array<RawCtEntry>(raw.count);
  for (let i = 0; i < raw.count; i++) {
    const kb = raw.keys.subarray(i * ks, (i + 1) * ks);
    out[i] = { kb, k: ctKey.decode(kb), e: ctEntry.decode(raw.values.subarray(i * vs, (i + 1) * vs)) };
  }
  return out;
}

/** The key of the other direction of a flow (its entry's translated tuple, reversed). */
export function ctPeerKey(k: CtKey, e: CtEntry): Buffer {
  return ctKey.encode({ saddr: e.nat_daddr, daddr: e.nat_saddr, sport: e.nat_dport, dport: e.nat_sport, proto: k.proto, family: k.family });
}

/** Byte offset of a field of struct xlb_ct_entry (for readers that filter a batch in place). */
export function ctEntryOffset(name: string): number {
  const f = ctEntry.fields.find((x) => x.name === name);
  if (f === undefined) throw new Error(`struct xlb_ct_entry has no field ${name}`);
  return f.offset;
}
const CT_OFF = { state: ctEntryOffset('state'), flags: ctEntryOffset('flags'), lastSeen: ctEntryOffset('last_seen_ns') };

/**
 * Live flows (one per connection: reply entries are not counted) by state name, reading three
 * fields of each entry in place instead of decoding it: a count of a 1M-entry table costs one
 * batch read and no object per entry.
 */
export function countFlowsByState(ct: BpfMap, now: bigint, timeoutsS: readonly number[]): Record<string, number> {
  const raw = ct.lookupBatchRaw();
  const vs = ct.valueBufferSize;
  const perState = new Array<number>(CT_STATE.length + 1).fill(0);
  const v = raw.values;
  for (let i = 0; i < raw.count; i++) {
    const o = i * vs;
    const flags = v[o + CT_OFF.flags] as number;
    if ((flags & CT_F.reply) !== 0) continue;
    const state = v[o + CT_OFF.state] as number;
    if (!ctAlive({ state, flags, last_seen_ns: v.readBigUInt64LE(o + CT_OFF.lastSeen) }, now, timeoutsS)) continue;
    perState[state < CT_STATE.length ? state : CT_STATE.length]! += 1;
  }
  const out: Record<string, number> = {};
  perState.forEach((n, i) => {
    if (n > 0) out[CT_STATE[i] ?? 'UNKNOWN'] = n;
  });
  return out;
}

export function lookupFlow(dp: LoadedDatapath, key: CtKey): CtEntry | undefined {
  const v = dp.maps.ct.lookup(ctKey.encode(key));
  return v === undefined ? undefined : ctEntry.decode(v);
}

export interface Count {
  packets: bigint;
  bytes: bigint;
}

function sumCounters(values: Buffer[] | undefined): Count {
  const out = { packets: 0n, bytes: 0n };
  for (const b of values ?? []) {
    const c = counters.decode(b);
    out.packets += c.packets;
    out.bytes += c.bytes;
  }
  return out;
}

export function readReasons(dp: LoadedDatapath): Record<ReasonName, Count> {
  const out = {} as Record<ReasonName, Count>;
  REASON.forEach((name, i) => (out[name] = sumCounters(dp.maps.reasons.lookupPerCpu(u32Key(i)))));
  return out;
}

export function readFwdResults(dp: LoadedDatapath): Record<FwdResultName, Count> {
  const out = {} as Record<FwdResultName, Count>;
  FWD_RESULT.forEach((name, i) => (out[name] = sumCounters(dp.maps.fwd.lookupPerCpu(u32Key(i)))));
  return out;
}

export function readServiceStats(dp: LoadedDatapath, svcId: number): { packets: bigint; bytes: bigint; flows: bigint; drops: bigint } {
  const out = { packets: 0n, bytes: 0n, flows: 0n, drops: 0n };
  for (const b of dp.maps.svcStats.lookupPerCpu(u32Key(svcId)) ?? []) {
    const s = svcStats.decode(b);
    out.packets += s.packets;
    out.bytes += s.bytes;
    out.flows += s.flows;
    out.drops += s.drops;
  }
  return out;
}

export function readEndpointStats(dp: LoadedDatapath, svcId: number, slot: number): Count {
  return sumCounters(dp.maps.epStats.lookupPerCpu(u32Key(endpointStatsIndex(svcId, slot))));
}

export function readEndpointConns(dp: LoadedDatapath, svcId: number, slot: number): bigint {
  const v = dp.maps.epConns.lookup(u32Key(endpointStatsIndex(svcId, slot)));
  return v === undefined ? 0n : v.readBigInt64LE(0);
}

export function writeEndpointConns(dp: LoadedDatapath, svcId: number, slot: number, n: bigint): void {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(n);
  dp.maps.epConns.update(u32Key(endpointStatsIndex(svcId, slot)), b);
}

/** Zeroes the per-service and per-endpoint counters of a service id (the next service to take the id starts from zero). */
export function resetServiceCounters(dp: LoadedDatapath, svcId: number): void {
  dp.maps.svcStats.update(u32Key(svcId), Buffer.alloc(dp.maps.svcStats.valueBufferSize));
  // The 64 endpoint slots in one batch.
  const keys = new Uint32Array(XLB_MAX_EP);
  for (let slot = 0; slot < XLB_MAX_EP; slot++) keys[slot] = endpointStatsIndex(svcId, slot);
  dp.maps.epStats.updateBatchRaw({
    count: XLB_MAX_EP,
    keys: Buffer.from(keys.buffer),
    values: Buffer.alloc(XLB_MAX_EP * dp.maps.epStats.valueBufferSize),
  });
}

/** Zeroes every per-CPU counter array (reasons, forwarding results). */
export function resetCounters(dp: LoadedDatapath): void {
  const zero = Buffer.alloc(16 * numPossibleCpus());
  for (let i = 0; i < REASON.length; i++) dp.maps.reasons.update(u32Key(i), zero);
  for (let i = 0; i < FWD_RESULT.length; i++) dp.maps.fwd.update(u32Key(i), zero);
}
