/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Stage 2: connection tracking. Every flow has two entries in xlb_ct (LRU hash): one keyed by
 * the client's tuple (forward) and one keyed by the tuple the backend's replies carry (reply,
 * XLB_CT_F_REPLY). Each entry says how to rewrite the packets it matches (nat_* + xlate) and
 * the other entry's key is always swap(nat tuple). The state is written to both entries by the
 * slow path; an entry whose last_seen is older than its state's timeout counts as absent.
 */
#ifndef XLB_CONNTRACK_H
#define XLB_CONNTRACK_H

#include "parse.h"

#define NSEC_PER_SEC 1000000000ULL
#define XLB_PEER_TOUCH_NS NSEC_PER_SEC

/*
 * The datapath clock: CLOCK_MONOTONIC_COARSE (tick resolution, a few ms; much cheaper than
 * bpf_ktime_get_ns on every packet) plus the config's offset (tests move time forward). With
 * XLB_CFG_F_VIRTUAL_CLOCK the clock is the offset alone: the prog backend's virtual time, which
 * no scheduling delay between its write and the test run can move (a loaded machine otherwise
 * let a real second pass between two packets of a sequence).
 */
static __always_inline __u64 xlb_now(const struct xlb_config *cfg)
{
#ifdef XLB_CUT_CLOCK   /* stage cut: no clock helper call */
	if (1)
		return cfg->clock_offset_ns + 1000000000ULL * 3600;
#endif
	if (cfg->flags & XLB_CFG_F_VIRTUAL_CLOCK)
		return cfg->clock_offset_ns;
	return bpf_ktime_get_coarse_ns() + cfg->clock_offset_ns;
}

/*
 * Alive: last_seen within the state's timeout. A flow adopted mid-stream (XLB_CT_F_MIDSTREAM,
 * cleared by the backend's first packet) gets at most SYN_SENT's timeout until then: one spoofed
 * or stray ACK holds two entries for a minute, not for ESTABLISHED's two hours.
 */
static __always_inline int ct_alive(const struct xlb_config *cfg, const struct xlb_ct_entry *e, __u64 now)
{
	__u32 t = cfg->timeouts_s[e->state & (XLB_NUM_TIMEOUTS - 1)];
	__s64 age = (__s64)(now - e->last_seen_ns);

#ifdef XLB_FAULT_CT_MIDSTREAM_CAP   /* fault: a mid-stream adoption keeps ESTABLISHED's timeout, not SYN_SENT's */
	if (0)
#else
	if ((e->flags & XLB_CT_F_MIDSTREAM) && cfg->timeouts_s[XLB_CT_SYN_SENT] < t)
#endif
		t = cfg->timeouts_s[XLB_CT_SYN_SENT];
#ifdef XLB_FAULT_CT_TIMEOUT_MS   /* fault: timeouts read as milliseconds: every flow expires 1000x too soon */
	return age <= (__s64)((__u64)t * 1000000ULL);
#else
	return age <= (__s64)((__u64)t * NSEC_PER_SEC);
#endif
}

/* The fast path's flows: established, and not the backend's first answer to a mid-stream
 * adoption (the slow path clears XLB_CT_F_MIDSTREAM in both entries). */
static __always_inline int ct_fast_eligible(const struct xlb_ct_entry *e)
{
	if ((e->flags & (XLB_CT_F_MIDSTREAM | XLB_CT_F_REPLY)) == (XLB_CT_F_MIDSTREAM | XLB_CT_F_REPLY))
		return 0;
	return e->state == XLB_CT_ESTABLISHED || e->state == XLB_CT_UDP_ESTABLISHED;
}

/* The key of the other direction's entry: the translated tuple, swapped. */
static __always_inline void ct_peer_key(const struct xlb_ct_entry *e, const struct xlb_ct_key *k,
					struct xlb_ct_key *peer)
{
	__builtin_memcpy(peer->saddr, e->nat_daddr, 16);
	__builtin_memcpy(peer->daddr, e->nat_saddr, 16);
	peer->sport = e->nat_dport;
	peer->dport = e->nat_sport;
	peer->proto = k->proto;
	peer->family = k->family;
	peer->pad[0] = 0;
	peer->pad[1] = 0;
}

static __always_inline int addr16_eq(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/*
 * 1 when peer (found under ct_peer_key(e, k)) is the other half of e's flow: the other direction
 * (REPLY bit differs) and its translated tuple is swap(k). A live entry under that key that is
 * not ours belongs to another flow: it must never be overwritten (issue 11, items 1 and 11).
 */
static __always_inline int ct_is_peer(const struct xlb_ct_entry *peer, const struct xlb_ct_key *k, __u8 e_flags)
{
	return ((peer->flags ^ e_flags) & XLB_CT_F_REPLY) && peer->nat_sport == k->dport &&
	       peer->nat_dport == k->sport && addr16_eq(peer->nat_saddr, k->daddr) &&
	       addr16_eq(peer->nat_daddr, k->saddr);
}

static __always_inline __u8 xlate_swap(__u8 x)
{
	__u8 out = 0;

	if (x & XLB_XL_SADDR)
		out |= XLB_XL_DADDR;
	if (x & XLB_XL_DADDR)
		out |= XLB_XL_SADDR;
	if (x & XLB_XL_SPORT)
		out |= XLB_XL_DPORT;
	if (x & XLB_XL_DPORT)
		out |= XLB_XL_SPORT;
	return out;
}

/*
 * Build the other direction's entry for e (keyed by k): it maps swap(e's nat tuple) back to
 * swap(k). Counters start at zero; state and flags are shared.
 */
static __always_inline void ct_build_peer(const struct xlb_ct_entry *e, const struct xlb_ct_key *k,
					  struct xlb_ct_entry *peer, __u64 now)
{
	__builtin_memset(peer, 0, sizeof(*peer));
	peer->created_ns = e->created_ns;
	peer->last_seen_ns = now;
	__builtin_memcpy(peer->nat_saddr, k->daddr, 16);
	__builtin_memcpy(peer->nat_daddr, k->saddr, 16);
	peer->nat_sport = k->dport;
	peer->nat_dport = k->sport;
	peer->svc_id = e->svc_id;
#ifdef XLB_FAULT_CT_PEER_SLOT   /* fault: a built peer entry names endpoint slot 0, not the flow's */
	peer->ep_slot = 0;
#else
	peer->ep_slot = e->ep_slot;
#endif
	peer->state = e->state;
	peer->flags = (e->flags ^ XLB_CT_F_REPLY) & ~(XLB_CT_F_SEQ_KNOWN | XLB_CT_F_ACK_KNOWN);
#ifdef XLB_FAULT_CT_PEER_XLATE   /* fault: the reply entry rewrites the forward direction's fields */
	peer->xlate = e->xlate;
#else
	peer->xlate = xlate_swap(e->xlate);
#endif
}

/*
 * Set flag bits in e->flags with an atomic OR on the aligned 64-bit word that holds state,
 * flags, xlate, pad and last_ack (flags is its second byte, little-endian; BPF has 64-bit atomic
 * OR without -mcpu=v3), so a concurrent plain write of the flags byte (or of last_ack) by the
 * slow path on another CPU is never undone by this write. Kernel >= 5.12 (BPF_ATOMIC).
 */
_Static_assert(__builtin_offsetof(struct xlb_ct_entry, state) % 8 == 0 &&
		       __builtin_offsetof(struct xlb_ct_entry, flags) == __builtin_offsetof(struct xlb_ct_entry, state) + 1,
	       "state and flags start one aligned 64-bit word");
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ct_flags_or assumes a little-endian target (bpfel)"
#endif
static __always_inline void ct_flags_or(struct xlb_ct_entry *e, __u8 bits)
{
	__sync_fetch_and_or((__u64 *)&e->state, (__u64)bits << 8);
}

/*
 * Count the packet and remember the sender's next sequence number, window and last ACK.
 * Race (issue 11 item 12; the fast path on one CPU, the slow path writing the same entry's
 * flags on another): SEQ_KNOWN / ACK_KNOWN are set here only while clear, which on the fast
 * path happens for a rebuilt or adopted entry (ESTABLISHED with both clear), and then with an
 * atomic OR (ct_flags_or): a FIN flag the slow path writes at the same time survives. The other
 * way round, the slow path's plain read-modify-write of the byte can undo a SEQ_KNOWN /
 * ACK_KNOWN set meanwhile; the sender's next packet sets it again (until then a RST is judged by
 * the unknown-sequence rules). The other fields written here (counters, next_seq, tcp_win,
 * last_ack, last_seen) are plain stores of their own words: concurrent updates may lose a count
 * or keep the older of two values, never a state or a flag.
 */
static __always_inline void ct_account(struct xlb_ct_entry *e, const struct xlb_pkt *p, __u64 now)
{
	e->last_seen_ns = now;
#ifndef XLB_FAULT_CT_PKT_COUNT   /* fault: an entry's packet count is not bumped */
	e->packets++;
#endif
	e->bytes += p->len;
	if (p->key.proto == IPPROTO_TCP) {
		__u32 end = p->seq + p->payload + !!(p->tcp_flags & TCPF_SYN) + !!(p->tcp_flags & TCPF_FIN);

		if (!(e->flags & XLB_CT_F_SEQ_KNOWN)) {
			e->next_seq = end;
			ct_flags_or(e, XLB_CT_F_SEQ_KNOWN);
		} else if ((__s32)(end - e->next_seq) > 0) {
			e->next_seq = end;
		}
		e->tcp_win = p->win;
		if (p->tcp_flags & TCPF_ACK) {
			e->last_ack = p->ack;
			if (!(e->flags & XLB_CT_F_ACK_KNOWN))
				ct_flags_or(e, XLB_CT_F_ACK_KNOWN);
		}
	}
}

/*
 * RST sanity: accepted when its sequence number is within rst_seq_window of the sender's next
 * sequence number. When the sender's sequence is not known yet: a RST+ACK (a backend refusing
 * the SYN) when it acknowledges exactly what the other side sent; a bare RST (no ACK: Linux's
 * answer to a segment of a connection it does not have, seq = that segment's ack, e.g. on a flow
 * adopted mid-stream) when its seq is within rst_seq_window of the other side's last ACK number.
 */
static __always_inline int ct_rst_plausible(const struct xlb_config *cfg, const struct xlb_ct_entry *e,
					    const struct xlb_ct_entry *peer, const struct xlb_pkt *p)
{
	__s32 d;

	if (e->flags & XLB_CT_F_SEQ_KNOWN) {
		d = (__s32)(p->seq - e->next_seq);
	} else if (!(p->tcp_flags & TCPF_ACK)) {
		if (!peer || !(peer->flags & XLB_CT_F_ACK_KNOWN))
			return 0;
		d = (__s32)(p->seq - peer->last_ack);
	} else {
		return peer && (peer->flags & XLB_CT_F_SEQ_KNOWN) && p->ack == peer->next_seq;
	}
	if (d < 0)
		d = -d;
#ifdef XLB_FAULT_CT_RST_WINDOW   /* fault: an out-of-window RST closes the flow */
	return 1;
#else
	return (__u32)d <= cfg->rst_seq_window;
#endif
}

/*
 * The TCP state after packet p in direction e (before ct_account). *fin_flags receives the FIN
 * bits to add. Returns -1 for an implausible RST (the packet is dropped, nothing changes).
 */
static __always_inline int ct_tcp_next(const struct xlb_config *cfg, const struct xlb_ct_entry *e,
				       const struct xlb_ct_entry *peer, const struct xlb_pkt *p,
				       __u8 *fin_flags)
{
	__u8 f = p->tcp_flags, st = e->state;
	int from_client = !(e->flags & XLB_CT_F_REPLY);
	__u8 fins = e->flags & (XLB_CT_F_FIN_CLIENT | XLB_CT_F_FIN_BACKEND);

	*fin_flags = fins;
	if (f & TCPF_RST)
		return ct_rst_plausible(cfg, e, peer, p) ? XLB_CT_CLOSED : -1;
	if ((f & TCPF_SYN) && !(f & TCPF_ACK)) {
#ifdef XLB_FAULT_CT_RESTART   /* fault: a SYN on a TIME_WAIT / CLOSED tuple does not restart the flow */
		if (0) {
#else
		if (from_client && (st == XLB_CT_CLOSED || st == XLB_CT_TIME_WAIT)) {
#endif
			*fin_flags = 0;
			return XLB_CT_SYN_SENT;   /* tuple reused: the flow restarts on its endpoint */
		}
		return st;                        /* retransmit: same endpoint, same state */
	}
	if ((f & TCPF_SYN) && (f & TCPF_ACK))
#ifdef XLB_FAULT_CT_SYNACK   /* fault: SYN-ACK does not move SYN_SENT to SYN_RECV */
		return st;
#else
		return (!from_client && st == XLB_CT_SYN_SENT) ? XLB_CT_SYN_RECV : st;
#endif
	if (e->flags & XLB_CT_F_DSR) {
		/*
		 * DSR: the LB sees the client's half only (the backend answers around it), so the
		 * state follows the client: its ACK after the SYN shows it got the SYN-ACK
		 * (ESTABLISHED); its FIN ends what the LB can see of the flow (TIME_WAIT: its later
		 * ACKs keep the entry alive for TIME_WAIT's timeout, a SYN restarts the tuple).
		 */
		if ((f & TCPF_FIN) && (st == XLB_CT_SYN_SENT || st == XLB_CT_ESTABLISHED)) {
			*fin_flags = fins | XLB_CT_F_FIN_CLIENT;
			return XLB_CT_TIME_WAIT;
		}
		if (!(f & (TCPF_FIN | TCPF_SYN)) && (f & TCPF_ACK) && st == XLB_CT_SYN_SENT)
			return XLB_CT_ESTABLISHED;
		return st;
	}
	if (f & TCPF_FIN) {
		if (st != XLB_CT_SYN_RECV && st != XLB_CT_ESTABLISHED && st != XLB_CT_FIN_WAIT)
			return st;
#ifdef XLB_FAULT_CT_FIN_SIDE   /* fault: the backend's FIN is recorded as the client's */
		fins |= XLB_CT_F_FIN_CLIENT;
#else
		fins |= from_client ? XLB_CT_F_FIN_CLIENT : XLB_CT_F_FIN_BACKEND;
#endif
		*fin_flags = fins;
		if (fins == (XLB_CT_F_FIN_CLIENT | XLB_CT_F_FIN_BACKEND))
			return XLB_CT_CLOSE_WAIT;
		return XLB_CT_FIN_WAIT;
	}
	if (f & TCPF_ACK) {
		if (st == XLB_CT_SYN_RECV && from_client)
			return XLB_CT_ESTABLISHED;
#ifndef XLB_FAULT_CT_TIME_WAIT   /* fault: the last ACK does not move CLOSE_WAIT to TIME_WAIT */
		if (st == XLB_CT_CLOSE_WAIT)
			return XLB_CT_TIME_WAIT;
#endif
	}
	return st;
}

static __always_inline __u8 ct_udp_next(const struct xlb_ct_entry *e)
{
	int reply = e->flags & XLB_CT_F_REPLY;

#ifndef XLB_FAULT_CT_UDP_SEEN   /* fault: a UDP reply does not move UDP_NEW to UDP_SEEN */
	if (reply && e->state == XLB_CT_UDP_NEW)
		return XLB_CT_UDP_SEEN;
#endif
	if (!reply && e->state == XLB_CT_UDP_SEEN)
		return XLB_CT_UDP_ESTABLISHED;
	return e->state;
}

static __always_inline __u8 ct_icmp_next(const struct xlb_ct_entry *e)
{
	return (e->flags & XLB_CT_F_REPLY) ? XLB_CT_ICMP_REPLY : XLB_CT_ICMP_REQUEST;
}

#endif /* XLB_CONNTRACK_H */
