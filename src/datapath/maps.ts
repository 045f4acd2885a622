// Map-level operations on a loaded datapath, in schema terms: services, endpoint generations,
// lookup tables (Maglev / WRR), policers, flows, counters, config. Every write is one map
// update; the generation protocol (write the inactive generation, then flip the service entry)
// is the caller's (see docs/datapath.md).
import { familyOf, formatIpv4, formatIpv6, parseIp } from '../packet/index.ts';
import { numPossibleCpus } from '../bpf/index.ts';
import type { LoadedDatapath } from './loader.ts';
import {
  ALGO,
  AF,
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
import type { CtEntry, CtKey, FwdResultName, ReasonName } from '../schema/maps.ts';

export type Proto = 'tcp' | 'udp' | 'icmp';
export type Mode = keyof typeof MODE;
export type Algo = keyof typeof ALGO;

/** 16-byte schema address (IPv4 in the first 4 bytes) and its family code. */
export function addr16(ip: string): { addr: Buffer; family: number } {
  const raw = parseIp(ip);
  const addr = Buffer.alloc(16);
  addr.set(raw);
  return { addr, family: raw.length === 4 ? AF.v4 : AF.v6 };
}

export function formatAddr16(addr: Uint8Array, family: number): string {
  return family === AF.v4 ? formatIpv4(addr) : formatIpv6(addr);
}

function protoNumber(proto: Proto, family: number): number {
  if (proto === 'icmp') return family === AF.v4 ? PROTO.icmp : PROTO.icmp6;
  return PROTO[proto];
}

export interface ServiceKeySpec {
  vip: string;
  /** 0 for a port range (portLo..portHi) and for ICMP echo services. */
  port: number;
  proto: Proto;
}

export interface ServiceSpec extends ServiceKeySpec {
  id: number;
  mode: Mode;
  algo: Algo;
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
  const { addr, family } = addr16(k.vip);
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
  ip: string;
  /** 0: keep the client's destination port. */
  port: number;
  weight?: number;
  active?: boolean;
}

/** Writes slots 0..eps.length-1 of generation gen of service svcId; the other slots become empty. */
export function writeEndpoints(dp: LoadedDatapath, svcId: number, gen: 0 | 1, eps: EndpointSpec[]): void {
  if (eps.length > XLB_MAX_EP) throw new RangeError(`${eps.length} endpoints: at most ${XLB_MAX_EP} per service`);
  const base = (svcId * 2 + gen) * XLB_MAX_EP;
  for (let slot = 0; slot < XLB_MAX_EP; slot++) {
    const e = eps[slot];
    const v = e
      ? (() => {
          const { addr, family } = addr16(e.ip);
          return { addr, port: e.port, weight: e.weight ?? 1, family, flags: e.active === false ? 0 : EP_F_ACTIVE };
        })()
      : { addr: Buffer.alloc(16), port: 0, weight: 0, family: 0, flags: 0 };
    dp.maps.endpoints.update(u32Key(base + slot), endpointCodec.encode(v));
  }
}

/**
 * Writes a Maglev table or WRR schedule (position → slot) into generation gen of svcId: the
 * table's run of xlb_sched (one byte per position, zero after the table's end) with one memcpy
 * into the mmapped map (xlb_sched is BPF_F_MMAPABLE; docs/datapath.md).
 */
export function writeSched(dp: LoadedDatapath, svcId: number, gen: 0 | 1, table: Uint32Array): void {
  if (table.length > dp.maglevSize) throw new RangeError(`table of ${table.length} entries: at most ${dp.maglevSize} (the Maglev size)`);
  const per = schedEntriesPerTable(dp.maglevSize);
  const bytes = new Uint8Array(per * XLB_SCHED_CHUNK);
  for (let i = 0; i < table.length; i++) {
    const slot = table[i] as number;
    if (slot >= XLB_MAX_EP) throw new RangeError(`table position ${i} names slot ${slot}: slots are 0..${XLB_MAX_EP - 1}`);
    bytes[i] = slot;
  }
  dp.maps.sched.writeMapped((svcId * 2 + gen) * per * XLB_SCHED_CHUNK, bytes);
}

/** The first `len` positions of generation gen's table of svcId (read back through the mapping). */
export function readSched(dp: LoadedDatapath, svcId: number, gen: 0 | 1, len = dp.maglevSize): Uint32Array {
  const per = schedEntriesPerTable(dp.maglevSize);
  const bytes = new Uint8Array(Math.min(len, per * XLB_SCHED_CHUNK));
  dp.maps.sched.readMapped((svcId * 2 + gen) * per * XLB_SCHED_CHUNK, bytes);
  return Uint32Array.from(bytes);
}

export function setPolicer(dp: LoadedDatapath, svcId: number, ratePps: number, burst: number): void {
  dp.maps.policers.update(u32Key(svcId), policerCodec.encode({ rate_pps: ratePps, burst, tat_ns: 0n }));
}

export interface Flow {
  key: CtKey;
  entry: CtEntry;
  state: string;
  reply: boolean;
}

export function readFlows(dp: LoadedDatapath): Flow[] {
  return dp.maps.ct.lookupBatch().map(([k, v]) => {
    const entry = ctEntry.decode(v);
    return { key: ctKey.decode(k), entry, state: CT_STATE[entry.state] ?? `state ${entry.state}`, reply: (entry.flags & CT_F.reply) !== 0 };
  });
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
  return sumCounters(dp.maps.epStats.lookupPerCpu(u32Key(svcId * XLB_MAX_EP + slot)));
}

export function readEndpointConns(dp: LoadedDatapath, svcId: number, slot: number): bigint {
  const v = dp.maps.epConns.lookup(u32Key(svcId * XLB_MAX_EP + slot));
  return v === undefined ? 0n : v.readBigInt64LE(0);
}

/** Zeroes every per-CPU counter array (reasons, forwarding results). */
export function resetCounters(dp: LoadedDatapath): void {
  const zero = Buffer.alloc(16 * numPossibleCpus());
  for (let i = 0; i < REASON.length; i++) dp.maps.reasons.update(u32Key(i), zero);
  for (let i = 0; i < FWD_RESULT.length; i++) dp.maps.fwd.update(u32Key(i), zero);
}
