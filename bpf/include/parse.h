/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Stage 1: parse Ethernet, up to two 802.1Q/802.1ad tags, IPv4 (with options) or IPv6 (with up
 * to four hop-by-hop/routing/destination-options headers), then TCP, UDP, ICMP or ICMPv6.
 * Every access is bounds-checked against data_end and against the IP lengths. ICMP errors carry
 * the inner packet's tuple (parsed the same way) so the slow path can translate them.
 */
#ifndef XLB_PARSE_H
#define XLB_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "hook.h"

#define XLB_MAX_L4_OFF 200

/* ICMP types (linux/icmp.h pulls in libc socket headers, unusable for -target bpf) */
#define ICMP_ECHOREPLY        0
#define ICMP_DEST_UNREACH     3
#define ICMP_ECHO             8
#define ICMP_TIME_EXCEEDED    11
#define ICMP_PARAMETERPROB    12
#define ICMPV6_DEST_UNREACH   1
#define ICMPV6_PKT_TOOBIG     2
#define ICMPV6_TIME_EXCEED    3
#define ICMPV6_PARAMPROB      4
#define ICMPV6_ECHO_REQUEST   128
#define ICMPV6_ECHO_REPLY     129

enum xlb_parse {
	PARSE_OK = 0,
	PARSE_NOT_IP = 1,
	PARSE_MALFORMED = 2,
	PARSE_FRAGMENT = 3,
	PARSE_OTHER = 4,      /* IP but nothing xlb balances or tracks (other L4, other ICMP) */
};

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10

/* The parsed packet; lives in a per-CPU scratch map across the tail call. */
struct xlb_pkt {
	struct xlb_ct_key key;      /* tuple as in the packet (ICMP echo normalized) */
	struct xlb_ct_key inner;    /* ICMP error: tuple of the embedded packet, as embedded */
	__u32 l3_off;
	__u32 l4_off;
	__u32 len;                  /* frame length */
	__u32 l4_len;               /* from the IP header: L4 header + payload */
	__u32 seq;                  /* TCP, host order */
	__u32 ack;
	__u32 payload;              /* TCP payload bytes */
	__u32 inner_l3_off;         /* ICMP error */
	__u32 inner_l4_off;
	__u16 win;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_err;              /* 1: ICMP error with a parsed inner packet */
	__u8 vlan;                  /* number of VLAN tags */
	__u8 ct_miss;               /* the fast path found no conntrack entry */
	__u8 ttl;                   /* IPv4 TTL / IPv6 hop limit */
	__u8 frag;                  /* PARSE_FRAGMENT of a tracked protocol: XLB_FRAG_FIRST / _LATER, else 0 */
	__u32 frag_id;              /* identification, host order (IPv4: 16 bits, IPv6 Fragment header: 32) */
};

/* IPv4 / IPv6 fragments of TCP / UDP (docs/datapath.md "Fragments") */
#define XLB_FRAG_FIRST 1            /* offset 0: carries the L4 header (ports read) */
#define XLB_FRAG_LATER 2            /* offset > 0: no L4 header */

static __always_inline int is_icmp_echo(__u8 family, __u8 type, int *request)
{
	if (family == XLB_AF_V4) {
		*request = type == ICMP_ECHO;
		return type == ICMP_ECHO || type == ICMP_ECHOREPLY;
	}
	*request = type == ICMPV6_ECHO_REQUEST;
	return type == ICMPV6_ECHO_REQUEST || type == ICMPV6_ECHO_REPLY;
}

static __always_inline int is_icmp_error(__u8 family, __u8 type)
{
	if (family == XLB_AF_V4)
		return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
	return type == ICMPV6_DEST_UNREACH || type == ICMPV6_PKT_TOOBIG || type == ICMPV6_TIME_EXCEED ||
	       type == ICMPV6_PARAMPROB;
}

/*
 * Ports (or ICMP echo identifier) of the L4 header at off into k; 8 bytes must be readable.
 * A protocol xlb does not track is PARSE_OTHER before any length check: an ICMP error quoting
 * a short packet of another protocol (GRE, SCTP, ...) is not ours and passes.
 */
static __always_inline int parse_l4_ports(void *data, void *end, __u32 off, struct xlb_ct_key *k)
{
	__u8 *l4;
	int request;

	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP &&
	    !(k->proto == IPPROTO_ICMP && k->family == XLB_AF_V4) &&
	    !(k->proto == IPPROTO_ICMPV6 && k->family == XLB_AF_V6))
		return PARSE_OTHER;
	if (off > XLB_MAX_OFF)
		return PARSE_MALFORMED;
	l4 = data + xlb_bound_off(off);
	if ((void *)(l4 + 8) > end)
		return PARSE_MALFORMED;
	if (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP) {
		k->sport = *(__be16 *)l4;
		k->dport = *(__be16 *)(l4 + 2);
		return PARSE_OK;
	}
	if ((k->proto == IPPROTO_ICMP && k->family == XLB_AF_V4) ||
	    (k->proto == IPPROTO_ICMPV6 && k->family == XLB_AF_V6)) {
		if (!is_icmp_echo(k->family, l4[0], &request))
			return PARSE_OTHER;
		if (request) {
#ifdef XLB_FAULT_PARSE_ECHO_ID   /* fault: echo request identifier not read: a client's echo flows share one entry */
			k->sport = 0;
			k->dport = 0;
#else
			k->sport = *(__be16 *)(l4 + 4);
			k->dport = 0;
#endif
		} else {
			k->sport = 0;
			k->dport = *(__be16 *)(l4 + 4);
		}
		return PARSE_OK;
	}
	return PARSE_OTHER;
}

/*
 * IP header at off into k; sets *l4_off, *l4_len and *ttl (TTL / hop limit). Returns PARSE_*.
 * PARSE_FRAGMENT with *frag = XLB_FRAG_FIRST / _LATER and *frag_id: a fragment whose protocol,
 * L4 offset and length are in k / *l4_off / *l4_len (IPv6: those after the Fragment header);
 * *frag = 0: a fragment whose headers were not read (IPv6 Fragment header beyond offset 192).
 * Headers must lie in the directly readable part [data, end); the IP lengths are checked
 * against pkt_len, the whole packet: at TC the payload of a non-linear skb (page frags, as a
 * veth peer's TCP stack sends it with scatter-gather on) lies beyond data_end.
 */
static __always_inline int parse_ip(void *data, void *end, __u32 off, __u16 eth_proto,
				    __u32 pkt_len, struct xlb_ct_key *k, __u32 *l4_off, __u32 *l4_len, __u8 *ttl,
				    __u8 *frag, __u32 *frag_id)
{
	if (off > 64)
		return PARSE_MALFORMED;
	if (eth_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;
		__u32 hlen, tot;

		if ((void *)(ip + 1) > end)
			return PARSE_MALFORMED;
		if (ip->version != 4 || ip->ihl < 5)
			return PARSE_MALFORMED;
		hlen = ip->ihl * 4;
		tot = bpf_ntohs(ip->tot_len);
		if (tot < hlen || data + off + hlen > end)
			return PARSE_MALFORMED;
		if (off + tot > pkt_len)
			return PARSE_MALFORMED;
		k->family = XLB_AF_V4;
		k->proto = ip->protocol;
		*ttl = ip->ttl;
		__builtin_memcpy(k->saddr, &ip->saddr, 4);
		__builtin_memcpy(k->daddr, &ip->daddr, 4);
#ifdef XLB_FAULT_PARSE_IPV4_IHL   /* fault: IPv4 options ignored: L4 read inside the options */
		*l4_off = off + 20;
#else
		*l4_off = off + hlen;
#endif
		*l4_len = tot - hlen;
#ifndef XLB_FAULT_PARSE_FRAGMENT   /* fault: IPv4 fragments taken for whole packets */
		if (ip->frag_off & bpf_htons(0x3fff)) {
			/* which fragment (offset 0: the first) and the datagram's identification */
			*frag = (ip->frag_off & bpf_htons(0x1fff)) ? XLB_FRAG_LATER : XLB_FRAG_FIRST;
			*frag_id = bpf_ntohs(ip->id);
			return PARSE_FRAGMENT;
		}
#endif
		return PARSE_OK;
	}
	if (eth_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;
		__u32 noff, plen, used = 0;
		__u8 nh;
		int i;

		if ((void *)(ip6 + 1) > end)
			return PARSE_MALFORMED;
		if (ip6->version != 6)
			return PARSE_MALFORMED;
		plen = bpf_ntohs(ip6->payload_len);
		if (off + sizeof(*ip6) + plen > pkt_len)
			return PARSE_MALFORMED;
		k->family = XLB_AF_V6;
		*ttl = ip6->hop_limit;
		__builtin_memcpy(k->saddr, &ip6->saddr, 16);
		__builtin_memcpy(k->daddr, &ip6->daddr, 16);
		nh = ip6->nexthdr;
		noff = off + sizeof(*ip6);
#pragma unroll
		for (i = 0; i < 4; i++) {
			__u8 *ext;
			__u32 elen;

			if (nh == IPPROTO_FRAGMENT) {
				/*
				 * A Fragment header ends the walk (its next header is the fragment's
				 * protocol); beyond offset 192 its L4 offset would be beyond 200: a
				 * fragment of no tracked kind.
				 */
				k->proto = nh;
#ifndef XLB_FAULT_PARSE_FRAGMENT6   /* fault: IPv6 Fragment headers not read: every IPv6 fragment passes */
				if (noff > XLB_MAX_L4_OFF - 8)
					return PARSE_FRAGMENT;
				ext = data + noff;
				if ((void *)(ext + 8) > end || used + 8 > plen)
					return PARSE_MALFORMED;
				k->proto = ext[0];
				*l4_off = noff + 8;
				*l4_len = plen - used - 8;
				*frag = (*(__be16 *)(ext + 2) & bpf_htons(0xfff8)) ? XLB_FRAG_LATER : XLB_FRAG_FIRST;
				*frag_id = bpf_ntohl(*(__be32 *)(ext + 4));
#endif
				return PARSE_FRAGMENT;
			}
			if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS)
				break;
			if (noff > XLB_MAX_L4_OFF)
				return PARSE_OTHER;
			ext = data + noff;
			if ((void *)(ext + 2) > end)
				return PARSE_MALFORMED;
			elen = ((__u32)ext[1] + 1) * 8;
			used += elen;
			if (used > plen)
				return PARSE_MALFORMED;
			/*
			 * A routing header with segments left: the destination is a waypoint, not the
			 * final one, and the L4 checksum's pseudo-header holds the final one (RFC 8200
			 * 8.1), so a destination rewrite would need the checksum fixed against another
			 * address. Not balanced: passed (the LB is a transit hop for it).
			 */
			if (nh == IPPROTO_ROUTING) {
				if ((void *)(ext + 4) > end)
					return PARSE_MALFORMED;
				if (ext[3])
					return PARSE_OTHER;
			}
			nh = ext[0];
#ifdef XLB_FAULT_PARSE_V6_EXT_LEN   /* fault: IPv6 extension header length ignored */
			noff += 8;
#else
			noff += elen;
#endif
		}
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS)
			return PARSE_OTHER;
		k->proto = nh;
		*l4_off = noff;
		*l4_len = plen - used;
		return PARSE_OK;
	}
	return PARSE_NOT_IP;
}

static __always_inline int parse_packet(xlb_ctx_t *ctx, struct xlb_pkt *p)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth), l4_off = 0, l4_len = 0, frag_id = 0;
	__u8 frag = 0;
	__u16 proto;
	__u8 *l4;
	int i, rc;

	/* zero what every path reads; the rest is written before it is read (inner: ICMP errors) */
	__builtin_memset(&p->key, 0, sizeof(p->key));
	p->seq = p->ack = p->payload = p->win = 0;
	p->tcp_flags = p->icmp_type = p->icmp_err = p->vlan = p->ct_miss = p->ttl = p->frag = 0;
	p->frag_id = 0;
	p->l3_off = p->l4_off = p->l4_len = p->inner_l3_off = p->inner_l4_off = 0;
	p->len = ctx_len(ctx);
	if (hook_pull_headers(ctx, p->len)) {
		data = ctx_data(ctx);
		end = ctx_data_end(ctx);
		eth = data;
	}
	if ((void *)(eth + 1) > end)
		return PARSE_MALFORMED;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < 2; i++) {
		__be16 *tag;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		tag = data + off;
		if ((void *)(tag + 2) > end)
			return PARSE_MALFORMED;
		proto = tag[1];
#ifndef XLB_FAULT_PARSE_VLAN_TAG   /* fault: a VLAN tag is not skipped: tagged frames are malformed */
		off += 4;
#endif
		p->vlan++;
	}
	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return PARSE_NOT_IP;
	p->l3_off = off;
	rc = parse_ip(data, end, off, proto, p->len, &p->key, &l4_off, &l4_len, &p->ttl, &frag, &frag_id);
	if (rc == PARSE_FRAGMENT && frag && (p->key.proto == IPPROTO_TCP || p->key.proto == IPPROTO_UDP) &&
	    l4_off <= XLB_MAX_L4_OFF) {
		/*
		 * A fragment of TCP / UDP: the slow path translates it when it belongs to a
		 * tracked flow. The first carries the L4 header: its ports (and, for the rewrite, the
		 * header up to the checksum field: UDP 8 bytes, TCP 18) must be in the fragment.
		 */
		p->l4_off = l4_off;
		p->l4_len = l4_len;
		p->frag_id = frag_id;
		if (frag == XLB_FRAG_LATER) {
			p->frag = XLB_FRAG_LATER;
			return PARSE_FRAGMENT;
		}
		l4 = data + l4_off;
		if ((void *)(l4 + 18) <= end && l4_len >= (p->key.proto == IPPROTO_TCP ? 18u : 8u)) {
			p->key.sport = *(__be16 *)l4;
			p->key.dport = *(__be16 *)(l4 + 2);
			p->frag = XLB_FRAG_FIRST;
		} else if ((void *)(l4 + 8) <= end && l4_len >= 8 && p->key.proto == IPPROTO_UDP) {
			p->key.sport = *(__be16 *)l4;
			p->key.dport = *(__be16 *)(l4 + 2);
			p->frag = XLB_FRAG_FIRST;
		}
		return PARSE_FRAGMENT;
	}
	if (rc != PARSE_OK)
		return rc;
	if (l4_off > XLB_MAX_L4_OFF)
		return PARSE_OTHER;
	p->l4_off = l4_off;
	p->l4_len = l4_len;
	l4 = data + l4_off;

	switch (p->key.proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = (void *)l4;
		__u32 doff;

		if ((void *)(th + 1) > end || l4_len < sizeof(*th))
			return PARSE_MALFORMED;
		doff = th->doff * 4;
		if (doff < sizeof(*th) || doff > l4_len)
			return PARSE_MALFORMED;
		p->key.sport = th->source;
		p->key.dport = th->dest;
		p->seq = bpf_ntohl(th->seq);
		p->ack = bpf_ntohl(th->ack_seq);
		p->win = bpf_ntohs(th->window);
		p->tcp_flags = ((__u8 *)th)[13];
		p->payload = l4_len - doff;
		return PARSE_OK;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = (void *)l4;
		__u32 ulen;

		if ((void *)(uh + 1) > end || l4_len < sizeof(*uh))
			return PARSE_MALFORMED;
		ulen = bpf_ntohs(uh->len);
		if (ulen < sizeof(*uh) || ulen > l4_len)
			return PARSE_MALFORMED;
		p->key.sport = uh->source;
		p->key.dport = uh->dest;
		return PARSE_OK;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u32 ioff, il4_off = 0;

		if ((p->key.proto == IPPROTO_ICMP) != (p->key.family == XLB_AF_V4))
			return PARSE_OTHER;
		if ((void *)(l4 + 8) > end || l4_len < 8)
			return PARSE_MALFORMED;
		p->icmp_type = l4[0];
		if (!is_icmp_error(p->key.family, l4[0]))
			return parse_l4_ports(data, end, l4_off, &p->key);
		/* an error: the embedded packet starts after the 8-byte ICMP header */
		ioff = l4_off + 8;
		if (ioff > XLB_MAX_L4_OFF)
			return PARSE_OTHER;
		__builtin_memset(&p->inner, 0, sizeof(p->inner));
		{
			/* the embedded header is usually truncated: only its own header + 8 bytes */
			void *ip = data + ioff;

			if (p->key.family == XLB_AF_V4) {
				struct iphdr *iph = ip;

				if ((void *)(iph + 1) > end || iph->version != 4 || iph->ihl < 5)
					return PARSE_MALFORMED;
				p->inner.family = XLB_AF_V4;
				p->inner.proto = iph->protocol;
				__builtin_memcpy(p->inner.saddr, &iph->saddr, 4);
				__builtin_memcpy(p->inner.daddr, &iph->daddr, 4);
				il4_off = ioff + iph->ihl * 4;
			} else {
				struct ipv6hdr *ip6 = ip;

				if ((void *)(ip6 + 1) > end || ip6->version != 6)
					return PARSE_MALFORMED;
				p->inner.family = XLB_AF_V6;
				p->inner.proto = ip6->nexthdr;
				__builtin_memcpy(p->inner.saddr, &ip6->saddr, 16);
				__builtin_memcpy(p->inner.daddr, &ip6->daddr, 16);
				il4_off = ioff + sizeof(*ip6);
			}
		}
		rc = parse_l4_ports(data, end, il4_off, &p->inner);
		if (rc != PARSE_OK)
			return rc;
		p->inner_l3_off = ioff;
		p->inner_l4_off = il4_off;
		p->icmp_err = 1;
		return PARSE_OK;
	}
	default:
		return PARSE_OTHER;
	}
}

#endif /* XLB_PARSE_H */
