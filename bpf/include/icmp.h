/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet too big (issue 11 item 4): a client packet the LB would forward but that does not fit
 * the egress MTU, with DF set (IPv4) or any IPv6 packet, is answered by the LB itself with ICMP
 * fragmentation-needed (type 3 code 4, next-hop MTU) / ICMPv6 packet-too-big (type 2, MTU) built
 * from the ORIGINAL packet (client -> VIP:port, before translation), so the client matches it to
 * its own socket and path-MTU discovery works through the LB (Katran does the same). Handing the
 * translated packet to the stack would quote client -> endpoint (DNAT: unmatched) or be dropped as
 * a martian (full NAT: the LB's own source address).
 *
 * The error: the frame's own L2 header (MACs swapped, tags kept), an IP header from the VIP to the
 * client (TTL / hop limit 64), the ICMP header, then the first XLB_TOOBIG_QUOTE bytes of the
 * original IP packet (its header and the start of its L4 header: what the client matches on). It
 * leaves through the ingress device (XDP_TX; TC: bpf_redirect to the ingress device's egress).
 */
#ifndef XLB_ICMP_H
#define XLB_ICMP_H

#include "parse.h"
#include "scratch.h"

#define XLB_TOOBIG_QUOTE 128   /* bytes of the original IP packet quoted (a multiple of 4) */
#define XLB_TOOBIG_TTL   64
#define XLB_L2_MAX       22    /* Ethernet + two VLAN tags */

#define ICMP_FRAG_NEEDED 4

/* 1 when a packet too big for its egress must get an ICMP error (not be fragmented): IPv6, or
 * IPv4 with DF. */
static __always_inline int pkt_no_frag(xlb_ctx_t *ctx, const struct xlb_pkt *p)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	__u8 *ff;

	if (p->key.family == XLB_AF_V6)
		return 1;
	if (p->l3_off > 64)
		return 0;
	ff = data + p->l3_off + 6;   /* flags and fragment offset, DF = 0x40 of the first byte */
	if ((void *)(ff + 1) > end)
		return 0;
	return (*ff & 0x40) != 0;
}

static __always_inline __u32 csum_words(const __u32 *w, int n, __u32 s)
{
	int i;

#pragma unroll
	for (i = 0; i < n; i++)
		s = csum_add(s, w[i]);
	return s;
}

/*
 * Turn the packet into the too-big error for mtu. Returns the hook action, or -1 when the error
 * cannot be built and the packet is untouched (the caller goes on as before: to the stack).
 */
static __always_inline int icmp_too_big(xlb_ctx_t *ctx, const struct xlb_pkt *p, __u32 mtu)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	int v6 = p->key.family == XLB_AF_V6;
	__u32 l2 = p->l3_off, hdr = v6 ? 48 : 28, s;
	struct xlb_tmp *t = tmp_get();
	__u8 *ip, *icmp, *quote, *l2buf;
	__s64 quote_sum;

	if (!t || l2 > XLB_L2_MAX || p->len < l2 + XLB_TOOBIG_QUOTE)
		return -1;
	if (data + XLB_L2_MAX > end)
		return -1;
	/* the L2 header (22 bytes: the frame is longer than l2 + 128), in per-CPU scratch memory:
	 * the slow path's stack has no room left (512 bytes with xlb_ep_probe's frame) */
	l2buf = t->l2;
	__builtin_memcpy(l2buf, data, XLB_L2_MAX);
#ifdef XLB_HOOK_XDP
	if (bpf_xdp_adjust_tail(ctx, (int)(l2 + XLB_TOOBIG_QUOTE) - (int)p->len))
		return -1;
	if (bpf_xdp_adjust_head(ctx, -(int)hdr))
		return XLB_ACT_DROP;   /* already cut: not the packet it was */
#else
	if (bpf_skb_change_tail(ctx, l2 + XLB_TOOBIG_QUOTE, 0))
		return -1;
	if (bpf_skb_change_head(ctx, hdr, 0))
		return XLB_ACT_DROP;
	if (bpf_skb_pull_data(ctx, l2 + hdr + XLB_TOOBIG_QUOTE))
		return XLB_ACT_DROP;
#endif
	data = ctx_data(ctx);
	end = ctx_data_end(ctx);
	if (data + XLB_L2_MAX > end)
		return XLB_ACT_DROP;
	/* replies' way round: destination <- the source, source <- the destination */
	__builtin_memcpy(data, l2buf + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(data + ETH_ALEN, l2buf, ETH_ALEN);
	__builtin_memcpy(data + 2 * ETH_ALEN, l2buf + 2 * ETH_ALEN, XLB_L2_MAX - 2 * ETH_ALEN);
	/* l2 <= XLB_L2_MAX was checked above, but clang keeps l2 in a stack slot, checks a copy
	 * filled from it and builds ip from another fill (a plain `l2 &= 31` here it drops as
	 * redundant). The 6.1 verifier does not carry the copy's bound back to the slot, knows ip's
	 * offset only as < 2^32 and refuses the writes after the range check ("invalid access to
	 * packet"; docs/datapath.md, "Kernels: what 6.1's verifier refuses"); 6.12's links the two.
	 * xlb_bound_off bounds the register ip is built from. */
	ip = data + xlb_bound_off(l2);
	if (v6) {
		struct ipv6hdr *h = (void *)ip;
		__u32 *w;

		if ((void *)(ip + 48 + XLB_TOOBIG_QUOTE) > end)
			return XLB_ACT_DROP;
		icmp = ip + 40;
		quote = ip + 48;
		w = (__u32 *)h;
		w[0] = bpf_htonl(0x60000000);
		h->payload_len = bpf_htons(8 + XLB_TOOBIG_QUOTE);
		h->nexthdr = IPPROTO_ICMPV6;
		h->hop_limit = XLB_TOOBIG_TTL;
		__builtin_memcpy(&h->saddr, p->key.daddr, 16);
		__builtin_memcpy(&h->daddr, p->key.saddr, 16);
		icmp[0] = ICMPV6_PKT_TOOBIG;
		icmp[1] = 0;
		icmp[2] = icmp[3] = 0;
		*(__be32 *)(icmp + 4) = bpf_htonl(mtu);
		quote_sum = bpf_csum_diff(NULL, 0, (__be32 *)quote, XLB_TOOBIG_QUOTE, 0);
		if (quote_sum < 0)
			return XLB_ACT_DROP;
		/* pseudo-header: addresses, upper-layer length, next header */
		s = csum_words((const __u32 *)&h->saddr, 8, (__u32)quote_sum);
		s = csum_add(s, bpf_htonl(8 + XLB_TOOBIG_QUOTE));
		s = csum_add(s, bpf_htonl(IPPROTO_ICMPV6));
		s = csum_words((const __u32 *)icmp, 2, s);
		*(__u16 *)(icmp + 2) = csum_fold(s);
	} else {
		struct iphdr *h = (void *)ip;

		if ((void *)(ip + 28 + XLB_TOOBIG_QUOTE) > end)
			return XLB_ACT_DROP;
		icmp = ip + 20;
		quote = ip + 28;
		h->version = 4;
		h->ihl = 5;
		h->tos = 0;
		h->tot_len = bpf_htons(28 + XLB_TOOBIG_QUOTE);
		h->id = 0;
		h->frag_off = 0;
		h->ttl = XLB_TOOBIG_TTL;
		h->protocol = IPPROTO_ICMP;
		h->check = 0;
		__builtin_memcpy(&h->saddr, p->key.daddr, 4);
		__builtin_memcpy(&h->daddr, p->key.saddr, 4);
		h->check = csum_fold(csum_words((const __u32 *)h, 5, 0));
		icmp[0] = ICMP_DEST_UNREACH;
		icmp[1] = ICMP_FRAG_NEEDED;
		icmp[2] = icmp[3] = 0;
		icmp[4] = icmp[5] = 0;
		*(__be16 *)(icmp + 6) = bpf_htons((__u16)(mtu > 0xffff ? 0xffff : mtu));
		quote_sum = bpf_csum_diff(NULL, 0, (__be32 *)quote, XLB_TOOBIG_QUOTE, 0);
		if (quote_sum < 0)
			return XLB_ACT_DROP;
		s = csum_words((const __u32 *)icmp, 2, (__u32)quote_sum);
		*(__u16 *)(icmp + 2) = csum_fold(s);
	}
#ifdef XLB_HOOK_XDP
	return XDP_TX;
#else
	return bpf_redirect(ctx->ifindex, 0);
#endif
}

#endif /* XLB_ICMP_H */
