/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-CPU working memory for structures too large for the 512-byte BPF stack budget (the fast
 * path tail-calls, which limits each frame to 256 bytes). Not pinned, not part of the schema.
 */
#ifndef XLB_SCRATCH_H
#define XLB_SCRATCH_H

#include "xlb_maps.h"

struct xlb_tmp {
	struct bpf_fib_lookup fib;
	struct xlb_svc_key sk;
	struct xlb_persist_key pk;
	struct xlb_persist_entry pe;
	__u8 l2[24];   /* icmp.h: the L2 header of a packet turned into ICMP too-big (off the slow path's stack) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_tmp);
} xlb_tmp SEC(".maps");

static __always_inline struct xlb_tmp *tmp_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xlb_tmp, &zero);
}

#endif /* XLB_SCRATCH_H */
