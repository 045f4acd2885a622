// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb datapath at XDP: the pipeline of include/pipeline.h over xdp_md. */
#define XLB_HOOK_XDP 1
#include "xlb_maps.h"

int xlb_xdp_slow(struct xdp_md *ctx);
XLB_DEFINE_PROG_ARRAY(xlb_xdp_slow);

#include "pipeline.h"

SEC("xdp")
int xlb_xdp_main(struct xdp_md *ctx)
{
	return xlb_fast(ctx);
}

SEC("xdp")
int xlb_xdp_slow(struct xdp_md *ctx)
{
	return xlb_slow(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
