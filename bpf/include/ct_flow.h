/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The slow path's conntrack work on a whole flow, both of its entries: claiming a key without
 * overwriting a live entry (ct_claim), finding the flow's other entry (ct_peer_get), creating
 * the reply entry with its full-NAT source (snat_addr, ct_insert_reply), re-selection of a
 * restarting SYN (ct_syn_check) and ending a flow (ct_end_flow). conntrack.h holds the entry
 * itself (lookup, state machine, timeouts); pipeline.h the stages that call these.
 * Included by pipeline.h after struct xlb_scratch.
 */
#ifndef XLB_CT_FLOW_H
#define XLB_CT_FLOW_H

/*
 * Write v under k, which the caller found free: absent, or held by an expired entry (expired:
 * deleted first). Always BPF_NOEXIST, so a live entry another CPU wrote under k since the
 * caller's lookup is never overwritten (issue 11 item 11: two CPUs choosing one SNAT port, or
 * a rebuild and a new flow on one tuple); the loser gets -1 and treats k as taken.
 * Race left: between the caller's lookup and the delete of an expired entry, another CPU can
 * delete it too and insert a live entry, which this delete then removes (this CPU's insert
 * then wins). It needs an expired entry and two flows claiming its key within the same
 * microseconds; the flow whose entry was removed finds its peer key held by a foreign live
 * entry at its next slow-path packet (a new flow is not ESTABLISHED) and is ended by the peer
 * check ("One lost side", rule 1), so the mix-up lasts at most one packet.
 */
static __always_inline int ct_claim(const struct xlb_ct_key *k, const struct xlb_ct_entry *v, int expired)
{
	if (expired)
		bpf_map_delete_elem(&xlb_ct, k);
	return bpf_map_update_elem(&xlb_ct, k, v, BPF_NOEXIST) ? -1 : 0;
}

/*
 * The peer entry of the live entry e (keyed s->pkt.key), in *out: the one found under its key
 * when it is the other half of this flow (alive or not: the caller refreshes it); rebuilt from e
 * when the key is free or held by an expired entry (LRU eviction, issue 11 item 1). Returns -1
 * when another live flow holds the key. The rebuild is inserted with ct_claim (BPF_NOEXIST),
 * so a flow another CPU inserts there at the same time is never overwritten; losing that race
 * also returns -1. A failed insert (no memory) leaves *out NULL and returns 0: the packet
 * goes on, the next one tries again.
 */
static __always_inline int ct_peer_get(const struct xlb_config *cfg, struct xlb_scratch *s,
				       const struct xlb_ct_entry *e, __u64 now, struct xlb_ct_entry **out)
{
	const struct xlb_ct_key *k = &s->pkt.key;
	struct xlb_ct_entry *peer;

	*out = NULL;
	ct_peer_key(e, k, &s->pkey);
	peer = bpf_map_lookup_elem(&xlb_ct, &s->pkey);
	if (peer && ct_is_peer(peer, k, e->flags)) {
		*out = peer;
		return 0;
	}
#ifdef XLB_FAULT_PIPE_LOST_SIDE   /* fault: a flow's lost entry is not rebuilt */
	if (1)
		return 0;
#else
	if (peer && ct_alive(cfg, peer, now))
		return -1;
#endif
	ct_build_peer(e, k, &s->rev, now);
	ct_claim(&s->pkey, &s->rev, peer != NULL);
	peer = bpf_map_lookup_elem(&xlb_ct, &s->pkey);
	if (!peer)
		return 0;
	if (!ct_is_peer(peer, k, e->flags))
		return -1;
	*out = peer;
	return 0;
}

/* Full NAT source address: the service's, else the global one of the family. */
static __always_inline const __u8 *snat_addr(const struct xlb_service *svc, const struct xlb_config *cfg, __u8 family)
{
	const __u8 *a = svc->snat_addr;
	__u64 lo, hi;

	__builtin_memcpy(&lo, a, 8);
	__builtin_memcpy(&hi, a + 8, 8);
	if (lo | hi)
		return a;
	a = family == XLB_AF_V4 ? cfg->snat_v4 : cfg->snat_v6;
	__builtin_memcpy(&lo, a, 8);
	__builtin_memcpy(&hi, a + 8, 8);
	return (lo | hi) ? a : NULL;
}

#define XLB_SNAT_TRIES 8

/*
 * Insert the reply entry s->rev under s->rkey. Full NAT: up to XLB_SNAT_TRIES source ports from
 * a hash-chosen start in [snat_port_min, snat_port_max]; a port is free when its reply tuple is
 * absent or held by an expired flow. Other modes: the one reply tuple.
 * Returns 0 (inserted), -1 (no tuple), 1: a live reply entry of this very client tuple exists
 * (ct_is_peer; its forward entry was lost): s->rkey is its key, nothing was inserted, the caller
 * adopts it. A pure SYN takes the first free port; any other packet (it may belong to a flow
 * whose forward entry was lost) looks at all the candidates for its own reply entry first.
 */
static __always_inline int ct_insert_reply(const struct xlb_config *cfg, struct xlb_scratch *s, int fullnat, __u64 now)
{
	__u32 lo = cfg->snat_port_min, hi = cfg->snat_port_max, span, start, i, found = XLB_SNAT_TRIES;
	int found_expired = 0;
	int scan_all = !(s->pkt.key.proto == IPPROTO_TCP &&
			 (s->pkt.tcp_flags & (TCPF_SYN | TCPF_ACK | TCPF_RST | TCPF_FIN)) == TCPF_SYN);
	struct xlb_ct_entry *old;

	if (!fullnat) {
#ifdef XLB_FAULT_PIPE_NO_REPLY_ENTRY   /* fault: a DNAT flow gets no reply entry: replies pass untranslated */
		if (1)
#else
		if (!bpf_map_update_elem(&xlb_ct, &s->rkey, &s->rev, BPF_NOEXIST))
#endif
			return 0;
		old = bpf_map_lookup_elem(&xlb_ct, &s->rkey);
		if (old && ct_alive(cfg, old, now))
			/* this client tuple's own reply entry, or another live flow's */
			return ct_is_peer(old, &s->pkt.key, 0) ? 1 : -1;
		return ct_claim(&s->rkey, &s->rev, old != NULL);
	}
	if (lo == 0 || hi < lo) {
		lo = 32768;
		hi = 60999;
	}
	span = hi - lo + 1;
	start = flow_hash(&s->pkt.key);
	if (!scan_all) {
		/*
		 * A pure SYN: each candidate in order is claimed with one BPF_NOEXIST insert and looked
		 * up only when that fails (held: this client tuple's live reply entry is adopted, another
		 * live one skipped, an expired one reclaimed), so a free port costs one bucket visit, not
		 * a lookup and then an insert. Once a claim of an expired or vanished entry lost a race
		 * (ct_claim), later live candidates are only skipped, as in the claim loop below.
		 */
		int raced = 0;

		for (i = 0; i < XLB_SNAT_TRIES; i++) {
			s->rkey.dport = bpf_htons((__u16)(lo + (start + i * 7919) % span));
			if (!bpf_map_update_elem(&xlb_ct, &s->rkey, &s->rev, BPF_NOEXIST)) {
				s->fwd.nat_sport = s->rkey.dport;
				return 0;
			}
			old = bpf_map_lookup_elem(&xlb_ct, &s->rkey);
			if (old && ct_alive(cfg, old, now)) {
				if (!raced && ct_is_peer(old, &s->pkt.key, 0))
					return 1;
				continue;
			}
			if (!ct_claim(&s->rkey, &s->rev, old != NULL)) {
				s->fwd.nat_sport = s->rkey.dport;
				return 0;
			}
			raced = 1;
		}
		return -1;
	}
	for (i = 0; i < XLB_SNAT_TRIES; i++) {
		s->rkey.dport = bpf_htons((__u16)(lo + (start + i * 7919) % span));
		old = bpf_map_lookup_elem(&xlb_ct, &s->rkey);
		if (old && ct_alive(cfg, old, now)) {
			if (ct_is_peer(old, &s->pkt.key, 0))
				return 1;
			continue;
		}
		if (found == XLB_SNAT_TRIES) {
			found = i;
			found_expired = old != NULL;
		}
	}
	if (found == XLB_SNAT_TRIES)
		return -1;
	/*
	 * Claim the first free candidate; one another CPU took since the scan above (ct_claim
	 * fails) is skipped like a live one, and the later free candidates are tried in order.
	 */
	for (i = found; i < XLB_SNAT_TRIES; i++) {
		int expired = found_expired;

		s->rkey.dport = bpf_htons((__u16)(lo + (start + i * 7919) % span));
		/* the first free candidate was just looked at by the scan: not again (one bucket
		 * visit less per new full-NAT flow); a later one is looked at now */
		if (i != found) {
			old = bpf_map_lookup_elem(&xlb_ct, &s->rkey);
			if (old && ct_alive(cfg, old, now))
				continue;
			expired = old != NULL;
		}
		if (!ct_claim(&s->rkey, &s->rev, expired)) {
			s->fwd.nat_sport = s->rkey.dport;
			return 0;
		}
	}
	return -1;
}

/*
 * A client's pure SYN on a flow that is not under way (SYN_SENT: a retransmit; TIME_WAIT /
 * CLOSED: the tuple reused) starts a connection; it is sent to a newly selected endpoint when the
 * recorded one is no longer usable (made inactive, removed, the service gone). Established flows
 * and UDP / ICMP flows keep their endpoint (docs/datapath.md, "Re-selection").
 * Returns -1: end the flow and re-select; 0: go on as tracked (slow_tracked counts a restart of
 * a least-connection flow again).
 */
static __always_inline int ct_syn_check(const struct xlb_pkt *p, const struct xlb_ct_entry *e)
{
	struct xlb_service *svc;

	if (p->key.proto != IPPROTO_TCP || (e->flags & XLB_CT_F_REPLY) ||
	    (p->tcp_flags & (TCPF_SYN | TCPF_ACK | TCPF_RST | TCPF_FIN)) != TCPF_SYN)
		return 0;
	if (e->state != XLB_CT_SYN_SENT && e->state != XLB_CT_TIME_WAIT && e->state != XLB_CT_CLOSED)
		return 0;
	svc = svc_lookup(&p->key);
#ifdef XLB_FAULT_PIPE_SYN_RESELECT   /* fault: a SYN to a removed / inactive endpoint is not re-selected */
	(void)svc;
	if (0)
#else
	if (!ep_still_usable(svc, e, &p->key))
#endif
		return -1;
	return 0;
}

/* End the flow of forward entry e (keyed s->pkt.key): its least-connection count, its reply entry
 * (when it is this flow's), itself. */
static __always_inline void ct_end_flow(struct xlb_scratch *s, struct xlb_ct_entry *e)
{
	struct xlb_ct_entry *peer;

	if (e->flags & XLB_CT_F_LC_COUNTED)
		lc_add(e->svc_id, e->ep_slot, -1);
	if (!(e->flags & XLB_CT_F_DSR)) {
		ct_peer_key(e, &s->pkt.key, &s->pkey);
		peer = bpf_map_lookup_elem(&xlb_ct, &s->pkey);
		if (peer && ct_is_peer(peer, &s->pkt.key, e->flags))
			bpf_map_delete_elem(&xlb_ct, &s->pkey);
	}
	bpf_map_delete_elem(&xlb_ct, &s->pkt.key);
}

#endif /* XLB_CT_FLOW_H */
