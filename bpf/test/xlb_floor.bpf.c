// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor under a new flow: what the kernel's conntrack map alone costs, timed beside the
 * datapath by bench/datapath/run.ts. Each program takes the packet's IPv4/TCP tuple (fixed
 * offsets: Ethernet, a 20-byte IPv4 header, ports; the bench's fresh SYNs), builds a
 * struct xlb_ct_key from it and, on a BPF_MAP_TYPE_LRU_HASH of struct xlb_ct_entry values sized
 * as the datapath's xlb_ct (the loader sets max_entries):
 *   hit      one lookup that finds its entry (the bench inserts it first; the established rows
 *            repeat one packet, so this is the warm-cache lookup under an established packet)
 *   miss     one lookup (a fresh tuple: a miss)
 *   insert   the lookup, then one insert of that key (a new flow with one entry)
 *   insert2  the lookup, one insert, then a second lookup and insert under the reversed tuple
 *            (a new flow with two entries, as the datapath keeps today)
 * No parsing beyond the fixed offsets, no service, selection, rewrite or forwarding: a datapath
 * that keeps one LRU entry per flow cannot create a flow for less than `insert` costs.
 * Returns: pass (XDP_PASS / TC_ACT_OK) when every lookup found what it should (hit: the entry;
 * the others: nothing) and every insert succeeded, drop otherwise; the bench checks both the
 * verdict and that the map holds the entries.
 */
#define XLB_SCHEMA_TYPES_ONLY
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "xlb_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_CT_DEFAULT);
	__type(key, struct xlb_ct_key);
	__type(value, struct xlb_ct_entry);
} xlb_floor_ct SEC(".maps");

#define ETH_LEN 14
#define TUPLE_END (ETH_LEN + 20 + 4) /* through the TCP ports */

/* 0: the tuple is in k; -1: the frame is too short. */
static __always_inline int floor_key(void *data, void *data_end, struct xlb_ct_key *k)
{
	__u8 *b = data;

	if ((void *)(b + TUPLE_END) > data_end)
		return -1;
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->saddr, b + ETH_LEN + 12, 4);
	__builtin_memcpy(k->daddr, b + ETH_LEN + 16, 4);
	__builtin_memcpy(&k->sport, b + ETH_LEN + 20, 2);
	__builtin_memcpy(&k->dport, b + ETH_LEN + 22, 2);
	k->proto = 6;
	k->family = 4;
	return 0;
}

/* ops: -1 hit, 0 miss, 1 insert, 2 insert2. 0: as expected; -1: not. */
static __always_inline int floor_run(void *data, void *data_end, int ops)
{
	struct xlb_ct_entry e = {};
	struct xlb_ct_key k;
	__be16 port;

	if (floor_key(data, data_end, &k))
		return -1;
	if (ops < 0)
		return bpf_map_lookup_elem(&xlb_floor_ct, &k) ? 0 : -1;
	if (bpf_map_lookup_elem(&xlb_floor_ct, &k))
		return -1;
	if (ops == 0)
		return 0;
	e.state = 1;
	e.last_seen_ns = 1;
	__builtin_memcpy(e.nat_daddr, k.daddr, 16);
	if (bpf_map_update_elem(&xlb_floor_ct, &k, &e, BPF_NOEXIST))
		return -1;
	if (ops == 1)
		return 0;
	/* the reversed tuple: the packet's source as destination, its ports swapped */
	__builtin_memcpy(k.daddr, k.saddr, 4);
	__builtin_memcpy(k.saddr, e.nat_daddr, 4);
	port = k.sport;
	k.sport = k.dport;
	k.dport = port;
	if (bpf_map_lookup_elem(&xlb_floor_ct, &k))
		return -1;
	return bpf_map_update_elem(&xlb_floor_ct, &k, &e, BPF_NOEXIST) ? -1 : 0;
}

#define FLOOR_PROGS(name, ops)                                                                  \
	SEC("xdp") int xlb_floor_##name##_xdp(struct xdp_md *ctx)                               \
	{                                                                                       \
		return floor_run((void *)(long)ctx->data, (void *)(long)ctx->data_end, ops)    \
			       ? XDP_DROP : XDP_PASS;                                            \
	}                                                                                       \
	SEC("tc") int xlb_floor_##name##_tc(struct __sk_buff *skb)                              \
	{                                                                                       \
		return floor_run((void *)(long)skb->data, (void *)(long)skb->data_end, ops)    \
			       ? TC_ACT_SHOT : TC_ACT_OK;                                        \
	}

FLOOR_PROGS(hit, -1)
FLOOR_PROGS(miss, 0)
FLOOR_PROGS(insert, 1)
FLOOR_PROGS(insert2, 2)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
