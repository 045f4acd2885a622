/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Stage 4: NAT. Rewrites the fields a conntrack entry names (xlate) and updates the IPv4 header
 * checksum and the L4 checksum incrementally: addresses are pseudo-header fields (TCP, UDP,
 * ICMPv6), ports are not. All direct writes happen first, then the checksum calls (at TC the
 * helpers invalidate packet pointers).
 */
#ifndef XLB_NAT_H
#define XLB_NAT_H

#include "csum.h"
#include "parse.h"

/* Offset of the L4 checksum, 0 when the protocol has none that NAT must touch. */
static __always_inline __u32 l4_csum_off(const struct xlb_ct_key *k, __u32 l4_off)
{
	switch (k->proto) {
	case IPPROTO_TCP:
		return l4_off + 16;
	case IPPROTO_UDP:
		return l4_off + 6;
	case IPPROTO_ICMPV6:
		return l4_off + 2;
	default:
		return 0;
	}
}

/* Write 4 or 16 bytes of address at off and return the checksum difference. */
static __always_inline int nat_write_addr(xlb_ctx_t *ctx, __u32 off, __u8 family, const __u8 *new_addr,
					  __u32 *diff)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);

	if (off > XLB_MAX_OFF)
		return -1;
	if (family == XLB_AF_V4) {
		__u32 *a = data + off;
		__u32 n;

		if ((void *)(a + 1) > end)
			return -1;
		__builtin_memcpy(&n, new_addr, 4);
		*diff = csum_diff_u32(*a, n, *diff);
		*a = n;
		return 0;
	} else {
		__u16 *a = data + off;
		__u16 n[8];
		int i;

		if ((void *)(a + 8) > end)
			return -1;
		__builtin_memcpy(n, new_addr, 16);
#pragma unroll
		for (i = 0; i < 8; i++) {
			*diff = csum_diff_word(a[i], n[i], *diff);
			a[i] = n[i];
		}
		return 0;
	}
}

static __always_inline int nat_write_port(xlb_ctx_t *ctx, __u32 off, __be16 port, __u32 *diff)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	__u16 *pp;

	if (off > XLB_MAX_OFF)
		return -1;
	pp = data + off;
	if ((void *)(pp + 1) > end)
		return -1;
	*diff = csum_diff_word(*pp, port, *diff);
	*pp = port;
	return 0;
}

/* Offsets of the source/destination address in the IP header at l3. */
static __always_inline __u32 saddr_off(__u8 family, __u32 l3) { return l3 + (family == XLB_AF_V4 ? 12 : 8); }
static __always_inline __u32 daddr_off(__u8 family, __u32 l3) { return l3 + (family == XLB_AF_V4 ? 16 : 24); }

/* Apply e's translation to the packet. Returns 0, or -1 when the packet cannot be rewritten. */
static __always_inline int nat_rewrite(xlb_ctx_t *ctx, const struct xlb_pkt *p, const struct xlb_ct_entry *e)
{
	__u8 xl = e->xlate, fam = p->key.family;
	__u32 adiff = 0, pdiff = 0, csum_off;
	int udp = p->key.proto == IPPROTO_UDP;

	if (!xl)
		return 0;
	if ((xl & XLB_XL_SADDR) && nat_write_addr(ctx, saddr_off(fam, p->l3_off), fam, e->nat_saddr, &adiff))
		return -1;
	if ((xl & XLB_XL_DADDR) && nat_write_addr(ctx, daddr_off(fam, p->l3_off), fam, e->nat_daddr, &adiff))
		return -1;
	if (p->key.proto == IPPROTO_TCP || udp) {
		if ((xl & XLB_XL_SPORT) && nat_write_port(ctx, p->l4_off, e->nat_sport, &pdiff))
			return -1;
		if ((xl & XLB_XL_DPORT) && nat_write_port(ctx, p->l4_off + 2, e->nat_dport, &pdiff))
			return -1;
	}
	if (fam == XLB_AF_V4 && (xl & (XLB_XL_SADDR | XLB_XL_DADDR)) && hook_l3_csum(ctx, p->l3_off + 10, adiff))
		return -1;
	csum_off = l4_csum_off(&p->key, p->l4_off);
	if (!csum_off)
		return 0;
	if (adiff && hook_l4_csum(ctx, csum_off, adiff, 1, udp))
		return -1;
	if (pdiff && hook_l4_csum(ctx, csum_off, pdiff, 0, udp))
		return -1;
	return 0;
}

/*
 * Translate an ICMP error about a tracked flow. The embedded packet went A -> B; e is the entry
 * keyed B -> A (ek), whose packets travel the way the error does. The error's destination A
 * becomes e->nat_daddr, its source becomes e->nat_saddr when it was B (the peer itself
 * reported), and the embedded packet becomes nat_daddr -> nat_saddr (ports likewise), so the
 * receiver sees the error about the packet it really sent. Embedded IPv4 header checksum and
 * the ICMP checksum are updated; an embedded L4 checksum is left alone (it is usually cut off).
 */
static __always_inline int nat_icmp_error(xlb_ctx_t *ctx, const struct xlb_pkt *p, const struct xlb_ct_entry *e,
					  const struct xlb_ct_key *ek, __u8 *new_saddr)
{
	__u8 fam = p->key.family, xl = e->xlate;
	__u32 odiff = 0, iadiff = 0, ipdiff = 0, l3 = p->l3_off, il3 = p->inner_l3_off;
	int differs = 0, i;

	__builtin_memcpy(new_saddr, p->key.saddr, 16);
#pragma unroll
	for (i = 0; i < 16; i++)
		differs |= p->key.saddr[i] ^ ek->saddr[i];

	/* outer addresses */
	if ((xl & XLB_XL_DADDR) && nat_write_addr(ctx, daddr_off(fam, l3), fam, e->nat_daddr, &odiff))
		return -1;
	if ((xl & XLB_XL_SADDR) && !differs) {
		if (nat_write_addr(ctx, saddr_off(fam, l3), fam, e->nat_saddr, &odiff))
			return -1;
		__builtin_memcpy(new_saddr, e->nat_saddr, 16);
	}
	/* embedded packet: source <- nat_daddr, destination <- nat_saddr */
	if ((xl & XLB_XL_DADDR) && nat_write_addr(ctx, saddr_off(fam, il3), fam, e->nat_daddr, &iadiff))
		return -1;
	if ((xl & XLB_XL_SADDR) && nat_write_addr(ctx, daddr_off(fam, il3), fam, e->nat_saddr, &iadiff))
		return -1;
	if (p->inner.proto == IPPROTO_TCP || p->inner.proto == IPPROTO_UDP) {
		if ((xl & XLB_XL_DPORT) && nat_write_port(ctx, p->inner_l4_off, e->nat_dport, &ipdiff))
			return -1;
		if ((xl & XLB_XL_SPORT) && nat_write_port(ctx, p->inner_l4_off + 2, e->nat_sport, &ipdiff))
			return -1;
	}
	if (fam == XLB_AF_V4 && iadiff) {
		/* the embedded IPv4 header checksum is ICMP payload: updated by hand at both hooks */
		void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
		__u32 off = il3 + 10;
		__u16 *ic, old, nw;

		if (off > XLB_MAX_OFF)
			return -1;
		ic = data + off;
		if ((void *)(ic + 1) > end)
			return -1;
		old = *ic;
		nw = csum_fold(csum_add(iadiff, (__u16)~old));
		*ic = nw;
		ipdiff = csum_diff_word(old, nw, ipdiff);
	}
	if (fam == XLB_AF_V4 && odiff && hook_l3_csum(ctx, l3 + 10, odiff))
		return -1;
	if (hook_l4_csum(ctx, p->l4_off + 2, csum_add(iadiff, ipdiff), 0, 0))
		return -1;
	if (fam == XLB_AF_V6 && odiff && hook_l4_csum(ctx, p->l4_off + 2, odiff, 1, 0))
		return -1;
	return 0;
}

#endif /* XLB_NAT_H */
