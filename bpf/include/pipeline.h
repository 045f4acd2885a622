/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pipeline, compiled once per hook by the entry files:
 *
 *   fast path (entry program): parse -> conntrack lookup -> established flow without
 *     SYN/FIN/RST: account, police, rewrite, forward. Anything else: tail call.
 *   slow path (xlb_progs[0]): ICMP errors; tracked flows changing state; service lookup,
 *     policer, endpoint selection, conntrack create (both directions), NAT, forward.
 *
 * The parsed packet crosses the tail call in a per-CPU scratch map (a tail call keeps the CPU).
 * Every packet ends in finish(): one xlb_reasons counter, optional trace event.
 */
#ifndef XLB_PIPELINE_H
#define XLB_PIPELINE_H

#include "parse.h"
#include "conntrack.h"
#include "select.h"
#include "nat.h"
#include "fwd.h"
#include "policer.h"
#include "flood.h"
#include "stats.h"
#include "trace.h"

/* Per-CPU working memory (not pinned, not part of the schema). */
struct xlb_scratch {
	struct xlb_pkt pkt;
	struct xlb_ct_entry fwd;
	struct xlb_ct_entry rev;
	struct xlb_ct_key rkey;
	struct xlb_ct_key pkey;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_scratch);
} xlb_scratch SEC(".maps");

#define XLB_SLOW_PATH 0

/* Conntrack entries of a flow as the slow path creates, finds and ends them (needs xlb_scratch). */
#include "ct_flow.h"

static __always_inline int finish(xlb_ctx_t *ctx, const struct xlb_config *cfg, const struct xlb_pkt *p,
				  const struct xlb_verdict *v, int act, __u32 reason, __u64 now)
{
	stats_reason(reason, p->len);
	trace_emit(ctx, cfg, p, v, act, reason, now);
	return act;
}

/* Rewrite with e and forward (nh: the endpoint's next-hop cache, may be NULL); counts the
 * forwarding result. */
static __always_inline int xlate_and_forward(xlb_ctx_t *ctx, const struct xlb_config *cfg, const struct xlb_pkt *p,
					     struct xlb_ct_entry *e, struct xlb_nh *nh, __u64 now, __u32 *reason)
{
	__u32 res = XLB_FWD_PASS_FIB;
	struct xlb_hop hop;
	int fwd, act = XLB_ACT_PASS;

	/* where it goes first: a packet the LB forwards itself has its TTL decremented in the
	 * same rewrite (one IPv4 header checksum update) */
	fwd = fwd_resolve(ctx, cfg, p, e->nat_saddr, e->nat_daddr, e, nh, now, &hop, &res);
	if (fwd == XLB_RESOLVE_TOO_BIG) {
		/* the client gets ICMP too-big about its own packet (icmp.h); untouched when it
		 * cannot be built: to the stack as before */
		act = icmp_too_big(ctx, p, hop.mtu);
		if (act >= 0) {
			stats_fwd(XLB_FWD_TOO_BIG, p->len);
			return act;
		}
		fwd = XLB_RESOLVE_STACK;
		res = XLB_FWD_PASS_FIB;
	}
#ifdef XLB_CUT_FWD   /* stage cut: no forwarding (resolved, not rewritten, not sent) */
	return XLB_ACT_PASS;
#endif
#ifdef XLB_CUT_NAT   /* stage cut: no rewrite */
	if (0) {
#else
	if (nat_rewrite(ctx, p, e, fwd)) {
#endif
		*reason = XLB_R_DROP_MALFORMED;
		return XLB_ACT_DROP;
	}
	if (fwd)
		act = fwd_send(ctx, &hop, &res);
	stats_fwd(res, p->len);
	return act;
}

static __always_inline int xlb_fast(xlb_ctx_t *ctx)
{
	struct xlb_verdict v = { .svc_id = 0, .ep_slot = XLB_NO_SLOT };
	struct xlb_scratch *s;
	struct xlb_config *cfg;
	struct xlb_ct_entry *e;
	struct xlb_pkt *p;
	__u32 zero = 0, reason;
	__u64 now = 0;
	int rc, act;

	cfg = bpf_map_lookup_elem(&xlb_config, &zero);
	s = bpf_map_lookup_elem(&xlb_scratch, &zero);
	if (!cfg || !s)
		return XLB_ACT_PASS;
	p = &s->pkt;
	rc = parse_packet(ctx, p);
#ifdef XLB_CUT_AFTER_PARSE   /* stage cut (bench/datapath/stages.sh): parse only */
	return XLB_ACT_PASS;
#endif
	switch (rc) {
	case PARSE_OK:
		break;
	case PARSE_NOT_IP:
		return finish(ctx, cfg, p, &v, XLB_ACT_PASS, XLB_R_PASS_NOT_IP, now);
	case PARSE_FRAGMENT:
		/* a TCP / UDP fragment the LB could forward: the slow path looks for its flow */
		if (p->frag && p->ttl > 1)
			goto slow;
		return finish(ctx, cfg, p, &v, XLB_ACT_PASS, XLB_R_PASS_FRAGMENT, now);
	case PARSE_OTHER:
		return finish(ctx, cfg, p, &v, XLB_ACT_PASS, XLB_R_PASS_NO_SERVICE, now);
	default:
		return finish(ctx, cfg, p, &v, XLB_ACT_DROP, XLB_R_DROP_MALFORMED, now);
	}
	/* the LB is a routing hop for what it forwards: a packet it could not forward with a
	 * decremented TTL goes to the stack untouched, which answers time-exceeded */
#ifdef XLB_FAULT_PIPE_TTL_LIMIT   /* fault: a TTL 1 packet is forwarded instead of passed to the stack */
	if (p->ttl < 1)
#else
	if (p->ttl <= 1)
#endif
		return finish(ctx, cfg, p, &v, XLB_ACT_PASS, XLB_R_PASS_TTL, now);
	if (p->icmp_err)
		goto slow;
	e = bpf_map_lookup_elem(&xlb_ct, &p->key);
#ifdef XLB_CUT_AFTER_CT   /* stage cut: parse + conntrack lookup */
	if (e || !e)
		return e ? XLB_ACT_PASS : XLB_ACT_DROP;
#endif
	if (!e) {
		p->ct_miss = 1;
		goto slow;
	}
#ifdef XLB_FAULT_PIPE_FAST_FIN   /* fault: the fast path takes FINs: a close does not change the state */
	if (!ct_fast_eligible(e) || (p->tcp_flags & (TCPF_SYN | TCPF_RST)))
#else
	if (!ct_fast_eligible(e) || (p->tcp_flags & (TCPF_SYN | TCPF_FIN | TCPF_RST)))
#endif
		goto slow;
	now = xlb_now(cfg);
	if (!ct_alive(cfg, e, now))
		goto slow;

	/*
	 * Once a second the peer entry is checked and its last_seen refreshed (a one-way stream
	 * keeps both directions alive). A peer that is missing (LRU eviction) or held by another
	 * flow sends the packet to the slow path, which rebuilds it or ends this half
	 * (slow_tracked, ct_peer_get).
	 */
	if (now - e->peer_touch_ns > XLB_PEER_TOUCH_NS && !(e->flags & XLB_CT_F_DSR)) {
		struct xlb_ct_entry *peer;

		ct_peer_key(e, &p->key, &s->pkey);
		peer = bpf_map_lookup_elem(&xlb_ct, &s->pkey);
		if (!peer || !ct_is_peer(peer, &p->key, e->flags))
			goto slow;
#ifdef XLB_FAULT_PIPE_PEER_REFRESH   /* fault: the fast path does not refresh the peer's last_seen: a one-way stream's other side expires */
		e->peer_touch_ns = now;
#else
		peer->last_seen_ns = now;
		e->peer_touch_ns = now;
#endif
	}

	v.svc_id = e->svc_id;
	v.ep_slot = e->ep_slot;
	v.ct_old = v.ct_new = e->state;
#ifndef XLB_CUT_POLICER   /* stage cut: no policer */
	if (!(e->flags & XLB_CT_F_REPLY) && !policer_admit(e->svc_id, now)) {
		stats_service(e->svc_id, XLB_NO_SLOT, p->len, 0, 1);
		return finish(ctx, cfg, p, &v, XLB_ACT_DROP, XLB_R_DROP_POLICED, now);
	}
#endif
	ct_account(e, p, now);
	stats_service(e->svc_id, e->ep_slot, p->len, 0, 0);
	reason = XLB_R_FAST_PATH;
	act = xlate_and_forward(ctx, cfg, p, e, NULL, now, &reason);
	return finish(ctx, cfg, p, &v, act, reason, now);

slow:
	bpf_tail_call(ctx, &xlb_progs, XLB_SLOW_PATH);
	return finish(ctx, cfg, p, &v, XLB_ACT_PASS, XLB_R_PASS_TAILCALL, now);
}

/*
 * IPv4 / IPv6 fragments of tracked flows (docs/datapath.md "Fragments"; issue 11 item 9, Cilium's way
 * rather than Katran's drop, since a backend's fragmented reply must reach the client from the
 * VIP). Fragments are not reassembled and never create a flow. The first fragment (ports in
 * it) of a live flow records its datagram (source, destination, identification, protocol) ->
 * ports here and is translated like a packet of the flow (addresses, ports, L4 checksum: the
 * field is in the first fragment); a later fragment finds its ports here and gets the address
 * translation only (it has no L4 header; the IPv4 header checksum follows, IPv6 has none). A
 * later fragment without a record (reordered before its first) passes: see the spec. Records older than
 * XLB_FRAG_TIMEOUT_NS are ignored (the identification is reused), the LRU drops old ones.
 */
#define XLB_FRAG_TIMEOUT_NS (30 * NSEC_PER_SEC)

struct xlb_frag_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 id;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

struct xlb_frag_val {
	__u64 ns;
	__be16 sport;
	__be16 dport;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct xlb_frag_key);
	__type(value, struct xlb_frag_val);
} xlb_frags SEC(".maps");

static __always_inline int slow_fragment(xlb_ctx_t *ctx, const struct xlb_config *cfg, struct xlb_scratch *s,
					 struct xlb_verdict *v, __u64 now)
{
	struct xlb_pkt *p = &s->pkt;
	/* key and value live in scratch memory (the slow path's stack is near the 512-byte limit) */
	struct xlb_frag_key *fk = (struct xlb_frag_key *)&s->pkey;
	struct xlb_frag_val *fv = (struct xlb_frag_val *)&s->rkey, *rec;
	struct xlb_ct_entry *e;
	__u32 reason = XLB_R_TRACKED;
	int act;

	_Static_assert(sizeof(struct xlb_frag_key) == sizeof(struct xlb_ct_key), "the fragment key borrows pkey");
	_Static_assert(sizeof(struct xlb_frag_val) <= sizeof(struct xlb_ct_key), "the fragment value borrows rkey");
	__builtin_memcpy(fk->saddr, p->key.saddr, 16);
	__builtin_memcpy(fk->daddr, p->key.daddr, 16);
	fk->id = p->frag_id;
	fk->proto = p->key.proto;
	fk->family = p->key.family;
	fk->pad[0] = fk->pad[1] = 0;
	if (p->frag == XLB_FRAG_LATER) {
		rec = bpf_map_lookup_elem(&xlb_frags, fk);
		if (!rec || now - rec->ns > XLB_FRAG_TIMEOUT_NS)
			return finish(ctx, cfg, p, v, XLB_ACT_PASS, XLB_R_PASS_FRAGMENT_NO_RECORD, now);
		p->key.sport = rec->sport;
		p->key.dport = rec->dport;
	}
	e = bpf_map_lookup_elem(&xlb_ct, &p->key);
	if (!e || !ct_alive(cfg, e, now))
		return finish(ctx, cfg, p, v, XLB_ACT_PASS, XLB_R_PASS_FRAGMENT, now);
	if (p->frag == XLB_FRAG_FIRST) {
		fv->ns = now;
		fv->sport = p->key.sport;
		fv->dport = p->key.dport;
		fv->pad = 0;
		bpf_map_update_elem(&xlb_frags, fk, fv, BPF_ANY);
	}
	v->svc_id = e->svc_id;
	v->ep_slot = e->ep_slot;
	v->ct_old = v->ct_new = e->state;
	if (p->frag == XLB_FRAG_LATER) {
		/* addresses only: a copy of the entry without port translation */
		__builtin_memcpy(&s->fwd, e, sizeof(s->fwd));
		s->fwd.xlate &= XLB_XL_SADDR | XLB_XL_DADDR;
		act = xlate_and_forward(ctx, cfg, p, &s->fwd, NULL, now, &reason);
	} else {
		act = xlate_and_forward(ctx, cfg, p, e, NULL, now, &reason);
	}
	return finish(ctx, cfg, p, v, act, reason, now);
}

/* An ICMP error: translate it when it is about a tracked flow, else pass it untouched. */
static __always_inline int slow_icmp_error(xlb_ctx_t *ctx, const struct xlb_config *cfg, struct xlb_scratch *s,
					   struct xlb_verdict *v, __u64 now)
{
	struct xlb_pkt *p = &s->pkt;
	struct xlb_ct_key *k = &s->rkey;
	struct xlb_ct_entry *e;
	struct xlb_hop hop;
	__u8 new_saddr[16];
	__u32 res = XLB_FWD_PASS_FIB;
	int fwd, act = XLB_ACT_PASS;

	__builtin_memcpy(k->saddr, p->inner.daddr, 16);
	__builtin_memcpy(k->daddr, p->inner.saddr, 16);
	k->sport = p->inner.dport;
	k->dport = p->inner.sport;
	k->proto = p->inner.proto;
	k->family = p->inner.family;
	k->pad[0] = k->pad[1] = 0;
	e = bpf_map_lookup_elem(&xlb_ct, k);
	if (!e || !ct_alive(cfg, e, now) || k->family != p->key.family)
		return finish(ctx, cfg, p, v, XLB_ACT_PASS, XLB_R_PASS_ICMP_UNTRACKED, now);
	v->svc_id = e->svc_id;
	v->ep_slot = e->ep_slot;
	v->ct_old = v->ct_new = e->state;
	if (!e->xlate)
		return finish(ctx, cfg, p, v, XLB_ACT_PASS, XLB_R_ICMP_ERROR, now);
	if (nat_icmp_error(ctx, p, e, k, new_saddr))
		return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_MALFORMED, now);
	fwd = fwd_resolve(ctx, cfg, p, new_saddr, e->nat_daddr, NULL, NULL, now, &hop, &res);
	if (fwd == XLB_RESOLVE_TOO_BIG) {
		/* an ICMP error too big for the egress: to the stack (no error about an error) */
		fwd = XLB_RESOLVE_STACK;
		res = XLB_FWD_PASS_FIB;
	}
	if (fwd) {
		if (fwd_dec_ttl(ctx, p))
			return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_MALFORMED, now);
		act = fwd_send(ctx, &hop, &res);
	}
	stats_fwd(res, p->len);
	return finish(ctx, cfg, p, v, act, XLB_R_ICMP_ERROR, now);
}

/* slow_tracked's option: slow_new already asked the policer (an adopted flow) */
#define XLB_TR_POLICED     1

/* A live tracked flow in the slow path: advance the state in both entries, then forward. */
static __always_inline int slow_tracked(xlb_ctx_t *ctx, const struct xlb_config *cfg, struct xlb_scratch *s,
					struct xlb_ct_entry *e, struct xlb_verdict *v, __u64 now, int opts)
{
	struct xlb_pkt *p = &s->pkt;
	struct xlb_ct_entry *peer = NULL;
	__u8 fins = e->flags & (XLB_CT_F_FIN_CLIENT | XLB_CT_F_FIN_BACKEND);
	__u32 reason = XLB_R_TRACKED;
	int st = e->state, act;
	__u8 clear;

	v->svc_id = e->svc_id;
	v->ep_slot = e->ep_slot;
	v->ct_old = e->state;
	if (!(e->flags & XLB_CT_F_DSR)) {
		if (ct_peer_get(cfg, s, e, now, &peer)) {
			/*
			 * Another live flow holds this flow's other key: this half is stale (its
			 * tuple was given away while the peer was missing). It is removed and the
			 * packet dropped, so it never reaches the other flow's peer.
			 */
			if (e->flags & XLB_CT_F_LC_COUNTED)
				lc_add(e->svc_id, e->ep_slot, -1);
			bpf_map_delete_elem(&xlb_ct, &p->key);
			v->ct_new = XLB_CT_NONE;
			return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_CT_FAILED, now);
		}
		e->peer_touch_ns = now;
	}
	if (p->key.proto == IPPROTO_TCP) {
		st = ct_tcp_next(cfg, e, peer, p, &fins);
		if (st < 0) {
			v->ct_new = e->state;
			return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_RST_INVALID, now);
		}
	} else if (p->key.proto == IPPROTO_UDP) {
		st = ct_udp_next(e);
	} else {
		st = ct_icmp_next(e);
	}
	/* a policed packet changes nothing: every write below comes after this */
	if (!(opts & XLB_TR_POLICED) && !(e->flags & XLB_CT_F_REPLY) && !policer_admit(e->svc_id, now)) {
		v->ct_new = e->state;
		stats_service(e->svc_id, XLB_NO_SLOT, p->len, 0, 1);
		return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_POLICED, now);
	}
	if (st == XLB_CT_SYN_SENT && e->state != XLB_CT_SYN_SENT) {
		struct xlb_service *svc;

		/* restarted flow: sequence numbers start over */
		e->flags &= ~(XLB_CT_F_SEQ_KNOWN | XLB_CT_F_ACK_KNOWN);
		if (peer)
			peer->flags &= ~(XLB_CT_F_SEQ_KNOWN | XLB_CT_F_ACK_KNOWN);
		/*
		 * A new connection on the same (usable) endpoint of an lc service, whether the
		 * forward entry lived or was just adopted: counted like a new flow. The service is
		 * looked up only here (a restart is rare).
		 */
		if (!(e->flags & XLB_CT_F_LC_COUNTED)) {
			svc = svc_lookup(&p->key);
			if (svc && svc->algo == XLB_ALGO_LC) {
				lc_add(e->svc_id, e->ep_slot, 1);
				e->flags |= XLB_CT_F_LC_COUNTED;
				if (peer)
					peer->flags |= XLB_CT_F_LC_COUNTED;
			}
		}
	}
#ifdef XLB_FAULT_PIPE_LC_RELEASE   /* fault: a closed flow does not release its least-connection count */
	if (0) {
#else
	if ((st == XLB_CT_TIME_WAIT || st == XLB_CT_CLOSED) && (e->flags & XLB_CT_F_LC_COUNTED)) {
#endif
		lc_add(e->svc_id, e->ep_slot, -1);
		e->flags &= ~XLB_CT_F_LC_COUNTED;
		if (peer)
			peer->flags &= ~XLB_CT_F_LC_COUNTED;
	}
	/* the backend answered: a mid-stream adoption becomes an ordinary flow (ct_alive) */
	clear = XLB_CT_F_FIN_CLIENT | XLB_CT_F_FIN_BACKEND;
	if (e->flags & XLB_CT_F_REPLY)
		clear |= XLB_CT_F_MIDSTREAM;
	e->state = st;
	e->flags = (e->flags & ~clear) | fins;
	ct_account(e, p, now);
	if (peer) {
#ifdef XLB_FAULT_PIPE_PEER_STATE   /* fault: a state change is not written to the peer entry */
#else
		peer->state = st;
#endif
		peer->flags = (peer->flags & ~clear) | fins;
		peer->last_seen_ns = now;
	}
	v->ct_new = st;
	stats_service(e->svc_id, e->ep_slot, p->len, 0, 0);
	act = xlate_and_forward(ctx, cfg, p, e, NULL, now, &reason);
	return finish(ctx, cfg, p, v, act, reason, now);
}

/* slow_new's return value when it adopted a live reply entry: xlb_slow goes on as tracked. */
#define XLB_ADOPTED (-4096)

/* No live flow: find the service, select an endpoint, create both entries, translate, forward. */
static __always_inline int slow_new(xlb_ctx_t *ctx, const struct xlb_config *cfg, struct xlb_scratch *s,
				    struct xlb_verdict *v, __u64 now)
{
	struct xlb_pkt *p = &s->pkt;
	struct xlb_ct_entry *f = &s->fwd;
	struct xlb_service *svc;
	struct xlb_endpoint *ep;
	__u32 reason = XLB_R_NEW_FLOW, slot;
	const __u8 *snat = NULL;
	int midstream = 0, act;
	__u8 mode;

	svc = svc_lookup(&p->key);
	if (!svc)
		return finish(ctx, cfg, p, v, XLB_ACT_PASS, XLB_R_PASS_NO_SERVICE, now);
	v->svc_id = svc->id;
	if (p->key.proto == IPPROTO_TCP &&
	    (p->tcp_flags & (TCPF_SYN | TCPF_ACK | TCPF_RST | TCPF_FIN)) != TCPF_SYN) {
		if ((p->tcp_flags & TCPF_RST) || cfg->unknown_tcp == XLB_UNKNOWN_TCP_DROP) {
			stats_service(svc->id, XLB_NO_SLOT, p->len, 0, 1);
			return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_MIDSTREAM, now);
		}
		midstream = 1;
		reason = XLB_R_MIDSTREAM_NEW;
	}
#ifdef XLB_FAULT_PIPE_ECHO_REPLY   /* fault: an echo reply with no flow is balanced as a new flow */
	if (0)
#else
	if ((p->key.proto == IPPROTO_ICMP || p->key.proto == IPPROTO_ICMPV6) && p->key.dport != 0)
#endif
		/* an echo reply with no flow is not ours */
		return finish(ctx, cfg, p, v, XLB_ACT_PASS, XLB_R_PASS_NO_SERVICE, now);
	/* the flood guard: every packet that may create a flow is counted, mid-stream ones are
	 * refused while this CPU is over the rate (flood.h) */
	if (flood_count(cfg, now) && midstream) {
		stats_service(svc->id, XLB_NO_SLOT, p->len, 0, 1);
		return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_FLOOD, now);
	}
	if (!policer_admit(svc->id, now)) {
		stats_service(svc->id, XLB_NO_SLOT, p->len, 0, 1);
		return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_POLICED, now);
	}
	mode = svc->mode;
	if (mode == XLB_MODE_FULLNAT) {
		snat = snat_addr(svc, cfg, p->key.family);
		if (!snat) {
			stats_service(svc->id, XLB_NO_SLOT, p->len, 0, 1);
			return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_SNAT_EXHAUSTED, now);
		}
	}
	slot = select_endpoint(svc, cfg, &p->key, now);
	ep = ep_get(svc->id, svc->gen, slot);
	if (slot == XLB_NO_SLOT || !ep) {
		stats_service(svc->id, XLB_NO_SLOT, p->len, 0, 1);
		return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_NO_ENDPOINT, now);
	}
	v->ep_slot = slot;
#ifdef XLB_CUT_AFTER_SELECT   /* stage cut: service lookup + policer + selection, no entries */
	return XLB_ACT_PASS;
#endif

	/* forward entry: the client's tuple -> the backend's */
	__builtin_memset(f, 0, sizeof(*f));
	f->created_ns = now;
	f->last_seen_ns = now;
	f->peer_touch_ns = now;
	f->svc_id = svc->id;
	f->ep_slot = slot;
	__builtin_memcpy(f->nat_saddr, p->key.saddr, 16);
	__builtin_memcpy(f->nat_daddr, ep->addr, 16);
	f->nat_sport = p->key.sport;
	f->nat_dport = p->key.dport;
	if (p->key.proto == IPPROTO_TCP)
		f->state = midstream ? XLB_CT_ESTABLISHED : XLB_CT_SYN_SENT;
	else if (p->key.proto == IPPROTO_UDP)
		f->state = XLB_CT_UDP_NEW;
	else
		f->state = XLB_CT_ICMP_REQUEST;
	if (midstream)
		f->flags |= XLB_CT_F_MIDSTREAM;
	if (mode == XLB_MODE_DSR) {
		f->flags |= XLB_CT_F_DSR;
	} else {
		f->xlate = XLB_XL_DADDR;
		if ((p->key.proto == IPPROTO_TCP || p->key.proto == IPPROTO_UDP) && ep->port && ep->port != p->key.dport) {
			f->nat_dport = ep->port;
			f->xlate |= XLB_XL_DPORT;
		}
		if (snat) {
			__builtin_memcpy(f->nat_saddr, snat, 16);
			/* a source port, or the echo identifier, chosen per flow */
			f->xlate |= XLB_XL_SADDR | XLB_XL_SPORT;
		}
	}
	if (svc->algo == XLB_ALGO_LC)
		f->flags |= XLB_CT_F_LC_COUNTED;
	ct_account(f, p, now);

	if (!(f->flags & XLB_CT_F_DSR)) {
		struct xlb_ct_entry *old;
		int rc;

		ct_build_peer(f, &p->key, &s->rev, now);
		ct_peer_key(f, &p->key, &s->rkey);
#ifdef XLB_CUT_REPLY_INSERT   /* stage cut: no reply entry */
		rc = 0;
#else
		rc = ct_insert_reply(cfg, s, !!(f->xlate & XLB_XL_SPORT), now);
#endif
		if (rc > 0) {
			/*
			 * This client tuple's flow lost its forward entry and its reply entry lives:
			 * rebuild the forward entry from it (same endpoint, tuple, state and
			 * least-connection count) and go on as a tracked packet (xlb_slow).
			 */
			old = bpf_map_lookup_elem(&xlb_ct, &s->rkey);
			if (!old)
				return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_CT_FAILED, now);
			ct_build_peer(old, &s->rkey, f, now);
			f->peer_touch_ns = now;
			if (bpf_map_update_elem(&xlb_ct, &p->key, f, BPF_ANY))
				return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_CT_FAILED, now);
			return XLB_ADOPTED;
		}
		if (rc) {
			stats_service(svc->id, slot, p->len, 0, 1);
			return finish(ctx, cfg, p, v, XLB_ACT_DROP,
				      mode == XLB_MODE_FULLNAT ? XLB_R_DROP_SNAT_EXHAUSTED : XLB_R_DROP_CT_FAILED, now);
		}
	}
	/*
	 * Translate and forward with the entry still in scratch memory, so the next-hop cache it
	 * fills is stored with it (no second lookup of the inserted entry).
	 */
	act = xlate_and_forward(ctx, cfg, p, f, ep_nh_get(svc->id, slot), now, &reason);
#ifdef XLB_CUT_FWD_INSERT   /* stage cut: no forward entry */
	if (0) {
#else
	if (bpf_map_update_elem(&xlb_ct, &p->key, f, BPF_ANY)) {
#endif
		if (!(f->flags & XLB_CT_F_DSR))
			bpf_map_delete_elem(&xlb_ct, &s->rkey);
		stats_service(svc->id, slot, p->len, 0, 1);
		return finish(ctx, cfg, p, v, XLB_ACT_DROP, XLB_R_DROP_CT_FAILED, now);
	}
	if (svc->algo == XLB_ALGO_LC)
		lc_add(svc->id, slot, 1);
	v->ct_new = f->state;
	stats_service(svc->id, slot, p->len, 1, 0);
	return finish(ctx, cfg, p, v, act, reason, now);
}

static __always_inline int xlb_slow(xlb_ctx_t *ctx)
{
	struct xlb_verdict v = { .svc_id = 0, .ep_slot = XLB_NO_SLOT };
	struct xlb_scratch *s;
	struct xlb_config *cfg;
	struct xlb_ct_entry *e;
	__u32 zero = 0;
	int rc, opts = 0;
	__u64 now;

	cfg = bpf_map_lookup_elem(&xlb_config, &zero);
	s = bpf_map_lookup_elem(&xlb_scratch, &zero);
	if (!cfg || !s)
		return XLB_ACT_PASS;
#ifdef XLB_CUT_SLOW_ENTRY   /* stage cut: the slow path returns at once */
	return XLB_ACT_PASS;
#endif
	now = xlb_now(cfg);
	if (s->pkt.frag)
		return slow_fragment(ctx, cfg, s, &v, now);
	if (s->pkt.icmp_err)
		return slow_icmp_error(ctx, cfg, s, &v, now);
	if (!s->pkt.ct_miss) {
		e = bpf_map_lookup_elem(&xlb_ct, &s->pkt.key);
		if (e && ct_alive(cfg, e, now)) {
			if (!ct_syn_check(&s->pkt, e))
				goto tracked;
			ct_end_flow(s, e);
		}
	}
	rc = slow_new(ctx, cfg, s, &v, now);
	if (rc != XLB_ADOPTED)
		return rc;
	opts = XLB_TR_POLICED;
	e = bpf_map_lookup_elem(&xlb_ct, &s->pkt.key);
	if (!e)
		return finish(ctx, cfg, &s->pkt, &v, XLB_ACT_DROP, XLB_R_DROP_CT_FAILED, now);
tracked:
	/* one call site: slow_tracked is inlined once */
	return slow_tracked(ctx, cfg, s, e, &v, now, opts);
}

#endif /* XLB_PIPELINE_H */
