// Readers of the LB datapath's pinned maps (bpf/include/xlb_maps.h) for tests and scenarios that
// run in another process than the agent: conntrack entries and the per-CPU counters, decoded with
// the datapath's codecs (src/schema/maps.ts, checked against the objects' BTF) and summed over
// CPUs. `pinDir` is the agent's --pin-dir, e.g. lab.pinDir().
import path from 'node:path';
import { CT_F, CT_STATE, PROTO, REASON, XLB_MAX_EP, counters, ctEntry, ctKey, svcStats } from '../src/schema/maps.ts';
import { formatIp } from '../src/controller/ip.ts';
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

function protoName(p: number): CtFlow['proto'] {
  return p === PROTO.tcp ? 'tcp' : p === PROTO.udp ? 'udp' : p === PROTO.icmp || p === PROTO.icmp6 ? 'icmp' : p;
}

/** Every conntrack entry (both directions of each flow) of the datapath pinned in pinDir. */
export function readConntrack(pinDir: string): CtFlow[] {
  return readPinnedMap(path.join(pinDir, 'xlb_ct'), ctKey, ctEntry).map(({ key: k, value: e }) => {
    const family = k.family === 6 ? 6 : 4;
    return {
      family,
      proto: protoName(k.proto),
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
    .map(({ key, values }) => ({ svcId: Math.floor(key / XLB_MAX_EP), slot: key % XLB_MAX_EP, ...sum(values) }))
    .filter((s) => s.packets > 0n)
    .sort((a, b) => a.svcId - b.svcId || a.slot - b.slot);
}
