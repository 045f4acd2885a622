/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Stage 5: forwarding. bpf_fib_lookup on the translated addresses (the kernel's routes and
 * neighbours are the truth), then new MAC addresses and a redirect (XDP_TX when the egress is
 * the ingress device). The next hop can be cached in the conntrack entry for fib_cache_ms.
 * Neighbour unknown: TC sends with bpf_redirect_neigh (the kernel resolves it); XDP hands the
 * rewritten packet to its TC half, which does (struct xlb_xdp_meta).
 * A packet the LB sends itself has its TTL / hop limit decremented.
 * VLAN-tagged frames keep their tag; the lookup uses the ingress device.
 */
#ifndef XLB_FWD_H
#define XLB_FWD_H

#include <linux/socket.h>
#include "parse.h"
#include "conntrack.h"   /* addr16_eq */
#include "scratch.h"
#include "icmp.h"

#ifndef READ_ONCE
#define READ_ONCE(x) (*(volatile __typeof__(x) *)&(x))
#endif
#ifndef WRITE_ONCE
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#endif
#ifndef barrier
#define barrier() __asm__ __volatile__("" ::: "memory")
#endif

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/*
 * Next hop per endpoint slot (internal cache, not schema, not pinned): a new flow to an
 * endpoint whose next hop was resolved less than fib_cache_ms ago, from the same ingress device
 * and towards the same address, skips bpf_fib_lookup. Index svc_id * XLB_MAX_EP + slot. The
 * lookup key is the destination; routing that depends on the source address (policy rules) is
 * therefore decided by the first flow to the endpoint for fib_cache_ms. Shared by the CPUs and
 * written only on a miss: fib_ns is cleared first and set last, so a reader racing a writer
 * sees an empty entry or fields that were all valid within fib_cache_ms.
 */
struct xlb_nh {
	__u64 fib_ns;          /* 0: empty */
	__u8 daddr[16];
	__u32 in_ifindex;
	__u32 out_ifindex;
	__u8 dmac[6];
	__u8 smac[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_SVC * XLB_MAX_EP);
	__type(key, __u32);
	__type(value, struct xlb_nh);
} xlb_ep_nh SEC(".maps");

static __always_inline struct xlb_nh *ep_nh_get(__u32 svc_id, __u32 slot)
{
	__u32 idx = svc_id * XLB_MAX_EP + slot;

	if (slot >= XLB_MAX_EP)
		return NULL;
	return bpf_map_lookup_elem(&xlb_ep_nh, &idx);
}

/* Where a packet goes when the LB forwards it itself. */
struct xlb_hop {
	__u32 ifindex;
	__u8 dmac[6];
	__u8 smac[6];
	__u32 mtu;                   /* XLB_RESOLVE_TOO_BIG: the egress MTU */
	__u32 neigh;                 /* 1: neighbour unknown, send with bpf_redirect_neigh(nh) (XDP: by xlb_xdp_neigh at TC) */
	struct bpf_redir_neigh nh;   /* the FIB's next hop (gateway or destination) */
};

/*
 * XDP has no bpf_redirect_neigh: a packet whose neighbour is unknown is rewritten as for a
 * forward and passed with this record in its XDP metadata (the bytes before the frame); the TC
 * ingress program of the XDP object (xlb_xdp_neigh, attached with the XDP program) finds it in
 * skb->data_meta and sends the packet with bpf_redirect_neigh before the stack's input route
 * sees it (which has no route for a DSR packet's VIP and refuses full NAT's own source address).
 * Cilium hands XDP's work to TC the same way. 28 bytes: metadata is at most 32, a multiple of 4.
 */
#define XLB_XDP_META_MAGIC 0x584c424eu   /* "XLBN" */

struct xlb_xdp_meta {
	__u32 magic;
	__u32 ifindex;
	struct bpf_redir_neigh nh;
};

/*
 * The TTL / hop limit decrement of a packet the LB forwards itself: the byte is written here and
 * the difference of its 16-bit header word is added to *l3diff; the caller folds it into the
 * IPv4 header checksum update, or for IPv6 (no header checksum) into skb->csum at TC
 * (hook_rcsum_add: a CHECKSUM_COMPLETE skb's sum must follow the byte). Returns 0 or -1.
 */
static __always_inline int fwd_dec_ttl_write(xlb_ctx_t *ctx, const struct xlb_pkt *p, __u32 *l3diff)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	__u32 off = p->l3_off;

	if (off > 64)
		return -1;
	if (p->key.family == XLB_AF_V4) {
		__u8 *w = data + off + 8;     /* ttl, protocol: one 16-bit word of the header */
		__u16 old, nw;

		if ((void *)(w + 2) > end)
			return -1;
		__builtin_memcpy(&old, w, 2);
#ifndef XLB_FAULT_FWD_TTL_DEC   /* fault: the IPv4 TTL is not decremented */
		w[0]--;
#endif
		__builtin_memcpy(&nw, w, 2);
		*l3diff = csum_diff_word(old, nw, *l3diff);
	} else {
		__u8 *w = data + off + 6;     /* next header, hop limit: one 16-bit word */
		__u16 old, nw;

		if ((void *)(w + 2) > end)
			return -1;
		__builtin_memcpy(&old, w, 2);
#ifndef XLB_FAULT_FWD_HOPLIMIT_DEC   /* fault: the IPv6 hop limit is not decremented */
		w[1]--;
#endif
		__builtin_memcpy(&nw, w, 2);
		*l3diff = csum_diff_word(old, nw, *l3diff);
	}
	return 0;
}

/* The decrement with its own IPv4 header checksum update (paths that do not rewrite addresses). */
static __always_inline int fwd_dec_ttl(xlb_ctx_t *ctx, const struct xlb_pkt *p)
{
	__u32 d = 0;

	if (fwd_dec_ttl_write(ctx, p, &d))
		return -1;
	if (p->key.family == XLB_AF_V4)
		return hook_l3_csum(ctx, p->l3_off + 10, d);
	hook_rcsum_add(ctx, d);
	return 0;
}

/* MAC fields are 2-byte aligned in every struct here: copied as three 16-bit words. */
static __always_inline void hop_set(struct xlb_hop *hop, __u32 ifindex, const __u8 *dmac, const __u8 *smac)
{
	dmac = __builtin_assume_aligned(dmac, 2);
	smac = __builtin_assume_aligned(smac, 2);
	hop->ifindex = ifindex;
	hop->neigh = 0;
	__builtin_memcpy(hop->dmac, dmac, ETH_ALEN);
	__builtin_memcpy(hop->smac, smac, ETH_ALEN);
}

/* fwd_resolve's results */
#define XLB_RESOLVE_STACK    0   /* to the stack (*res says why) */
#define XLB_RESOLVE_SEND     1   /* the LB forwards it to *hop */
#define XLB_RESOLVE_TOO_BIG  2   /* too big for the egress and must not be fragmented: hop->mtu */

/*
 * Packets up to this L3 length are not checked against a cached next hop's MTU: 1280 is IPv6's
 * minimum MTU, and IPv4 egress links below it are not supported by the cached path (a packet of
 * 577-1280 bytes there is sent and dropped by the egress device). Bigger packets cost one
 * bpf_check_mtu call.
 */
#define XLB_MTU_UNCHECKED 1280

/* The cached next hop ifindex: 1 (hop->mtu set) when p must get an ICMP too-big instead. */
static __always_inline int fwd_cached_too_big(xlb_ctx_t *ctx, const struct xlb_pkt *p, __u32 ifindex, struct xlb_hop *hop)
{
	__u32 mtu_len = 0;

	if (p->len <= p->l3_off + XLB_MTU_UNCHECKED)
		return 0;
	if (bpf_check_mtu(ctx, ifindex, &mtu_len, 0, 0) != BPF_MTU_CHK_RET_FRAG_NEEDED)
		return 0;
	if (!pkt_no_frag(ctx, p))
		return 0;
	hop->mtu = mtu_len;
	return 1;
}

/*
 * Where the translated packet from saddr to daddr goes (the packet is not touched, so the
 * caller can rewrite it afterwards in one go). cache: the flow's entry (may be NULL); nh: the
 * endpoint's next-hop cache (may be NULL; used when the flow has none). Returns 1 with *hop set
 * when the LB forwards it itself (*res: XLB_FWD_CACHED, else set by fwd_send), 0 when it goes to
 * the stack (*res: PASS_NO_NEIGH / PASS_FIB).
 */
static __always_inline int fwd_resolve(xlb_ctx_t *ctx, const struct xlb_config *cfg, const struct xlb_pkt *p,
				       const __u8 *saddr, const __u8 *daddr, struct xlb_ct_entry *cache,
				       struct xlb_nh *nh, __u64 now, struct xlb_hop *hop, __u32 *res)
{
	__u64 ttl_ns = (__u64)cfg->fib_cache_ms * 1000000ULL;
	struct bpf_fib_lookup *fib;
	struct xlb_tmp *t;
	__u32 flags = 0;
	long rc;

	/*
	 * A VLAN-tagged frame (in-band tags, or at TC a tag the stack moved into skb metadata) is
	 * never forwarded by the LB itself: the FIB's egress is an L3 choice whose own tagging the
	 * frame does not carry (redirected, it would leave with the ingress tag on a device of
	 * another VLAN, or, QinQ at TC, with the inner tag in-band). It goes to the stack
	 * translated, whose VLAN devices untag it and forward it tagged as the egress requires
	 * (docs/datapath.md "VLAN"). Counted pass_fib.
	 */
	if (p->vlan || ctx_vlan_meta(ctx)) {
		*res = XLB_FWD_PASS_FIB;
		return 0;
	}

	/*
	 * Both caches are shared by the CPUs (a flow's packets can arrive on several; the endpoint
	 * cache serves every flow of the slot) and are written without a lock, seqlock-style: the
	 * writer clears fib_ns, writes the fields, then sets fib_ns (barrier() between; x86 keeps
	 * stores in order and loads in order, and the BPF JIT emits plain moves). The reader reads
	 * fib_ns, copies the fields, and reads fib_ns again: a different value (a write began or
	 * ended meanwhile) discards the copy and the FIB is asked. Left: a complete rewrite within
	 * the same coarse-clock tick between the two reads leaves fib_ns equal (ABA), so the copy
	 * may mix two lookups for the same slot made in the same millisecond, both valid next hops
	 * unless the route changed in that millisecond; the mix lasts one packet (the issue 11
	 * item 12 review asked for this re-check; before dpfix2 a reader never re-checked).
	 */
	if (cache && ttl_ns) {
		__u64 t1 = READ_ONCE(cache->fib_ns);

		if (t1 && now - t1 < ttl_ns) {
			hop_set(hop, cache->fib_ifindex, cache->fib_dmac, cache->fib_smac);
			barrier();
			if (READ_ONCE(cache->fib_ns) == t1) {
				*res = XLB_FWD_CACHED;
				return fwd_cached_too_big(ctx, p, hop->ifindex, hop) ? XLB_RESOLVE_TOO_BIG
										      : XLB_RESOLVE_SEND;
			}
		}
	}
	if (nh && ttl_ns) {
		__u64 t1 = READ_ONCE(nh->fib_ns);

		if (t1 && now - t1 < ttl_ns && nh->in_ifindex == ctx_ifindex(ctx) && addr16_eq(nh->daddr, daddr)) {
			hop_set(hop, nh->out_ifindex, nh->dmac, nh->smac);
			barrier();
			if (READ_ONCE(nh->fib_ns) == t1) {
				if (cache) {
					WRITE_ONCE(cache->fib_ns, 0);
					barrier();
					cache->fib_ifindex = hop->ifindex;
					__builtin_memcpy(cache->fib_dmac, hop->dmac, ETH_ALEN);
					__builtin_memcpy(cache->fib_smac, hop->smac, ETH_ALEN);
					barrier();
					WRITE_ONCE(cache->fib_ns, t1);
				}
				*res = XLB_FWD_CACHED;
				return fwd_cached_too_big(ctx, p, hop->ifindex, hop) ? XLB_RESOLVE_TOO_BIG
										      : XLB_RESOLVE_SEND;
			}
		}
	}

	*res = XLB_FWD_PASS_FIB;
	t = tmp_get();
	if (!t)
		return 0;
	fib = &t->fib;
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ctx_ifindex(ctx);
	fib->l4_protocol = p->key.proto;
#ifdef XLB_HOOK_XDP
	/* XDP sees single frames: the lookup checks this length against the route's MTU */
	fib->tot_len = p->len > p->l3_off ? p->len - p->l3_off : 0;
#else
	/*
	 * TC: tot_len 0 makes the helper check the skb itself against the egress device
	 * (is_skb_forwardable, GSO-aware: a GRO aggregate whose segments fit is forwarded). A
	 * tot_len of the aggregate's full length would call every aggregate FRAG_NEEDED.
	 */
	fib->tot_len = 0;
#endif
	if (p->key.family == XLB_AF_V4) {
		fib->family = AF_INET;
		__builtin_memcpy(&fib->ipv4_src, saddr, 4);
		__builtin_memcpy(&fib->ipv4_dst, daddr, 4);
	} else {
		fib->family = AF_INET6;
		__builtin_memcpy(fib->ipv6_src, saddr, 16);
		__builtin_memcpy(fib->ipv6_dst, daddr, 16);
	}
	if (cfg->flags & XLB_CFG_F_FIB_TABLE) {
		flags = BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID;
		fib->tbid = cfg->fib_table;
	}
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), flags);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		/*
		 * Route found, neighbour not resolved: the helper has set fib->ifindex and the next
		 * hop (ipv4_dst / ipv6_dst, family AF_INET6 for an IPv6 gateway). The kernel resolves
		 * it and fills the MACs (bpf_redirect_neigh, 5.11). Handing the packet to the stack
		 * instead fails under full NAT: its source is the LB's own address and the stack
		 * drops it as a martian without resolving anything; under DSR its destination is the
		 * VIP, for which the stack has no route. Not cached (no MACs). XDP: the metadata room
		 * for the hand-off to TC (struct xlb_xdp_meta) is reserved here, before the rewrite;
		 * a driver without metadata support gets the old way (to the stack, PASS_NO_NEIGH).
		 */
#ifdef XLB_HOOK_XDP
		if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct xlb_xdp_meta))) {
			*res = XLB_FWD_PASS_NO_NEIGH;
			return 0;
		}
#endif
		hop->ifindex = fib->ifindex;
		hop->neigh = 1;
		__builtin_memset(&hop->nh, 0, sizeof(hop->nh));
		if (fib->family == AF_INET) {
			hop->nh.nh_family = AF_INET;
			hop->nh.ipv4_nh = fib->ipv4_dst;
		} else {
			hop->nh.nh_family = AF_INET6;
			__builtin_memcpy(hop->nh.ipv6_nh, fib->ipv6_dst, 16);
		}
		*res = XLB_FWD_REDIRECT;
		return 1;
	}
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED && pkt_no_frag(ctx, p)) {
		/* the helper reports the egress MTU in the field it read tot_len from */
		hop->mtu = fib->mtu_result;
		return XLB_RESOLVE_TOO_BIG;
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		*res = rc == BPF_FIB_LKUP_RET_NO_NEIGH ? XLB_FWD_PASS_NO_NEIGH : XLB_FWD_PASS_FIB;
		return 0;
	}
	hop_set(hop, fib->ifindex, fib->dmac, fib->smac);
	if (cache && ttl_ns) {
		WRITE_ONCE(cache->fib_ns, 0);
		barrier();
		cache->fib_ifindex = fib->ifindex;
		__builtin_memcpy(cache->fib_dmac, fib->dmac, ETH_ALEN);
		__builtin_memcpy(cache->fib_smac, fib->smac, ETH_ALEN);
		barrier();
		WRITE_ONCE(cache->fib_ns, now);
	}
	if (nh && ttl_ns) {
		WRITE_ONCE(nh->fib_ns, 0);
		__builtin_memcpy(nh->daddr, daddr, 16);
		nh->in_ifindex = ctx_ifindex(ctx);
		nh->out_ifindex = fib->ifindex;
		__builtin_memcpy(nh->dmac, fib->dmac, ETH_ALEN);
		__builtin_memcpy(nh->smac, fib->smac, ETH_ALEN);
		barrier();
		WRITE_ONCE(nh->fib_ns, now);
	}
	*res = XLB_FWD_REDIRECT;
	return 1;
}

/* Send the (rewritten, TTL-decremented) packet to hop: new MACs, redirect / XDP_TX. */
static __always_inline int fwd_send(xlb_ctx_t *ctx, const struct xlb_hop *hop, __u32 *res)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	struct ethhdr *eth = data;
	__u32 how;
	int act;

	if (hop->neigh) {
		*res = XLB_FWD_REDIRECT;
#ifdef XLB_HOOK_XDP
		{
			struct xlb_xdp_meta *m = (void *)(long)ctx->data_meta;

			/* the room fwd_resolve reserved */
			if ((void *)(m + 1) > data)
				return XDP_PASS;
			m->magic = XLB_XDP_META_MAGIC;
			m->ifindex = hop->ifindex;
			__builtin_memcpy(&m->nh, &hop->nh, sizeof(m->nh));
			return XDP_PASS;
		}
#else
		return bpf_redirect_neigh(hop->ifindex, (struct bpf_redir_neigh *)&hop->nh, sizeof(hop->nh), 0);
#endif
	}
	if ((void *)(eth + 1) > end)
		return XLB_ACT_DROP;
	/* frames start 2-byte aligned (x86 also takes unaligned stores) */
	__builtin_memcpy(__builtin_assume_aligned(eth->h_dest, 2), hop->dmac, ETH_ALEN);
#ifndef XLB_FAULT_FWD_SMAC   /* fault: the source MAC is not rewritten */
	__builtin_memcpy(__builtin_assume_aligned(eth->h_source, 2), hop->smac, ETH_ALEN);
#endif
	act = hook_redirect(ctx, hop->ifindex, &how);
	if (*res != XLB_FWD_CACHED)
		*res = how;
	return act;
}

#endif /* XLB_FWD_H */
