// SPDX-License-Identifier: GPL-2.0
/*
 * Drop diagnosis for the lab (docs/drops.md): raw tracepoints on skb:kfree_skb, xdp:xdp_exception,
 * xdp:xdp_redirect_err and xdp:xdp_devmap_xmit (where a redirect's frames die when the target
 * cannot take them: a veth whose peer has neither GRO nor an XDP program), filtered to the network
 * namespaces user space wrote into `netns_filter`, one record per drop into the `events` ring
 * buffer. Loaded per harness run by src/harness/drops; never pinned.
 *
 * No vmlinux.h: the few kernel structs read here are declared with preserve_access_index, so libbpf
 * relocates each field against the running kernel's BTF (CO-RE).
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct net_device {
	char name[16];
	int ifindex;
	possible_net_t nd_net;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct net_device *dev;
	unsigned char *head;
	__u16 network_header;
	__u16 transport_header;
	__u16 protocol;
} __attribute__((preserve_access_index));

/* Event kinds: DROP_KIND in src/harness/drops/events.ts. */
#define KIND_KFREE_SKB 1
#define KIND_XDP_EXCEPTION 2
#define KIND_XDP_REDIRECT_ERR 3
#define KIND_XDP_DEVMAP_XMIT 4

/* Layout: EVENT_LAYOUT in src/harness/drops/events.ts (packed, little endian). */
struct drop_event {
	__u64 ts_ns;
	__u64 location;  /* kfree_skb: the caller's address (resolved with /proc/kallsyms) */
	__u32 kind;
	__u32 netns;     /* inode of the device's network namespace */
	__u32 ifindex;
	__u32 reason;    /* kfree_skb: enum skb_drop_reason; xdp_exception: the XDP action */
	__s32 err;       /* xdp_redirect_err / xdp_devmap_xmit: -errno */
	__u32 count;     /* frames dropped (devmap_xmit: a bulk), else 1 */
	__u32 to_ifindex;
	__u32 to_netns;
	char ifname[16];
	char to_ifname[16];
	__u16 l3proto;   /* ETH_P_IP / ETH_P_IPV6 in host order, 0 when unknown */
	__u8 l4proto;
	__u8 has_tuple;
	__u16 sport;     /* network order */
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
} __attribute__((packed));

/* Not read at run time: puts struct drop_event into the object's BTF, so a test checks the
 * TypeScript decoder's offsets against it (src/harness/drops/summary.test.ts). */
const volatile struct drop_event drop_event_layout = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 64);
} netns_filter SEC(".maps");

/* Records the ring buffer had no room for (user space reports them: a diagnosis that lost some). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} lost SEC(".maps");

static __always_inline __u32 dev_netns(const struct net_device *dev)
{
	if (!dev)
		return 0;
	return BPF_CORE_READ(dev, nd_net.net, ns.inum);
}

static __always_inline int wanted(__u32 inum)
{
	return inum && bpf_map_lookup_elem(&netns_filter, &inum);
}

static __always_inline struct drop_event *reserve(void)
{
	struct drop_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 k = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &k);
		if (n)
			__sync_fetch_and_add(n, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->count = 1;
	return e;
}

static __always_inline void fill_dev(struct drop_event *e, const struct net_device *dev, __u32 inum)
{
	e->netns = inum;
	if (!dev)
		return;
	e->ifindex = BPF_CORE_READ(dev, ifindex);
	bpf_probe_read_kernel_str(e->ifname, sizeof(e->ifname), &dev->name);
}

struct ip4 {
	__u8 vihl, tos;
	__u16 len, id, frag;
	__u8 ttl, proto;
	__u16 csum;
	__u8 saddr[4], daddr[4];
};

struct ip6 {
	__u32 vtcfl;
	__u16 plen;
	__u8 nexthdr, hop;
	__u8 saddr[16], daddr[16];
};

/* The 5-tuple from the skb's headers when the network header is set (not for ext headers). */
static __always_inline void fill_tuple(struct drop_event *e, const struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 proto = __builtin_bswap16(BPF_CORE_READ(skb, protocol));
	__u32 l4off;
	if (!head || nh == (__u16)~0U)
		return;
	e->l3proto = proto;
	if (proto == 0x0800) {
		struct ip4 ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		if ((ip.vihl >> 4) != 4)
			return;
		__builtin_memcpy(e->saddr, ip.saddr, 4);
		__builtin_memcpy(e->daddr, ip.daddr, 4);
		e->l4proto = ip.proto;
		l4off = nh + (ip.vihl & 0xf) * 4;
		if (ip.frag & __builtin_bswap16(0x1fff)) {
			e->has_tuple = 1; /* a later fragment: addresses only */
			return;
		}
	} else if (proto == 0x86dd) {
		struct ip6 ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		__builtin_memcpy(e->saddr, ip.saddr, 16);
		__builtin_memcpy(e->daddr, ip.daddr, 16);
		e->l4proto = ip.nexthdr;
		l4off = nh + sizeof(ip);
	} else {
		return;
	}
	e->has_tuple = 1;
	if (e->l4proto == 6 || e->l4proto == 17) {
		__u16 ports[2];
		if (bpf_probe_read_kernel(ports, sizeof(ports), head + l4off) == 0) {
			e->sport = ports[0];
			e->dport = ports[1];
		}
	}
}

/*
 * An event about a packet on dev, when dev is in one of the lab's namespaces: reserved, its kind
 * and device filled; NULL when the namespace is not watched or the ring is full.
 */
static __always_inline struct drop_event *begin_dev_event(const struct net_device *dev, __u32 kind)
{
	__u32 inum = dev_netns(dev);
	if (!wanted(inum))
		return 0;
	struct drop_event *e = reserve();
	if (!e)
		return 0;
	e->kind = kind;
	fill_dev(e, dev, inum);
	return e;
}

/* kfree_skb(skb, location, reason, rx_sk) */
SEC("raw_tp/kfree_skb")
int on_kfree_skb(struct bpf_raw_tracepoint_args *ctx)
{
	const struct sk_buff *skb = (const struct sk_buff *)ctx->args[0];
	__u32 reason = (__u32)ctx->args[2];
	/* SKB_NOT_DROPPED_YET (0) and SKB_CONSUMED (1) are not drops */
	if (reason <= 1)
		return 0;
	struct drop_event *e = begin_dev_event(BPF_CORE_READ(skb, dev), KIND_KFREE_SKB);
	if (!e)
		return 0;
	e->location = ctx->args[1];
	e->reason = reason;
	fill_tuple(e, skb);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* xdp_exception(dev, xdp, act) */
SEC("raw_tp/xdp_exception")
int on_xdp_exception(struct bpf_raw_tracepoint_args *ctx)
{
	struct drop_event *e = begin_dev_event((const struct net_device *)ctx->args[0], KIND_XDP_EXCEPTION);
	if (!e)
		return 0;
	e->reason = (__u32)ctx->args[2];
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* xdp_redirect_err(dev, xdp, tgt, err, map_type, map_id, index) */
SEC("raw_tp/xdp_redirect_err")
int on_xdp_redirect_err(struct bpf_raw_tracepoint_args *ctx)
{
	struct drop_event *e = begin_dev_event((const struct net_device *)ctx->args[0], KIND_XDP_REDIRECT_ERR);
	if (!e)
		return 0;
	e->err = (__s32)ctx->args[3];
	e->to_ifindex = (__u32)ctx->args[6];
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* xdp_devmap_xmit(from_dev, to_dev, sent, drops, err): the bulk flush of a redirect */
SEC("raw_tp/xdp_devmap_xmit")
int on_xdp_devmap_xmit(struct bpf_raw_tracepoint_args *ctx)
{
	const struct net_device *from = (const struct net_device *)ctx->args[0];
	const struct net_device *to = (const struct net_device *)ctx->args[1];
	int drops = (int)ctx->args[3];
	if (drops <= 0)
		return 0;
	__u32 inum = dev_netns(from), to_inum = dev_netns(to);
	if (!wanted(inum) && !wanted(to_inum))
		return 0;
	struct drop_event *e = reserve();
	if (!e)
		return 0;
	e->kind = KIND_XDP_DEVMAP_XMIT;
	e->err = (int)ctx->args[4];
	e->count = (__u32)drops;
	fill_dev(e, from, inum);
	e->to_netns = to_inum;
	if (to) {
		e->to_ifindex = BPF_CORE_READ(to, ifindex);
		bpf_probe_read_kernel_str(e->to_ifname, sizeof(e->to_ifname), &to->name);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
