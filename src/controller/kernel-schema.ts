// Codecs of the map structs of bpf/include/xlb_maps.h that the kernel Datapath reads and writes,
// declared with src/schema/codec.ts. kernel-datapath.test.ts checks every one against the BTF
// of the compiled objects (checkStructLayouts), so a change of the C schema that this file does
// not follow fails the tests instead of corrupting maps.
import { array, be16, bytes, defineStruct, pad, u16, u32, u64, u8 } from '../schema/codec.ts';

export const XLB_MAX_EP = 64;
export const XLB_NUM_TIMEOUTS = 16;
export const XLB_SVC_F_PERSIST = 0x01;
export const XLB_EP_F_ACTIVE = 0x01;
export const XLB_CT_F_REPLY = 0x01;
export const XLB_CT_F_DSR = 0x08;
export const XLB_CT_F_LC_COUNTED = 0x40;

export const MODE_CODE = { dnat: 0, fullnat: 1, dsr: 2 } as const;
export const ALGO_CODE = { rr: 0, wrr: 1, hash: 2, maglev: 3, lc: 4, random: 5 } as const;
export const PROTO_CODE = { tcp: 6, udp: 17 } as const;

/** enum xlb_ct_state, by value. */
export const CT_STATES = [
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

/** enum xlb_reason, by value (lower-case, without the XLB_R_ prefix). */
export const REASONS = [
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
] as const;

/** enum xlb_fwd_result, by value: how a translated packet left. */
export const FWD_RESULTS = ['redirect', 'tx', 'pass_no_neigh', 'pass_fib', 'cached'] as const;

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

export const endpoint = defineStruct('xlb_endpoint', { addr: bytes(16), port: be16, weight: u16, family: u8, flags: u8, pad: pad(2) }, { size: 24 });

export const ctKey = defineStruct('xlb_ct_key', { saddr: bytes(16), daddr: bytes(16), sport: be16, dport: be16, proto: u8, family: u8, pad: pad(2) }, { size: 40 });

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
    pad: pad(5),
  },
  { size: 120 },
);

export const policer = defineStruct('xlb_policer', { rate_pps: u32, burst: u32, tat_ns: u64 }, { size: 16 });

export const counters = defineStruct('xlb_counters', { packets: u64, bytes: u64 }, { size: 16 });

export const svcStats = defineStruct('xlb_svc_stats', { packets: u64, bytes: u64, flows: u64, drops: u64 }, { size: 32 });

export const config = defineStruct('xlb_config', {
  flags: u32,
  maglev_size: u32,
  fib_table: u32,
  fib_cache_ms: u32,
  snat_port_min: u16,
  snat_port_max: u16,
  rst_seq_window: u32,
  unknown_tcp: u8,
  pad: pad(7),
  clock_offset_ns: u64,
  snat_v4: bytes(16),
  snat_v6: bytes(16),
  timeouts_s: array(u32, XLB_NUM_TIMEOUTS),
});

export const ALL_CODECS = [svcKey, service, endpoint, ctKey, ctEntry, policer, counters, svcStats, config];

export function u32Key(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
