// Readers of the LB datapath's pinned maps (bpf/include/xlb_maps.h) for tests and scenarios that
// run in another process than the agent: conntrack entries and the per-CPU counters, decoded with
// the datapath's codecs (src/schema/maps.ts, checked against the objects' BTF) and summed over
// CPUs. `pinDir` is the agent's --pin-dir, e.g. lab.pinDir(). Also the harness's shapes of the
// same data (DpCtEntry, DpTraceEvent, DpCounters: src/datapath/packet-datapath.ts), the config
// read-modify-write (trace flag, clock offset) and deleting one conntrack entry.
import path from 'node:path';
import { BpfMap } from '../src/bpf/index.ts';
import {
  CT_F,
  CT_STATE,
  FWD_RESULT,
  REASON,
  config as configCodec,
  counters,
  service,
  svcKey,
  svcStats,
  u32Key,
} from '../src/schema/maps.ts';
import type { Config, FwdResultName, ReasonName } from '../src/schema/maps.ts';
import { formatIp } from '../src/controller/ip.ts';
import { endpointOfStatsIndex, familyCode, protoName, readCt } from '../src/datapath/maps.ts';
import type { DpCounters } from '../src/controller/datapath.ts';
import { ctKeyBytes, toDpCtEntry } from '../src/datapath/records.ts';
import type { DpCtEntry, DpTuple } from '../src/datapath/packet-datapath.ts';
import { u32 } from '../src/schema/codec.ts';
import { readPinnedMap, readPinnedPerCpuMap } from './maps.ts';

export interface CtFlow {
  family: 4 | 6;
  proto: 'tcp' | 'udp' | 'icmp' | number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** CT_STATE name: SYN_SENT, ESTABLISHED, UDP_SEEN, … */
  state: string;
  /** The entry for backend → client packets (the other direction of a flow). */
  reply: boolean;
  dsr: boolean;
  midstream: boolean;
  /** The translated tuple the entry rewrites to. */
  natSrc: string;
  natDst: string;
  natSport: number;
  natDport: number;
  svcId: number;
  epSlot: number;
  packets: bigint;
  bytes: bigint;
  flags: number;
}

function withPinnedCt<R>(pinDir: string, fn: (m: BpfMap) => R): R {
  const m = BpfMap.openPinned(path.join(pinDir, 'xlb_ct'));
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

/** Every conntrack entry (both directions of each flow) of the datapath pinned in pinDir. */
export function readConntrack(pinDir: string): CtFlow[] {
  return withPinnedCt(pinDir, readCt).map(({ k, e }) => {
    const family = familyCode(k.family);
    return {
      family,
      proto: protoName(k.proto) ?? k.proto,
      src: formatIp(k.saddr, family),
      dst: formatIp(k.daddr, family),
      sport: k.sport,
      dport: k.dport,
      state: CT_STATE[e.state] ?? `state ${e.state}`,
      reply: (e.flags & CT_F.reply) !== 0,
      dsr: (e.flags & CT_F.dsr) !== 0,
      midstream: (e.flags & CT_F.midstream) !== 0,
      natSrc: formatIp(e.nat_saddr, family),
      natDst: formatIp(e.nat_daddr, family),
      natSport: e.nat_sport,
      natDport: e.nat_dport,
      svcId: e.svc_id,
      epSlot: e.ep_slot,
      packets: e.packets,
      bytes: e.bytes,
      flags: e.flags,
    };
  });
}

export interface Counter {
  packets: bigint;
  bytes: bigint;
}

function sum<T extends object>(values: T[]): T {
  const out: Record<string, bigint> = {};
  for (const v of values) for (const [k, x] of Object.entries(v)) if (typeof x === 'bigint') out[k] = (out[k] ?? 0n) + x;
  return out as T;
}

/** Packets/bytes per verdict reason (pass_no_service, new_flow, drop_malformed, …), summed over CPUs. */
export function readReasonCounters(pinDir: string): Record<string, Counter> {
  const out: Record<string, Counter> = {};
  for (const { key, values } of readPinnedPerCpuMap(path.join(pinDir, 'xlb_reasons'), u32, counters)) {
    const name = REASON[key] ?? `reason ${key}`;
    out[name] = sum(values);
  }
  return out;
}

export interface ServiceStats {
  svcId: number;
  packets: bigint;
  bytes: bigint;
  flows: bigint;
  drops: bigint;
}

/** Per-service counters (only services with any traffic), summed over CPUs. */
export function readServiceStats(pinDir: string): ServiceStats[] {
  return readPinnedPerCpuMap(path.join(pinDir, 'xlb_svc_stats'), u32, svcStats)
    .map(({ key, values }) => ({ svcId: key, ...sum(values) }))
    .filter((s) => s.packets > 0n || s.flows > 0n || s.drops > 0n)
    .sort((a, b) => a.svcId - b.svcId);
}

export interface EndpointStats extends Counter {
  svcId: number;
  slot: number;
}

/** Per-endpoint counters (slot = the endpoint's position in its service), nonzero ones only. */
export function readEndpointStats(pinDir: string): EndpointStats[] {
  return readPinnedPerCpuMap(path.join(pinDir, 'xlb_ep_stats'), u32, counters)
    .map(({ key, values }) => ({ ...endpointOfStatsIndex(key), ...sum(values) }))
    .filter((s) => s.packets > 0n)
    .sort((a, b) => a.svcId - b.svcId || a.slot - b.slot);
}

// ------------------------------------------------------------------ the harness's shapes

/** Every conntrack entry of the pinned map, in the harness's shape (expired ones too: the map holds them until the agent's conntrack maintenance). */
export function readCtEntries(pinDir: string): DpCtEntry[] {
  return withPinnedCt(pinDir, readCt).map(({ k, e }) => toDpCtEntry(k, e));
}

/** Deletes one conntrack entry from the pinned map; true when it existed. */
export function deletePinnedCt(pinDir: string, t: DpTuple): boolean {
  return withPinnedCt(pinDir, (m) => m.delete(ctKeyBytes(t)));
}

// The record conversions live with the prog backend's, in one place (src/datapath/records.ts).
export { ctKeyBytes, dpTuple, toDpCtEntry, toDpTraceEvent, verdictName } from '../src/datapath/records.ts';

/** Packets per reason (every name, zeros included), summed over CPUs. */
export function readReasons(pinDir: string): Map<ReasonName, number> {
  const raw = readReasonCounters(pinDir);
  return new Map(REASON.map((name) => [name, Number(raw[name]?.packets ?? 0n)]));
}

/** Packets per forwarding result (xlb_fwd: how translated packets left), every name, summed over CPUs. */
export function readFwdResults(pinDir: string): Map<FwdResultName, number> {
  const byIndex = new Map(
    readPinnedPerCpuMap(path.join(pinDir, 'xlb_fwd'), u32, counters).map(({ key, values }) => [key, sum(values).packets]),
  );
  return new Map(FWD_RESULT.map((name, i) => [name, Number(byIndex.get(i) ?? 0n)]));
}

/** Service ids and endpoint counts of the pinned xlb_services. */
export function readServiceIds(pinDir: string): { id: number; endpointCount: number }[] {
  return readPinnedMap(path.join(pinDir, 'xlb_services'), svcKey, service)
    .map(({ value }) => ({ id: value.id, endpointCount: value.ep_count }))
    .sort((a, b) => a.id - b.id);
}

/**
 * The counters in the controller's DpCounters shape, as the agent's /v1/stats reports them
 * (KernelDatapath.counters): every service with its first endpointCount slots, drops by reason,
 * other reasons and `fwd_<result>` as verdicts.
 */
export function readDpCounters(pinDir: string): DpCounters {
  const out: DpCounters = { services: new Map(), endpoints: new Map(), drops: new Map(), verdicts: new Map() };
  const svc = new Map(readServiceStats(pinDir).map((s) => [s.svcId, s]));
  const eps = readEndpointStats(pinDir);
  for (const { id, endpointCount } of readServiceIds(pinDir)) {
    const s = svc.get(id);
    out.services.set(id, {
      packets: Number(s?.packets ?? 0n),
      bytes: Number(s?.bytes ?? 0n),
      flows: Number(s?.flows ?? 0n),
      drops: Number(s?.drops ?? 0n),
    });
    const slots = new Map<number, { packets: number; bytes: number }>();
    for (let slot = 0; slot < endpointCount; slot++) {
      const c = eps.find((x) => x.svcId === id && x.slot === slot);
      slots.set(slot, { packets: Number(c?.packets ?? 0n), bytes: Number(c?.bytes ?? 0n) });
    }
    out.endpoints.set(id, slots);
  }
  for (const [name, n] of readReasons(pinDir)) (name.startsWith('drop_') ? out.drops : out.verdicts).set(name, n);
  for (const [name, n] of readFwdResults(pinDir)) out.verdicts.set(`fwd_${name}`, n);
  return out;
}

/** Read-modify-write of the pinned xlb_config (one entry): `change` gets the current config and returns the fields to set. */
export function updatePinnedConfig(pinDir: string, change: (cur: Config) => Partial<Config>): Config {
  const m = BpfMap.openPinned(path.join(pinDir, 'xlb_config'));
  try {
    const raw = m.lookup(u32Key(0));
    if (raw === undefined) throw new Error(`${pinDir}/xlb_config has no entry 0: is the datapath loaded there?`);
    const cur = configCodec.decode(raw);
    const next = { ...cur, ...change(cur) };
    m.update(u32Key(0), configCodec.encode(next));
    return next;
  } finally {
    m.close();
  }
}
