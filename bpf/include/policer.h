/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Policer: a token bucket per service in packets per second, implemented as GCRA (a virtual
 * scheduling clock, tat). A packet conforms when tat - now <= burst * interval; it then moves
 * tat one interval forward. rate_pps 0 switches the policer off. Only client -> service packets
 * are policed. The read-modify-write of tat is not atomic: two CPUs may both admit a packet at
 * the edge, a documented approximation.
 */
#ifndef XLB_POLICER_H
#define XLB_POLICER_H

#include "conntrack.h"

static __always_inline int policer_admit(__u32 svc_id, __u64 now)
{
	struct xlb_policer *pl = bpf_map_lookup_elem(&xlb_policers, &svc_id);
	__u64 interval, tat;

	if (!pl || pl->rate_pps == 0)
		return 1;
	interval = NSEC_PER_SEC / pl->rate_pps;
	tat = pl->tat_ns;
	if ((__s64)(tat - now) < 0)
		tat = now;
#ifdef XLB_FAULT_POL_BURST   /* fault: the burst is twice the configured one */
	if (tat - now > (__u64)pl->burst * 2 * interval)
#else
	if (tat - now > (__u64)pl->burst * interval)
#endif
#ifdef XLB_FAULT_POL_NEVER_DROP   /* fault: the policer never drops */
		return 1;
#else
		return 0;
#endif
	pl->tat_ns = tat + interval;
	return 1;
}

#endif /* XLB_POLICER_H */
