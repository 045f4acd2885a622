/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: per reason, per forwarding result, per service, per endpoint slot. */
#ifndef XLB_STATS_H
#define XLB_STATS_H

#include "xlb_maps.h"

static __always_inline void stats_add(void *map, __u32 idx, __u32 len)
{
#ifdef XLB_CUT_STATS   /* stage cut: no per-CPU counters */
	if (1)
		return;
#endif
	struct xlb_counters *c = bpf_map_lookup_elem(map, &idx);

	if (c) {
		c->packets++;
#ifndef XLB_FAULT_STATS_BYTES   /* fault: reason, forwarding and endpoint byte counts are not bumped */
		c->bytes += len;
#endif
	}
}

static __always_inline void stats_reason(__u32 reason, __u32 len) { stats_add(&xlb_reasons, reason, len); }
static __always_inline void stats_fwd(__u32 res, __u32 len) { stats_add(&xlb_fwd, res, len); }

/* Service and endpoint traffic; flow: 1 when the packet created a flow, drop: 1 when dropped. */
static __always_inline void stats_service(__u32 svc_id, __u32 slot, __u32 len, int flow, int drop)
{
	struct xlb_svc_stats *s;

#ifdef XLB_CUT_STATS
	if (1)
		return;
#endif
	s = bpf_map_lookup_elem(&xlb_svc_stats, &svc_id);

	if (s) {
		s->packets++;
		s->bytes += len;
#ifndef XLB_FAULT_STATS_SVC_FLOWS   /* fault: a service's flow count is not bumped */
		s->flows += flow;
#endif
#ifndef XLB_FAULT_STATS_SVC_DROPS   /* fault: a service's drop count is not bumped */
		s->drops += drop;
#endif
	}
#ifndef XLB_FAULT_STATS_EP   /* fault: endpoint counters are not bumped */
	if (slot < XLB_MAX_EP)
		stats_add(&xlb_ep_stats, svc_id * XLB_MAX_EP + slot, len);
#endif
}

#endif /* XLB_STATS_H */
