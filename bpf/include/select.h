/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Stage 3: service lookup and endpoint selection.
 *
 * Services: exact (VIP, port, proto, family) first, then the port-range entry (port 0) whose
 * port_lo..port_hi holds the destination port. ICMP echo services use port 0.
 * Endpoints of generation g of service s live at ((s * 2 + g) * XLB_MAX_EP + slot); the
 * controller fills the inactive generation, then flips xlb_service.gen with one update.
 * A slot names the same endpoint in both generations while it exists, so per-slot state
 * (least-connection counters, statistics) survives a flip.
 */
#ifndef XLB_SELECT_H
#define XLB_SELECT_H

#include "conntrack.h"
#include "scratch.h"

#define XLB_NO_SLOT 0xffff

static __always_inline struct xlb_service *svc_lookup(const struct xlb_ct_key *k)
{
	struct xlb_tmp *t = tmp_get();
	struct xlb_svc_key *sk;
	struct xlb_service *svc;
	__u16 port;

	if (!t)
		return NULL;
	sk = &t->sk;
	__builtin_memcpy(sk->addr, k->daddr, 16);
	sk->proto = k->proto;
	sk->family = k->family;
	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP) {
		sk->port = 0;
		return bpf_map_lookup_elem(&xlb_services, sk);
	}
	sk->port = k->dport;
	svc = bpf_map_lookup_elem(&xlb_services, sk);
	if (svc)
		return svc;
	sk->port = 0;
	svc = bpf_map_lookup_elem(&xlb_services, sk);
	if (!svc)
		return NULL;
	port = bpf_ntohs(k->dport);
#ifdef XLB_FAULT_SEL_PORT_RANGE   /* fault: a port range's last port is not served */
	if (port < svc->port_lo || port >= svc->port_hi)
#else
	if (port < svc->port_lo || port > svc->port_hi)
#endif
		return NULL;
	return svc;
}

static __always_inline struct xlb_endpoint *ep_get(__u32 svc_id, __u8 gen, __u32 slot)
{
#ifdef XLB_FAULT_SEL_GEN   /* fault: endpoints always read from generation 0: a config change is not seen */
	__u32 idx = (svc_id * 2) * XLB_MAX_EP + slot;
#else
	__u32 idx = (svc_id * 2 + (gen & 1)) * XLB_MAX_EP + slot;
#endif

	if (slot >= XLB_MAX_EP)
		return NULL;
	return bpf_map_lookup_elem(&xlb_endpoints, &idx);
}

static __always_inline int ep_usable(const struct xlb_endpoint *ep, __u8 family)
{
#ifdef XLB_FAULT_SEL_INACTIVE   /* fault: inactive endpoints are selected */
	return ep && ep->family == family;
#else
	return ep && (ep->flags & XLB_EP_F_ACTIVE) && ep->family == family;
#endif
}

/* 32-bit hash of the tuple (murmur3-style mixing of its ten words). */
static __always_inline __u32 flow_hash(const struct xlb_ct_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = 0x9747b28c;
	int i;

#pragma unroll
#ifdef XLB_FAULT_SEL_HASH_PORTS   /* fault: the flow hash ignores ports and protocol */
	for (i = 0; i < 8; i++) {
#else
	for (i = 0; i < (int)(sizeof(*k) / 4); i++) {
#endif
		__u32 x = w[i] * 0xcc9e2d51;

		x = (x << 15) | (x >> 17);
		h ^= x * 0x1b873593;
		h = (h << 13) | (h >> 19);
		h = h * 5 + 0xe6546b64;
	}
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/*
 * The loops over endpoint slots are global (non-inlined) functions: the verifier checks each
 * once on its own instead of once per path through the pipeline.
 */

/* First usable slot at or after start (wrapping), bounded by XLB_MAX_EP probes. */
__attribute__((noinline)) int xlb_ep_probe(__u32 svc_id, __u32 gen, __u32 n, __u32 start, __u32 family)
{
	__u32 i;

	if (n == 0 || n > XLB_MAX_EP)
		return XLB_NO_SLOT;
	for (i = 0; i < XLB_MAX_EP; i++) {
		__u32 slot;

		if (i >= n)
			break;
		slot = (start + i) % n;
		if (ep_usable(ep_get(svc_id, gen, slot), family))
			return slot;
	}
	return XLB_NO_SLOT;
}

static __always_inline __u32 ep_probe(const struct xlb_service *svc, __u32 start, __u8 family)
{
	return xlb_ep_probe(svc->id, svc->gen, svc->ep_count, start, family);
}

#define XLB_REHASH_TRIES 8

/* The i-th alternative of hash h (murmur3's finaliser over h ^ i * golden ratio). */
static __always_inline __u32 rehash(__u32 h, __u32 i)
{
	h ^= i * 0x9e3779b9;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/*
 * A hashed choice whose first pick (start) is unusable: rehash instead of taking the next slot,
 * so an inactive slot's share is spread over the usable slots (a linear probe handed all of it
 * to slot+1). Candidate i (1..XLB_REHASH_TRIES): with a table (m > 0: the Maglev table of this
 * generation) the slot at position rehash(h, i) % m, so the spread follows the table's weights;
 * without, slot rehash(h, i) % n; XLB_NO_SLOT when none is usable (the caller probes linearly).
 * sg = svc_id * 2 + gen (the generation's index base), nf = n | family << 8 (n checked by the
 * caller; five arguments at most for a BPF function).
 */
__attribute__((noinline)) int xlb_ep_spread(__u32 sg, __u32 nf, __u32 h, __u32 m)
{
	__u32 i, key;

	for (i = 1; i <= XLB_REHASH_TRIES; i++) {
		__u32 slot = rehash(h, i);
		struct xlb_endpoint *ep;

		if (m) {
			__u32 *v;

			key = sg * m + slot % m;
			v = bpf_map_lookup_elem(&xlb_sched, &key);
			if (!v)
				continue;
			slot = *v;
		} else {
			slot %= nf & 0xff;
		}
		if (slot >= (nf & 0xff))
			continue;
		key = sg * XLB_MAX_EP + slot;
		ep = bpf_map_lookup_elem(&xlb_endpoints, &key);
		if (ep_usable(ep, nf >> 8))
			return slot;
	}
	return XLB_NO_SLOT;
}

/* The first pick, then xlb_ep_spread, then the linear probe (each called from here, not from
 * one another: the stacks of nested BPF function calls add up against the 512-byte limit). */
static __always_inline __u32 ep_spread(const struct xlb_service *svc, __u32 start, __u8 family, __u32 h, __u32 m)
{
	__u32 n = svc->ep_count, slot;

	if (n == 0 || n > XLB_MAX_EP)
		return XLB_NO_SLOT;
	if (start < n && ep_usable(ep_get(svc->id, svc->gen, start), family))
		return start;
	slot = xlb_ep_spread(svc->id * 2 + (svc->gen & 1), n | (__u32)family << 8, h, m);
	return slot != XLB_NO_SLOT ? slot : ep_probe(svc, start, family);
}

static __always_inline __u32 sched_get(const struct xlb_service *svc, const struct xlb_config *cfg, __u32 pos)
{
	__u32 per = (cfg->maglev_size + XLB_SCHED_CHUNK - 1) / XLB_SCHED_CHUNK;
	__u32 idx = (svc->id * 2 + (svc->gen & 1)) * per + pos / XLB_SCHED_CHUNK;
	struct xlb_sched_chunk *c = bpf_map_lookup_elem(&xlb_sched, &idx);

	return c ? c->slot[pos % XLB_SCHED_CHUNK] : XLB_NO_SLOT;
}

/*
 * Least connections, weighted: minimises active/weight (compared by cross-multiplication).
 * The running best lives in a per-CPU map value, not in registers: the verifier does not
 * track map memory, so the 64 iterations do not multiply its states.
 */
struct xlb_lc_best {
	__s64 conns;
	__u32 slot;
	__u32 weight;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_lc_best);
} xlb_lc_scratch SEC(".maps");

__attribute__((noinline)) int xlb_select_lc(__u32 svc_id, __u32 gen, __u32 n, __u32 family)
{
	struct xlb_lc_best *b;
	__u32 zero = 0, i;

	b = bpf_map_lookup_elem(&xlb_lc_scratch, &zero);
	if (!b)
		return XLB_NO_SLOT;
	b->slot = XLB_NO_SLOT;
	b->conns = 0;
	b->weight = 1;
	for (i = 0; i < XLB_MAX_EP; i++) {
		struct xlb_endpoint *ep;
		__u32 cidx;
		__s64 *c, conns;
		__u32 w;

		if (i >= n)
			break;
		ep = ep_get(svc_id, gen, i);
		if (!ep_usable(ep, family))
			continue;
		cidx = svc_id * XLB_MAX_EP + i;
		c = bpf_map_lookup_elem(&xlb_ep_conns, &cidx);
		conns = c && *c > 0 ? *c : 0;
		w = ep->weight ? ep->weight : 1;
#ifdef XLB_FAULT_SEL_LC_PICK   /* fault: least-connection picks the most loaded endpoint */
		if (b->slot == XLB_NO_SLOT || conns * b->weight > b->conns * w) {
#else
		if (b->slot == XLB_NO_SLOT || conns * b->weight < b->conns * w) {
#endif
			b->slot = i;
			b->conns = conns;
			b->weight = w;
		}
	}
	return b->slot;
}

static __always_inline __u32 select_lc(const struct xlb_service *svc, __u8 family)
{
	return xlb_select_lc(svc->id, svc->gen, svc->ep_count, family);
}

static __always_inline __u32 select_by_algo(const struct xlb_service *svc, const struct xlb_config *cfg,
					    const struct xlb_ct_key *k)
{
	__u32 n = svc->ep_count, start, zero_slot, h;
	__u32 *ctr;

	if (n == 0 || n > XLB_MAX_EP)
		return XLB_NO_SLOT;
	switch (svc->algo) {
	case XLB_ALGO_WRR:
		ctr = bpf_map_lookup_elem(&xlb_rr, &svc->id);
		if (!ctr || svc->sched_len == 0 || svc->sched_len > cfg->maglev_size)
			return ep_probe(svc, 0, k->family);
		zero_slot = sched_get(svc, cfg, *ctr % svc->sched_len);
#ifndef XLB_FAULT_SEL_WRR_ADVANCE   /* fault: the wrr cursor does not advance */
		*ctr += 1;
#endif
		return ep_probe(svc, zero_slot, k->family);
	case XLB_ALGO_HASH:
		h = flow_hash(k);
		return ep_spread(svc, h % n, k->family, h, 0);
	case XLB_ALGO_MAGLEV:
		h = flow_hash(k);
		if (cfg->maglev_size == 0)
			return ep_spread(svc, h % n, k->family, h, 0);
		return ep_spread(svc, sched_get(svc, cfg, h % cfg->maglev_size), k->family, h, cfg->maglev_size);
	case XLB_ALGO_LC:
		return select_lc(svc, k->family);
	case XLB_ALGO_RANDOM:
		h = bpf_get_prandom_u32();
		return ep_spread(svc, h % n, k->family, h, 0);
	default:
		ctr = bpf_map_lookup_elem(&xlb_rr, &svc->id);
		start = ctr ? *ctr : 0;
		start = ep_probe(svc, start % n, k->family);
		if (ctr && start != XLB_NO_SLOT)
#ifdef XLB_FAULT_SEL_RR_ADVANCE   /* fault: the rr cursor does not advance */
			*ctr = start;
#else
			*ctr = start + 1;
#endif
		return start;
	}
}

/*
 * The endpoint slot for a new flow of svc, XLB_NO_SLOT when none is usable. With source
 * persistence, a client that chose an endpoint within persist_timeout_s keeps it while it is
 * usable; the entry is refreshed on every new flow.
 */
static __always_inline __u32 select_endpoint(const struct xlb_service *svc, const struct xlb_config *cfg,
					     const struct xlb_ct_key *k, __u64 now)
{
	struct xlb_tmp *t;
	struct xlb_persist_entry *cur;
	__u32 slot;

	if (!(svc->flags & XLB_SVC_F_PERSIST))
		return select_by_algo(svc, cfg, k);
	t = tmp_get();
	if (!t)
		return XLB_NO_SLOT;
	__builtin_memset(&t->pk, 0, sizeof(t->pk));
	__builtin_memcpy(t->pk.addr, k->saddr, 16);
	t->pk.svc_id = svc->id;
	t->pk.family = k->family;
	cur = bpf_map_lookup_elem(&xlb_persist, &t->pk);
	if (cur && now - cur->last_ns <= (__u64)svc->persist_timeout_s * NSEC_PER_SEC &&
	    cur->ep_slot < svc->ep_count && ep_usable(ep_get(svc->id, svc->gen, cur->ep_slot), k->family)) {
		cur->last_ns = now;
		return cur->ep_slot;
	}
	slot = select_by_algo(svc, cfg, k);
	if (slot == XLB_NO_SLOT)
		return slot;
	__builtin_memset(&t->pe, 0, sizeof(t->pe));
	t->pe.last_ns = now;
	t->pe.ep_slot = slot;
#ifndef XLB_FAULT_SEL_PERSIST_STORE   /* fault: source persistence never stores a client's choice */
	bpf_map_update_elem(&xlb_persist, &t->pk, &t->pe, BPF_ANY);
#endif
	return slot;
}

/*
 * 1 when the endpoint flow entry e recorded is still usable: its service svc (looked up with the
 * client's tuple k; may be NULL) still has the same id, the recorded slot is in use in the active generation,
 * active, of the family, and holds the recorded address (a slot names one endpoint while it
 * exists, so the address check catches a slot given to another endpoint after a removal).
 */
static __always_inline int ep_still_usable(const struct xlb_service *svc, const struct xlb_ct_entry *e,
					   const struct xlb_ct_key *k)
{
	struct xlb_endpoint *ep;

	if (!svc || svc->id != e->svc_id || e->ep_slot >= svc->ep_count)
		return 0;
	ep = ep_get(svc->id, svc->gen, e->ep_slot);
	return ep_usable(ep, k->family) && addr16_eq(ep->addr, e->nat_daddr);
}

/* Least-connection bookkeeping: +1 when a flow is created, -1 when it closes. */
static __always_inline void lc_add(__u32 svc_id, __u32 slot, __s64 delta)
{
	__u32 idx = svc_id * XLB_MAX_EP + slot;
	__s64 *c;

	if (slot >= XLB_MAX_EP)
		return;
	c = bpf_map_lookup_elem(&xlb_ep_conns, &idx);
	if (c)
		__sync_fetch_and_add(c, delta);
}

#endif /* XLB_SELECT_H */
