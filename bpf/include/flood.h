/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The new-flow rate guard (Katran's is_under_flood): each CPU counts the packets that reach flow
 * creation (after the service lookup and the mid-stream policy) in windows of one second. While
 * a window holds more than xlb_config.new_flow_rate of them, a mid-stream TCP packet creates no
 * flow (XLB_R_DROP_FLOOD): a flood of spoofed ACKs cannot push live flows out of the LRU table,
 * while pure SYNs, UDP and ICMP echo still open flows. Refused packets count too, so the guard
 * stays engaged for as long as the flood lasts. Per-CPU state (no atomics): with several CPUs the
 * machine admits up to rate x CPUs per second. Internal map, not pinned (like xlb_rr's cursors,
 * it starts over at a reload).
 */
#ifndef XLB_FLOOD_H
#define XLB_FLOOD_H

#include "conntrack.h"

struct xlb_flood {
	__u64 window_ns;   /* start of the current one-second window */
	__u64 count;       /* flow-creating packets in it */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_flood);
} xlb_flood SEC(".maps");

/* Count one flow-creating packet; 1 when this CPU's window is over the rate (the guard engaged). */
static __always_inline int flood_count(const struct xlb_config *cfg, __u64 now)
{
	__u32 zero = 0, rate = cfg->new_flow_rate;
	struct xlb_flood *f;

	if (rate == 0)
		return 0;
	f = bpf_map_lookup_elem(&xlb_flood, &zero);
	if (!f)
		return 0;
	if (now - f->window_ns >= NSEC_PER_SEC) {
		f->window_ns = now;
		f->count = 0;
	}
	f->count++;
	return f->count > rate;
}

#endif /* XLB_FLOOD_H */
