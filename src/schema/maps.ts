// Codecs of every key/value struct of bpf/include/xlb_maps.h (the datapath's map schema), field
// by field in C order, plus the schema's constants. maps.test.ts checks each codec, and each
// constant set against its C enum (SCHEMA_ENUMS), against the BTF of build/bpf/xlb_tc.bpf.o and
// build/bpf/xlb_xdp.bpf.o, so C and TypeScript cannot drift.
import { array, be16, bytes, defineStruct, pad, s64, u16, u32, u64, u8 } from './codec.ts';
import type { StructCodec } from './codec.ts';

export const XLB_MAX_EP = 64;
export const XLB_MAX_SVC = 256;
export const XLB_MAGLEV_M = 4099;
/** Table positions per xlb_sched entry (one byte each: the endpoint slot). */
export const XLB_SCHED_CHUNK = 64;
export const XLB_NUM_TIMEOUTS = 16;

export const AF = { v4: 4, v6: 6 } as const;
/** IP protocol numbers of the key's `proto` (ICMP echo services: icmp for IPv4, icmp6 for IPv6). */
export const PROTO = { tcp: 6, udp: 17, icmp: 1, icmp6: 58 } as const;
export const MODE = { dnat: 0, fullnat: 1, dsr: 2 } as const;
export const ALGO = { rr: 0, wrr: 1, hash: 2, maglev: 3, lc: 4, random: 5 } as const;

export const SVC_F_PERSIST = 0x01;
export const EP_F_ACTIVE = 0x01;

export const CT_F = {
  reply: 0x01,
  finClient: 0x02,
  finBackend: 0x04,
  dsr: 0x08,
  seqKnown: 0x10,
  midstream: 0x20,
  lcCounted: 0x40,
  ackKnown: 0x80,
} as const;
export const XLATE = { saddr: 0x01, daddr: 0x02, sport: 0x04, dport: 0x08 } as const;
export const CFG_F = { trace: 0x01, fibTable: 0x02, virtualClock: 0x04 } as const;
export const UNKNOWN_TCP = { select: 0, drop: 1 } as const;

/** enum xlb_ct_state, indexed by value: the C name without `XLB_CT_` (upper case, as conntrack tools print states). */
export const CT_STATE = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'TIME_WAIT',
  'CLOSED',
  'UDP_NEW',
  'UDP_SEEN',
  'UDP_ESTABLISHED',
  'ICMP_REQUEST',
  'ICMP_REPLY',
] as const;
export type CtStateName = (typeof CT_STATE)[number];

/**
 * enum xlb_reason, indexed by value: exactly one per packet (map xlb_reasons). The one spelling of
 * a reason everywhere in TypeScript, the REST API, metrics, the model and reports: the C name
 * without its `XLB_R_` prefix, in lower case (XLB_R_DROP_NO_ENDPOINT = 'drop_no_endpoint').
 */
export const REASON = [
  'pass_not_ip',
  'pass_no_service',
  'pass_fragment',
  'drop_malformed',
  'fast_path',
  'new_flow',
  'tracked',
  'midstream_new',
  'icmp_error',
  'drop_policed',
  'drop_no_endpoint',
  'drop_snat_exhausted',
  'drop_midstream',
  'drop_ct_failed',
  'drop_rst_invalid',
  'pass_tailcall',
  'pass_icmp_untracked',
  'pass_ttl',
  'drop_flood',
  'pass_fragment_no_record',
] as const;
export type ReasonName = (typeof REASON)[number];

/** enum xlb_fwd_result, indexed by value: how a translated packet left (map xlb_fwd); XLB_FWD_PASS_FIB = 'pass_fib'. */
export const FWD_RESULT = ['redirect', 'tx', 'pass_no_neigh', 'pass_fib', 'cached', 'too_big'] as const;
export type FwdResultName = (typeof FWD_RESULT)[number];

export const svcKey = defineStruct('xlb_svc_key', { addr: bytes(16), port: be16, proto: u8, family: u8 }, { size: 20 });

export const service = defineStruct(
  'xlb_service',
  {
    id: u32,
    mode: u8,
    algo: u8,
    flags: u8,
    gen: u8,
    ep_count: u16,
    sched_len: u16,
    port_lo: u16,
    port_hi: u16,
    persist_timeout_s: u32,
    snat_addr: bytes(16),
  },
  { size: 36 },
);

export const endpoint = defineStruct(
  'xlb_endpoint',
  { addr: bytes(16), port: be16, weight: u16, family: u8, flags: u8, pad: pad(2) },
  { size: 24 },
);

export const ctKey = defineStruct(
  'xlb_ct_key',
  { saddr: bytes(16), daddr: bytes(16), sport: be16, dport: be16, proto: u8, family: u8, pad: pad(2) },
  { size: 40 },
);

export const ctEntry = defineStruct(
  'xlb_ct_entry',
  {
    created_ns: u64,
    last_seen_ns: u64,
    packets: u64,
    bytes: u64,
    peer_touch_ns: u64,
    fib_ns: u64,
    nat_saddr: bytes(16),
    nat_daddr: bytes(16),
    nat_sport: be16,
    nat_dport: be16,
    svc_id: u32,
    next_seq: u32,
    fib_ifindex: u32,
    fib_dmac: bytes(6),
    fib_smac: bytes(6),
    ep_slot: u16,
    tcp_win: u16,
    state: u8,
    flags: u8,
    xlate: u8,
    pad: pad(1),
    last_ack: u32,
  },
  { size: 120 },
);

export const persistKey = defineStruct('xlb_persist_key', { addr: bytes(16), svc_id: u32, family: u8, pad: pad(3) }, { size: 24 });
export const persistEntry = defineStruct('xlb_persist_entry', { last_ns: u64, ep_slot: u16, pad: pad(6) }, { size: 16 });
export const policer = defineStruct('xlb_policer', { rate_pps: u32, burst: u32, tat_ns: u64 }, { size: 16 });
export const counters = defineStruct('xlb_counters', { packets: u64, bytes: u64 }, { size: 16 });
export const svcStats = defineStruct('xlb_svc_stats', { packets: u64, bytes: u64, flows: u64, drops: u64 }, { size: 32 });

export const config = defineStruct(
  'xlb_config',
  {
    flags: u32,
    maglev_size: u32,
    fib_table: u32,
    fib_cache_ms: u32,
    snat_port_min: u16,
    snat_port_max: u16,
    rst_seq_window: u32,
    unknown_tcp: u8,
    pad: pad(3),
    new_flow_rate: u32,
    clock_offset_ns: u64,
    snat_v4: bytes(16),
    snat_v6: bytes(16),
    timeouts_s: array(u32, XLB_NUM_TIMEOUTS),
  },
  { size: 136 },
);

export const traceEvent = defineStruct(
  'xlb_trace_event',
  {
    ts_ns: u64,
    key: ctKey,
    svc_id: u32,
    ifindex: u32,
    reason: u16,
    ep_slot: u16,
    verdict: u8,
    ct_old: u8,
    ct_new: u8,
    hook: u8,
    pkt_len: u32,
    pad: pad(4),
  },
  { size: 72 },
);

/** An xlb_sched entry: XLB_SCHED_CHUNK consecutive positions of a Maglev table / WRR schedule. */
export const schedChunk = defineStruct('xlb_sched_chunk', { slot: bytes(XLB_SCHED_CHUNK) }, { size: XLB_SCHED_CHUNK });

/** xlb_sched entries per (service, generation) for a table of m positions. */
export function schedEntriesPerTable(m: number): number {
  return Math.ceil(m / XLB_SCHED_CHUNK);
}

/** The `__s64` active-connection counter of xlb_ep_conns (not a struct; for completeness). */
export const epConns = s64;

export type SvcKey = ReturnType<typeof svcKey.decode>;
export type Service = ReturnType<typeof service.decode>;
export type Endpoint = ReturnType<typeof endpoint.decode>;
export type CtKey = ReturnType<typeof ctKey.decode>;
export type CtEntry = ReturnType<typeof ctEntry.decode>;
export type Config = ReturnType<typeof config.decode>;
export type TraceEvent = ReturnType<typeof traceEvent.decode>;

/** Every struct codec of the schema (the BTF test checks all of them). */
export const SCHEMA_CODECS: StructCodec<unknown>[] = [
  svcKey,
  service,
  endpoint,
  ctKey,
  ctEntry,
  persistKey,
  persistEntry,
  policer,
  counters,
  svcStats,
  config,
  traceEvent,
  schedChunk,
] as StructCodec<unknown>[];

/**
 * How a TypeScript constant set mirrors a C enum of xlb_maps.h: each TS name spelled in upper
 * snake case after the prefix is the C enumerator (REASON 'drop_no_endpoint' ↔
 * XLB_R_DROP_NO_ENDPOINT, CT_STATE 'SYN_SENT' ↔ XLB_CT_SYN_SENT, CT_F finClient ↔
 * XLB_CT_F_FIN_CLIENT), with the same value. Checked against BTF by maps.test.ts (btf.ts).
 */
export interface EnumMirror {
  /** The C enum, without `enum `. */
  cEnum: string;
  /** The prefix of its enumerators. */
  prefix: string;
  /** The TypeScript constant, for messages. */
  tsName: string;
  /** TS name → value (lists by index). */
  values: Readonly<Record<string, number>>;
  /** An enumerator that counts the others (XLB_R_MAX): its value must be the number of TS names. */
  count?: string;
}

function byIndex(names: readonly string[]): Record<string, number> {
  return Object.fromEntries(names.map((n, i) => [n, i]));
}

/** Every constant set above that mirrors a C enum. */
export const SCHEMA_ENUMS: readonly EnumMirror[] = [
  { cEnum: 'xlb_family', prefix: 'XLB_AF_', tsName: 'AF', values: AF },
  { cEnum: 'xlb_proto', prefix: 'XLB_PROTO_', tsName: 'PROTO', values: PROTO },
  { cEnum: 'xlb_mode', prefix: 'XLB_MODE_', tsName: 'MODE', values: MODE },
  { cEnum: 'xlb_algo', prefix: 'XLB_ALGO_', tsName: 'ALGO', values: ALGO },
  { cEnum: 'xlb_svc_flag', prefix: 'XLB_SVC_F_', tsName: 'SVC_F_PERSIST', values: { persist: SVC_F_PERSIST } },
  { cEnum: 'xlb_ep_flag', prefix: 'XLB_EP_F_', tsName: 'EP_F_ACTIVE', values: { active: EP_F_ACTIVE } },
  { cEnum: 'xlb_ct_state', prefix: 'XLB_CT_', tsName: 'CT_STATE', values: byIndex(CT_STATE), count: 'XLB_CT_STATE_MAX' },
  { cEnum: 'xlb_ct_flag', prefix: 'XLB_CT_F_', tsName: 'CT_F', values: CT_F },
  { cEnum: 'xlb_xlate', prefix: 'XLB_XL_', tsName: 'XLATE', values: XLATE },
  { cEnum: 'xlb_cfg_flag', prefix: 'XLB_CFG_F_', tsName: 'CFG_F', values: CFG_F },
  { cEnum: 'xlb_unknown_tcp', prefix: 'XLB_UNKNOWN_TCP_', tsName: 'UNKNOWN_TCP', values: UNKNOWN_TCP },
  { cEnum: 'xlb_reason', prefix: 'XLB_R_', tsName: 'REASON', values: byIndex(REASON), count: 'XLB_R_MAX' },
  { cEnum: 'xlb_fwd_result', prefix: 'XLB_FWD_', tsName: 'FWD_RESULT', values: byIndex(FWD_RESULT), count: 'XLB_FWD_MAX' },
];

/** Default per-state timeouts in seconds, indexed by enum xlb_ct_state. */
export const DEFAULT_TIMEOUTS_S: readonly number[] = [
  0, // NONE
  60, // SYN_SENT
  60, // SYN_RECV
  7440, // ESTABLISHED (2 h 4 min, as Linux conntrack's 5 days is too long for an LB)
  120, // FIN_WAIT
  60, // CLOSE_WAIT
  120, // TIME_WAIT
  10, // CLOSED
  30, // UDP_NEW
  30, // UDP_SEEN
  180, // UDP_ESTABLISHED
  30, // ICMP_REQUEST
  30, // ICMP_REPLY
  0,
  0,
  0,
];

/** A little-endian u32 key for the array maps. */
export function u32Key(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
