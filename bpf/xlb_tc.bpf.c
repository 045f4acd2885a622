// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb datapath at TC (clsact ingress): the pipeline of include/pipeline.h over __sk_buff. */
#define XLB_HOOK_TC 1
#include "xlb_maps.h"

int xlb_tc_slow(struct __sk_buff *skb);
XLB_DEFINE_PROG_ARRAY(xlb_tc_slow);

#include "pipeline.h"

SEC("tc")
int xlb_tc_main(struct __sk_buff *skb)
{
	return xlb_fast(skb);
}

SEC("tc")
int xlb_tc_slow(struct __sk_buff *skb)
{
	return xlb_slow(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
