/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: per reason, per forwarding result, per service, per endpoint slot. */
#ifndef XLB_STATS_H
#define XLB_STATS_H

#include "xlb_maps.h"

static __always_inline void stats_add(void *map, __u32 idx, __u32 len)
{
	struct xlb_counters *c = bpf_map_lookup_elem(map, &idx);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline void stats_reason(__u32 reason, __u32 len) { stats_add(&xlb_reasons, reason, len); }
static __always_inline void stats_fwd(__u32 res, __u32 len) { stats_add(&xlb_fwd, res, len); }

/* Service and endpoint traffic; flow: 1 when the packet created a flow, drop: 1 when dropped. */
static __always_inline void stats_service(__u32 svc_id, __u32 slot, __u32 len, int flow, int drop)
{
	struct xlb_svc_stats *s = bpf_map_lookup_elem(&xlb_svc_stats, &svc_id);

	if (s) {
		s->packets++;
		s->bytes += len;
		s->flows += flow;
		s->drops += drop;
	}
	if (slot < XLB_MAX_EP)
		stats_add(&xlb_ep_stats, svc_id * XLB_MAX_EP + slot, len);
}

#endif /* XLB_STATS_H */
