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
#include "fwd.h"

/* Offset of the L4 checksum (TCP, UDP, ICMP, ICMPv6), 0 for anything else. */
static __always_inline __u32 l4_csum_off(const struct xlb_ct_key *k, __u32 l4_off)
{
	switch (k->proto) {
	case IPPROTO_TCP:
		return l4_off + 16;
	case IPPROTO_UDP:
		return l4_off + 6;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return l4_off + 2;
	default:
		return 0;
	}
}

/*
 * Write 4 or 16 bytes of address at off and return the checksum difference. new_addr is a
 * schema address field (4-byte aligned in every struct): said explicitly, so the compiler
 * copies words instead of single bytes.
 */
static __always_inline int nat_write_addr(xlb_ctx_t *ctx, __u32 off, __u8 family, const __u8 *new_addr,
					  __u32 *diff)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);

	new_addr = __builtin_assume_aligned(new_addr, 4);

	if (off > XLB_MAX_OFF)
		return -1;
	if (family == XLB_AF_V4) {
		__u32 *a = data + xlb_bound_off(off);
		__u32 n;

		if ((void *)(a + 1) > end)
			return -1;
		__builtin_memcpy(&n, new_addr, 4);
		*diff = csum_diff_u32(*a, n, *diff);
		*a = n;
		return 0;
	} else {
		__u16 *a = data + xlb_bound_off(off);
		__u16 n[8];
		int i;

		if ((void *)(a + 8) > end)
			return -1;
		__builtin_memcpy(n, new_addr, 16);
#pragma unroll
#ifdef XLB_FAULT_NAT_V6_ADDR   /* fault: only the first 8 bytes of an IPv6 address are rewritten */
		for (i = 0; i < 4; i++) {
			*diff = csum_diff_word(a[i], n[i], *diff);
#else
		for (i = 0; i < 8; i++) {
			*diff = csum_diff_word(a[i], n[i], *diff);
#endif
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
	pp = data + xlb_bound_off(off);
	if ((void *)(pp + 1) > end)
		return -1;
	*diff = csum_diff_word(*pp, port, *diff);
	*pp = port;
	return 0;
}

/* Offsets of the source/destination address in the IP header at l3. */
static __always_inline __u32 saddr_off(__u8 family, __u32 l3) { return l3 + (family == XLB_AF_V4 ? 12 : 8); }
static __always_inline __u32 daddr_off(__u8 family, __u32 l3) { return l3 + (family == XLB_AF_V4 ? 16 : 24); }

/*
 * Apply e's translation to the packet, and with dec_ttl the TTL / hop limit decrement of a
 * packet the LB forwards itself. Returns 0, or -1 when the packet cannot be rewritten.
 * ICMP echo: the identifier plays the port (request: source side, reply: destination side),
 * so SPORT/DPORT rewrite the identifier (full NAT gives each flow its own identifier).
 */
static __always_inline int nat_rewrite(xlb_ctx_t *ctx, const struct xlb_pkt *p, const struct xlb_ct_entry *e,
				       int dec_ttl)
{
	__u8 xl = e->xlate, fam = p->key.family;
	__u32 adiff = 0, pdiff = 0, tdiff = 0, csum_off;
	int udp = p->key.proto == IPPROTO_UDP;

	/* the TTL word's difference joins the addresses' in one header checksum update */
	if (dec_ttl && fwd_dec_ttl_write(ctx, p, &tdiff))
		return -1;
	/* IPv6: the hop limit has no header checksum to absorb it: skb->csum follows (TC) */
	if (fam == XLB_AF_V6 && dec_ttl)
		hook_rcsum_add(ctx, tdiff);
	if (!xl)
		return fam == XLB_AF_V4 && dec_ttl ? hook_l3_csum(ctx, p->l3_off + 10, tdiff) : 0;
	if ((xl & XLB_XL_SADDR) && nat_write_addr(ctx, saddr_off(fam, p->l3_off), fam, e->nat_saddr, &adiff))
		return -1;
	if ((xl & XLB_XL_DADDR) && nat_write_addr(ctx, daddr_off(fam, p->l3_off), fam, e->nat_daddr, &adiff))
		return -1;
	if (p->key.proto == IPPROTO_TCP || udp) {
		if ((xl & XLB_XL_SPORT) && nat_write_port(ctx, p->l4_off, e->nat_sport, &pdiff))
			return -1;
#ifdef XLB_FAULT_NAT_DPORT   /* fault: the destination port is not rewritten */
		if (0)
#else
		if ((xl & XLB_XL_DPORT) && nat_write_port(ctx, p->l4_off + 2, e->nat_dport, &pdiff))
#endif
			return -1;
	} else if (xl & (XLB_XL_SPORT | XLB_XL_DPORT)) {
		/* ICMP echo identifier (only echo packets are tracked) */
#ifdef XLB_FAULT_NAT_ECHO_ID   /* fault: the ICMP echo identifier is not rewritten under full NAT */
		if (0)
#else
		if (nat_write_port(ctx, p->l4_off + 4, (xl & XLB_XL_SPORT) ? e->nat_sport : e->nat_dport, &pdiff))
#endif
			return -1;
	}
	if (fam == XLB_AF_V4 && ((xl & (XLB_XL_SADDR | XLB_XL_DADDR)) || dec_ttl) &&
#ifdef XLB_FAULT_NAT_L3_CSUM   /* fault: the IPv4 header checksum misses the address change */
	    hook_l3_csum(ctx, p->l3_off + 10, tdiff))
#else
	    hook_l3_csum(ctx, p->l3_off + 10, csum_add(adiff, tdiff)))
#endif
		return -1;
	/*
	 * A later fragment has no L4 header (its checksum is in the first fragment). IPv6 has no
	 * header checksum either: nothing absorbs the address change, so skb->csum takes it (TC).
	 */
	if (p->frag == XLB_FRAG_LATER) {
		if (fam == XLB_AF_V6)
			hook_rcsum_add(ctx, adiff);
		return 0;
	}
	csum_off = l4_csum_off(&p->key, p->l4_off);
	if (!csum_off)
		return 0;
	/* addresses are in the pseudo-header of TCP, UDP and ICMPv6, not of ICMP */
#ifndef XLB_FAULT_NAT_L4_PSEUDO   /* deliberate fault (harness self-test): pseudo-header not updated */
#ifdef XLB_FAULT_NAT_UDP_ZERO   /* fault: a zero (absent) UDP checksum is rewritten into a wrong one */
	if (adiff && p->key.proto != IPPROTO_ICMP && hook_l4_csum(ctx, csum_off, adiff, 1, 0, fam == XLB_AF_V6))
#else
	if (adiff && p->key.proto != IPPROTO_ICMP && hook_l4_csum(ctx, csum_off, adiff, 1, udp, fam == XLB_AF_V6))
#endif
		return -1;
#endif
#ifdef XLB_FAULT_NAT_PORT_CSUM   /* fault: the L4 checksum misses the port change */
	if (0)
#else
	if (pdiff && hook_l4_csum(ctx, csum_off, pdiff, 0, udp, 0))
#endif
		return -1;
	return 0;
}

/*
 * Update a checksum field at off inside the ICMP payload (embedded headers) by hand at both
 * hooks: the helpers only know the outer headers. udp: 0 means "none" and stays 0. Adds the
 * field's own change to *outer (the ICMP checksum covers it). A field beyond the quoted bytes
 * (the quote was cut short) is left alone. Returns 0 or -1.
 */
static __always_inline int nat_inner_csum(xlb_ctx_t *ctx, __u32 off, __u32 diff, int udp, __u32 *outer)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	__u16 *ic, old, nw;

	if (off > XLB_MAX_OFF)
		return 0;
	ic = data + xlb_bound_off(off);
	if ((void *)(ic + 1) > end)
		return 0;
	old = *ic;
	if (udp && old == 0)
		return 0;
	nw = csum_fold(csum_add(diff, (__u16)~old));
	if (udp && nw == 0)
		nw = 0xffff;
	*ic = nw;
	*outer = csum_diff_word(old, nw, *outer);
	return 0;
}

/*
 * Translate an ICMP error about a tracked flow. The embedded packet went A -> B; e is the entry
 * keyed B -> A (ek), whose packets travel the way the error does. The error's destination A
 * becomes e->nat_daddr, its source becomes e->nat_saddr when it was B (the peer itself
 * reported), and the embedded packet becomes nat_daddr -> nat_saddr (ports, or the echo
 * identifier, likewise), so the receiver sees the error about the packet it really sent.
 * Updated: the outer IPv4 header checksum, the embedded IPv4 header checksum, the embedded L4
 * checksum when the quote includes it (TCP's sits at byte 16, beyond the 8 bytes RFC 792
 * requires, so it is often cut off; UDP's and ICMP's are always quoted), and the ICMP checksum.
 */
static __always_inline int nat_icmp_error(xlb_ctx_t *ctx, const struct xlb_pkt *p, const struct xlb_ct_entry *e,
					  const struct xlb_ct_key *ek, __u8 *new_saddr)
{
	__u8 fam = p->key.family, xl = e->xlate, iproto = p->inner.proto;
	__u32 odiff = 0, iadiff = 0, ipdiff = 0, xdiff = 0, l3 = p->l3_off, il3 = p->inner_l3_off;
	__u32 il4 = p->inner_l4_off, icsum;
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
#ifdef XLB_FAULT_NAT_ICMP_INNER   /* fault: an ICMP error's embedded source address is not translated */
	if (0)
#else
	if ((xl & XLB_XL_DADDR) && nat_write_addr(ctx, saddr_off(fam, il3), fam, e->nat_daddr, &iadiff))
#endif
		return -1;
	if ((xl & XLB_XL_SADDR) && nat_write_addr(ctx, daddr_off(fam, il3), fam, e->nat_saddr, &iadiff))
		return -1;
	if (iproto == IPPROTO_TCP || iproto == IPPROTO_UDP) {
		if ((xl & XLB_XL_DPORT) && nat_write_port(ctx, il4, e->nat_dport, &ipdiff))
			return -1;
		if ((xl & XLB_XL_SPORT) && nat_write_port(ctx, il4 + 2, e->nat_sport, &ipdiff))
			return -1;
	} else if (xl & (XLB_XL_SPORT | XLB_XL_DPORT)) {
		/* embedded ICMP echo (full NAT): the identifier plays the source port of a request
		 * and the destination port of a reply */
		void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
		__u8 *type;
		int request;

		if (il4 > XLB_MAX_OFF)
			return -1;
		type = data + xlb_bound_off(il4);
		if ((void *)(type + 1) > end)
			return -1;
		is_icmp_echo(p->inner.family, *type, &request);

		if (request && (xl & XLB_XL_DPORT) && nat_write_port(ctx, il4 + 4, e->nat_dport, &ipdiff))
			return -1;
		if (!request && (xl & XLB_XL_SPORT) && nat_write_port(ctx, il4 + 4, e->nat_sport, &ipdiff))
			return -1;
	}
	if (fam == XLB_AF_V4 && iadiff) {
		/* the embedded IPv4 header checksum is ICMP payload, as is everything below */
		if (il3 + 10 > XLB_MAX_OFF)
			return -1;
		nat_inner_csum(ctx, il3 + 10, iadiff, 0, &xdiff);
	}
	/* the embedded L4 checksum: its ports/identifier, and the addresses when they are in its
	 * pseudo-header (TCP, UDP, ICMPv6; not ICMP) */
	icsum = l4_csum_off(&p->inner, il4);
	if (icsum && (iadiff || ipdiff))
		nat_inner_csum(ctx, icsum, iproto == IPPROTO_ICMP ? ipdiff : csum_add(iadiff, ipdiff),
			       iproto == IPPROTO_UDP, &xdiff);
	if (fam == XLB_AF_V4 && odiff && hook_l3_csum(ctx, l3 + 10, odiff))
		return -1;
#ifdef XLB_FAULT_NAT_ICMP_CSUM   /* fault: a translated ICMP error's checksum is not updated */
	if (0)
#else
	if (hook_l4_csum(ctx, p->l4_off + 2, csum_add(csum_add(iadiff, ipdiff), xdiff), 0, 0, 0))
#endif
		return -1;
	if (fam == XLB_AF_V6 && odiff && hook_l4_csum(ctx, p->l4_off + 2, odiff, 1, 0, 1))
		return -1;
	return 0;
}

#endif /* XLB_NAT_H */
