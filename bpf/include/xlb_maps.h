/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xlb map schema: the single source of truth for every map key/value layout, every constant
 * shared with user space, and every map definition. src/schema/maps.ts mirrors each struct field
 * by field and a test checks both against the BTF of build/bpf/xlb_{tc,xdp}.bpf.o.
 *
 * Rules: fixed-width fields, explicit padding (no implicit holes), sizes multiple of 8 where a
 * __u64 is present. Addresses are 16 bytes; IPv4 uses the first 4 bytes, the other 12 are zero.
 * Ports and addresses are in network byte order; every other integer is host order.
 */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* ---------------------------------------------------------------- sizes */
#define XLB_MAX_EP            64      /* endpoint slots per service and generation */
#define XLB_MAX_SVC           256     /* default service-id space (arrays are sized from it) */
#define XLB_MAGLEV_M          4099    /* default Maglev/WRR table size per (service, generation) */
#define XLB_SCHED_CHUNK       64      /* table positions per xlb_sched entry (sizeof struct xlb_sched_chunk) */
#define XLB_CT_DEFAULT        65536   /* default conntrack entries; the loader overrides it */
#define XLB_PERSIST_DEFAULT   65536
#define XLB_NUM_TIMEOUTS      16

/* ---------------------------------------------------------------- enums */
enum xlb_family { XLB_AF_V4 = 4, XLB_AF_V6 = 6 };

/* xlb_svc_key.proto / xlb_ct_key.proto: the IP protocols the datapath balances (ICMP echo
 * services: ICMP for IPv4, ICMPv6 for IPv6) */
enum xlb_proto {
	XLB_PROTO_TCP = 6,     /* IPPROTO_TCP (IANA numbers; the header stays free of libc) */
	XLB_PROTO_UDP = 17,    /* IPPROTO_UDP */
	XLB_PROTO_ICMP = 1,    /* IPPROTO_ICMP */
	XLB_PROTO_ICMP6 = 58,  /* IPPROTO_ICMPV6 */
};

enum xlb_mode { XLB_MODE_DNAT = 0, XLB_MODE_FULLNAT = 1, XLB_MODE_DSR = 2 };

enum xlb_algo {
	XLB_ALGO_RR = 0,
	XLB_ALGO_WRR = 1,
	XLB_ALGO_HASH = 2,
	XLB_ALGO_MAGLEV = 3,
	XLB_ALGO_LC = 4,
	XLB_ALGO_RANDOM = 5,
};

/*
 * Flag sets are enums, not #defines, so they reach the object's BTF (see xlb_schema_enums_btf)
 * and src/schema/maps.test.ts checks the TypeScript constants against them.
 */

/* xlb_service.flags */
enum xlb_svc_flag { XLB_SVC_F_PERSIST = 0x01 };  /* source-IP persistence (xlb_persist map) */

/* xlb_endpoint.flags */
enum xlb_ep_flag { XLB_EP_F_ACTIVE = 0x01 };

enum xlb_ct_state {
	XLB_CT_NONE = 0,
	XLB_CT_SYN_SENT = 1,
	XLB_CT_SYN_RECV = 2,
	XLB_CT_ESTABLISHED = 3,
	XLB_CT_FIN_WAIT = 4,      /* one side sent FIN */
	XLB_CT_CLOSE_WAIT = 5,    /* both sides sent FIN, last ACK pending */
	XLB_CT_TIME_WAIT = 6,     /* last ACK seen */
	XLB_CT_CLOSED = 7,        /* plausible RST seen */
	XLB_CT_UDP_NEW = 8,       /* client datagram(s), no reply yet */
	XLB_CT_UDP_SEEN = 9,      /* a reply was seen */
	XLB_CT_UDP_ESTABLISHED = 10, /* client sent again after a reply: fast path */
	XLB_CT_ICMP_REQUEST = 11, /* echo request seen */
	XLB_CT_ICMP_REPLY = 12,   /* echo reply seen */
	XLB_CT_STATE_MAX = 13,
};

/* xlb_ct_entry.flags */
enum xlb_ct_flag {
	XLB_CT_F_REPLY        = 0x01, /* entry for backend -> client packets */
	XLB_CT_F_FIN_CLIENT   = 0x02, /* FIN seen from the client side */
	XLB_CT_F_FIN_BACKEND  = 0x04, /* FIN seen from the backend side */
	XLB_CT_F_DSR          = 0x08, /* no rewrite; forward towards nat_daddr */
	XLB_CT_F_SEQ_KNOWN    = 0x10, /* next_seq holds the sender's next sequence number */
	XLB_CT_F_MIDSTREAM    = 0x20, /* created from a mid-stream TCP packet, the backend not heard yet */
	XLB_CT_F_LC_COUNTED   = 0x40, /* counted in xlb_ep_conns (released on close) */
	XLB_CT_F_ACK_KNOWN    = 0x80, /* last_ack holds this direction's sender's last ACK number */
};

/* xlb_ct_entry.xlate: which fields the entry rewrites */
enum xlb_xlate {
	XLB_XL_SADDR          = 0x01,
	XLB_XL_DADDR          = 0x02,
	XLB_XL_SPORT          = 0x04,
	XLB_XL_DPORT          = 0x08,
};

/* xlb_config.flags */
enum xlb_cfg_flag {
	XLB_CFG_F_TRACE       = 0x01, /* emit xlb_trace_event records to xlb_trace */
	XLB_CFG_F_FIB_TABLE   = 0x02, /* look routes up in fib_table only (BPF_FIB_LOOKUP_TBID) */
	XLB_CFG_F_VIRTUAL_CLOCK = 0x04, /* the clock is clock_offset_ns alone (BPF_PROG_TEST_RUN's virtual time) */
};

/* xlb_config.unknown_tcp: a TCP packet without SYN to a service and no flow */
enum xlb_unknown_tcp { XLB_UNKNOWN_TCP_SELECT = 0, XLB_UNKNOWN_TCP_DROP = 1 };

/* Exactly one reason is counted per packet (xlb_reasons). */
enum xlb_reason {
	XLB_R_PASS_NOT_IP = 0,        /* not IPv4/IPv6 */
	XLB_R_PASS_NO_SERVICE = 1,    /* no flow and no service: passed untouched */
	XLB_R_PASS_FRAGMENT = 2,      /* IP fragment: passed untouched */
	XLB_R_DROP_MALFORMED = 3,     /* truncated or inconsistent headers */
	XLB_R_FAST_PATH = 4,          /* established flow, fast path */
	XLB_R_NEW_FLOW = 5,           /* new flow created (slow path) */
	XLB_R_TRACKED = 6,            /* tracked flow, slow path (state change / not established) */
	XLB_R_MIDSTREAM_NEW = 7,      /* flow created from a mid-stream TCP packet (policy select) */
	XLB_R_ICMP_ERROR = 8,         /* ICMP error about a tracked flow, translated */
	XLB_R_DROP_POLICED = 9,
	XLB_R_DROP_NO_ENDPOINT = 10,  /* service has no active endpoint */
	XLB_R_DROP_SNAT_EXHAUSTED = 11, /* no free full-NAT source port after bounded retries */
	XLB_R_DROP_MIDSTREAM = 12,    /* mid-stream TCP packet, policy drop */
	XLB_R_DROP_CT_FAILED = 13,    /* conntrack insert failed or reply tuple collides */
	XLB_R_DROP_RST_INVALID = 14,  /* RST with an implausible sequence number */
	XLB_R_PASS_TAILCALL = 15,     /* slow path program missing: passed untouched */
	XLB_R_PASS_ICMP_UNTRACKED = 16, /* ICMP error about no tracked flow */
	XLB_R_PASS_TTL = 17,          /* TTL / hop limit <= 1: passed untouched (the stack answers time-exceeded) */
	XLB_R_DROP_FLOOD = 18,        /* mid-stream TCP packet refused: this CPU is over new_flow_rate (flood guard) */
	XLB_R_PASS_FRAGMENT_NO_RECORD = 19, /* later fragment with no (fresh) record of its datagram's ports: passed untouched */
	XLB_R_MAX = 20,
};

/* How a translated packet left (xlb_fwd), one per translated packet. */
enum xlb_fwd_result {
	XLB_FWD_REDIRECT = 0,         /* bpf_redirect to the FIB's egress device */
	XLB_FWD_TX = 1,               /* XDP_TX (egress == ingress) */
	XLB_FWD_PASS_NO_NEIGH = 2,    /* FIB: neighbour unknown, handed to the stack */
	XLB_FWD_PASS_FIB = 3,         /* FIB: not forwarded / unreachable / other: to the stack */
	XLB_FWD_CACHED = 4,           /* next hop taken from the flow's cache (also counts 0/1) */
	XLB_FWD_TOO_BIG = 5,          /* too big for the egress with DF / IPv6: answered with ICMP too-big (icmp.h) */
	XLB_FWD_MAX = 6,
};

/* ---------------------------------------------------------------- structs */
struct xlb_svc_key {
	__u8 addr[16];
	__be16 port;          /* 0: the port-range entry (xlb_service.port_lo..port_hi) */
	__u8 proto;           /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
	__u8 family;          /* XLB_AF_V4 / XLB_AF_V6 */
};

struct xlb_service {
	__u32 id;             /* index into the per-service arrays, < service-id space */
	__u8 mode;            /* enum xlb_mode */
	__u8 algo;            /* enum xlb_algo */
	__u8 flags;           /* XLB_SVC_F_* */
	__u8 gen;             /* active generation of endpoints and table: 0 or 1 */
	__u16 ep_count;       /* slots 0..ep_count-1 are in use (<= XLB_MAX_EP) */
	__u16 sched_len;      /* WRR: schedule length in xlb_sched (<= table size) */
	__u16 port_lo;        /* port-range entries only (key.port == 0), host order */
	__u16 port_hi;
	__u32 persist_timeout_s;
	__u8 snat_addr[16];   /* full NAT source; all zero: xlb_config.snat_v4/v6 */
};

struct xlb_endpoint {
	__u8 addr[16];
	__be16 port;          /* 0: keep the client's destination port */
	__u16 weight;
	__u8 family;
	__u8 flags;           /* XLB_EP_F_* */
	__u8 pad[2];
};

struct xlb_ct_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;         /* ICMP echo request: identifier; reply: 0 */
	__be16 dport;         /* ICMP echo request: 0; reply: identifier */
	__u8 proto;
	__u8 family;
	__u8 pad[2];
} __attribute__((aligned(4)));

struct xlb_ct_entry {
	__u64 created_ns;
	__u64 last_seen_ns;
	__u64 packets;
	__u64 bytes;
	__u64 peer_touch_ns;  /* last refresh of the other direction's entry by the fast path */
	__u64 fib_ns;         /* when fib_* was resolved; 0: no cached next hop */
	__u8 nat_saddr[16];   /* the tuple after translation */
	__u8 nat_daddr[16];
	__be16 nat_sport;
	__be16 nat_dport;
	__u32 svc_id;
	__u32 next_seq;       /* TCP: this direction's sender next sequence number */
	__u32 fib_ifindex;
	__u8 fib_dmac[6];
	__u8 fib_smac[6];
	__u16 ep_slot;
	__u16 tcp_win;        /* TCP: last raw window advertised by this direction's sender */
	__u8 state;           /* enum xlb_ct_state (same in both entries of a flow) */
	__u8 flags;           /* XLB_CT_F_* */
	__u8 xlate;           /* XLB_XL_* */
	__u8 pad[1];
	__u32 last_ack;       /* TCP: the last acknowledgement number this direction's sender sent (XLB_CT_F_ACK_KNOWN) */
};

struct xlb_persist_key {
	__u8 addr[16];        /* client address */
	__u32 svc_id;
	__u8 family;
	__u8 pad[3];
};

struct xlb_persist_entry {
	__u64 last_ns;
	__u16 ep_slot;
	__u8 pad[6];
};

struct xlb_policer {
	__u32 rate_pps;       /* 0: no policing */
	__u32 burst;          /* packets allowed above the rate */
	__u64 tat_ns;         /* datapath state: theoretical arrival time (GCRA) */
};

struct xlb_counters {
	__u64 packets;
	__u64 bytes;
};

struct xlb_svc_stats {
	__u64 packets;
	__u64 bytes;
	__u64 flows;          /* flows created */
	__u64 drops;          /* policed or no endpoint */
};

struct xlb_config {
	__u32 flags;          /* XLB_CFG_F_* */
	__u32 maglev_size;    /* M: table positions per (service, generation) in xlb_sched */
	__u32 fib_table;      /* with XLB_CFG_F_FIB_TABLE */
	__u32 fib_cache_ms;   /* next-hop cache lifetime per flow; 0: FIB lookup every packet */
	__u16 snat_port_min;  /* full NAT source port range, host order */
	__u16 snat_port_max;
	__u32 rst_seq_window; /* RST accepted when |seq - expected| <= this */
	__u8 unknown_tcp;     /* enum xlb_unknown_tcp */
	__u8 pad[3];
	__u32 new_flow_rate;  /* flood guard: new flows per second per CPU above which mid-stream packets create no flow; 0: off */
	__u64 clock_offset_ns; /* added to bpf_ktime_get_ns (tests move time forward) */
	__u8 snat_v4[16];
	__u8 snat_v6[16];
	__u32 timeouts_s[XLB_NUM_TIMEOUTS]; /* indexed by enum xlb_ct_state */
};

struct xlb_trace_event {
	__u64 ts_ns;
	struct xlb_ct_key key;  /* the packet's tuple as received */
	__u32 svc_id;
	__u32 ifindex;
	__u16 reason;           /* enum xlb_reason */
	__u16 ep_slot;          /* 0xffff: none */
	__u8 verdict;           /* the hook's return code */
	__u8 ct_old;            /* enum xlb_ct_state before / after */
	__u8 ct_new;
	__u8 hook;              /* 0: tc, 1: xdp */
	__u32 pkt_len;
	__u32 pad;
};

/* ---------------------------------------------------------------- maps */
/*
 * XLB_SCHEMA_TYPES_ONLY: the layouts above without the maps below (bpf/test/xlb_floor.bpf.c
 * times map operations on entries of exactly these sizes and must not create xlb's maps).
 */
#ifndef XLB_SCHEMA_TYPES_ONLY
/* Overridable (-DXLB_PINNED=) so tools can load a copy without touching bpffs pins. */
#ifndef XLB_PINNED
#define XLB_PINNED __uint(pinning, LIBBPF_PIN_BY_NAME)
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_config);
	XLB_PINNED;
} xlb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct xlb_svc_key);
	__type(value, struct xlb_service);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	XLB_PINNED;
} xlb_services SEC(".maps");

/* index ((svc_id * 2 + gen) * XLB_MAX_EP + slot); BPF_F_MMAPABLE: a generation's slots are one
 * contiguous run (24-byte values, no padding), written and read back with one copy. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_SVC * 2 * XLB_MAX_EP);
	__type(key, __u32);
	__type(value, struct xlb_endpoint);
	__uint(map_flags, BPF_F_MMAPABLE);
	XLB_PINNED;
} xlb_endpoints SEC(".maps");

/*
 * Maglev lookup table / WRR schedule, one byte (the endpoint slot, < XLB_MAX_EP) per position,
 * XLB_SCHED_CHUNK positions per entry: position pos of (svc_id, gen) is byte pos % CHUNK of entry
 * (svc_id * 2 + gen) * ceil(M / CHUNK) + pos / CHUNK. A value size that is a multiple of 8 leaves
 * no padding between entries, so each table is one contiguous run of the map's memory, and
 * BPF_F_MMAPABLE lets the controller write a whole table with one memcpy (10,000 tables of 4,099
 * positions: 41M single-entry updates otherwise).
 */
struct xlb_sched_chunk {
	__u8 slot[XLB_SCHED_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_SVC * 2 * ((XLB_MAGLEV_M + XLB_SCHED_CHUNK - 1) / XLB_SCHED_CHUNK));
	__type(key, __u32);
	__type(value, struct xlb_sched_chunk);
	__uint(map_flags, BPF_F_MMAPABLE);
	XLB_PINNED;
} xlb_sched SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_CT_DEFAULT);
	__type(key, struct xlb_ct_key);
	__type(value, struct xlb_ct_entry);
	XLB_PINNED;
} xlb_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_PERSIST_DEFAULT);
	__type(key, struct xlb_persist_key);
	__type(value, struct xlb_persist_entry);
	XLB_PINNED;
} xlb_persist SEC(".maps");

/* per-CPU round-robin / WRR cursor, index svc_id */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_SVC);
	__type(key, __u32);
	__type(value, __u32);
	XLB_PINNED;
} xlb_rr SEC(".maps");

/* active connections per endpoint slot (least-connection), index svc_id * XLB_MAX_EP + slot */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_SVC * XLB_MAX_EP);
	__type(key, __u32);
	__type(value, __s64);
	XLB_PINNED;
} xlb_ep_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_SVC);
	__type(key, __u32);
	__type(value, struct xlb_policer);
	XLB_PINNED;
} xlb_policers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_SVC);
	__type(key, __u32);
	__type(value, struct xlb_svc_stats);
	XLB_PINNED;
} xlb_svc_stats SEC(".maps");

/* index svc_id * XLB_MAX_EP + slot */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_SVC * XLB_MAX_EP);
	__type(key, __u32);
	__type(value, struct xlb_counters);
	XLB_PINNED;
} xlb_ep_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_R_MAX);
	__type(key, __u32);
	__type(value, struct xlb_counters);
	XLB_PINNED;
} xlb_reasons SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_FWD_MAX);
	__type(key, __u32);
	__type(value, struct xlb_counters);
	XLB_PINNED;
} xlb_fwd SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	XLB_PINNED;
} xlb_trace SEC(".maps");
#endif /* XLB_SCHEMA_TYPES_ONLY */

/* Keeps struct xlb_trace_event in the object's BTF (ring buffers carry no value type). */
struct xlb_trace_event *xlb_trace_event_btf __attribute__((unused));

/*
 * Keeps every enum of the schema in the object's BTF: struct fields hold them as __u8/__u16
 * and map keys as __u32, so nothing else names their types and clang would leave them out.
 * src/schema/maps.test.ts checks the TypeScript mirrors against them, name for name and value
 * for value. Never read or written (one pointer in .bss, which already exists).
 */
struct xlb_schema_enums {
	enum xlb_family family;
	enum xlb_proto proto;
	enum xlb_mode mode;
	enum xlb_algo algo;
	enum xlb_svc_flag svc_flag;
	enum xlb_ep_flag ep_flag;
	enum xlb_ct_state ct_state;
	enum xlb_ct_flag ct_flag;
	enum xlb_xlate xlate;
	enum xlb_cfg_flag cfg_flag;
	enum xlb_unknown_tcp unknown_tcp;
	enum xlb_reason reason;
	enum xlb_fwd_result fwd_result;
};
struct xlb_schema_enums *xlb_schema_enums_btf __attribute__((unused));

/*
 * Tail-call table (fast path -> slow path), one per loaded object, not pinned: its programs
 * belong to one load. An entry file declares its slow-path program, then uses this macro.
 */
#define XLB_DEFINE_PROG_ARRAY(slow_prog)                                    \
	struct {                                                            \
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);                      \
		__uint(max_entries, 1);                                     \
		__type(key, __u32);                                         \
		__array(values, int(void *));                               \
	} xlb_progs SEC(".maps") = { .values = { [0] = (void *)&slow_prog } }

#endif /* XLB_MAPS_H */
