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

/*
 * The TC half of the XDP datapath (clsact ingress of every device the XDP program runs on,
 * attached with it by the loader): a packet XDP passed with struct xlb_xdp_meta (neighbour
 * unknown, already rewritten, TTL decremented) is sent with bpf_redirect_neigh, which resolves the
 * neighbour and writes the MACs; anything else goes on untouched. Counted by XDP (redirect).
 */
SEC("tc")
int xlb_xdp_neigh(struct __sk_buff *skb)
{
	struct xlb_xdp_meta *m = (void *)(long)skb->data_meta;
	struct bpf_redir_neigh nh;

	if ((void *)(m + 1) > (void *)(long)skb->data || m->magic != XLB_XDP_META_MAGIC)
		return TC_ACT_OK;
	__builtin_memcpy(&nh, &m->nh, sizeof(nh));
	return bpf_redirect_neigh(m->ifindex, &nh, sizeof(nh), 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
