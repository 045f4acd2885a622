// Test-only BPF object for the libbpf binding (src/bpf/): every feature the binding tests touch.
// Not part of the datapath. Compiled by bpf/Makefile into build/bpf/test/binding_test.bpf.o.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

// A key/value pair with padding, for map CRUD, pin/reopen and the BTF layout check.
struct xlb_test_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct xlb_test_val {
	__u64 packets;
	__u64 bytes;
	__u32 backend;
	__u16 flags;
	__u8 state;
	/* 1 byte of tail padding: size 24 */
};

struct xlb_test_event {
	__u64 seq;
	__u32 ifindex;
	__u32 len;
};

// Pinned by name under the pin directory given at open: reused by a second open.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct xlb_test_key);
	__type(value, struct xlb_test_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows SEC(".maps");

// Index 0: packets seen by xdp_count, 1: by tc_count. Per-CPU, pinned.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

// Not pinned: a plain array for batch tests.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jump SEC(".maps");

__u64 event_seq = 0;
__u64 event_drops = 0;

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);
	if (c)
		*c += 1;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	count(0);
	return XDP_PASS;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	count(1);
	return TC_ACT_OK;
}

// Swaps the Ethernet addresses, writes ingress_ifindex (host order) into the 4 bytes after the
// Ethernet header and bounces the frame (XDP_TX). Used for the exact-bytes test run.
SEC("xdp")
int xdp_rewrite(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) + 4 > end)
		return XDP_ABORTED;
	unsigned char tmp[ETH_ALEN];
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	__u32 ifx = ctx->ingress_ifindex;
	__builtin_memcpy((void *)(eth + 1), &ifx, 4);
	return XDP_TX;
}

// Reads and writes __sk_buff context fields: returns mark + 1 and doubles the mark.
SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	__u32 m = skb->mark;
	skb->mark = m * 2;
	return (int)(m + 1);
}

// Emits one ring buffer record per run, numbered in order.
SEC("xdp")
int rb_emit(struct xdp_md *ctx)
{
	struct xlb_test_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&event_drops, 1);
		return XDP_PASS;
	}
	e->seq = __sync_fetch_and_add(&event_seq, 1);
	e->ifindex = ctx->ingress_ifindex;
	e->len = (__u32)(ctx->data_end - ctx->data);
	bpf_ringbuf_submit(e, 0);
	return XDP_PASS;
}

// Tail call into jump[0]; XDP_DROP when the slot is empty.
SEC("xdp")
int tail_entry(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jump, 0);
	return XDP_DROP;
}

SEC("xdp")
int tail_target(struct xdp_md *ctx)
{
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
