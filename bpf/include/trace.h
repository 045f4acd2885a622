/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Trace: one xlb_trace_event per packet to the xlb_trace ring buffer while xlb_config.flags has
 * XLB_CFG_F_TRACE (switched at run time, no reload). A full ring drops events silently.
 */
#ifndef XLB_TRACE_H
#define XLB_TRACE_H

#include "parse.h"

struct xlb_verdict {
	__u32 svc_id;
	__u16 ep_slot;
	__u8 ct_old;
	__u8 ct_new;
};

static __always_inline void trace_emit(xlb_ctx_t *ctx, const struct xlb_config *cfg, const struct xlb_pkt *p,
				       const struct xlb_verdict *v, int act, __u32 reason, __u64 now)
{
	struct xlb_trace_event *ev;

	if (!(cfg->flags & XLB_CFG_F_TRACE))
		return;
	ev = bpf_ringbuf_reserve(&xlb_trace, sizeof(*ev), 0);
	if (!ev)
		return;
	ev->ts_ns = now;
	__builtin_memcpy(&ev->key, &p->key, sizeof(ev->key));
	ev->svc_id = v->svc_id;
	ev->ifindex = ctx_ifindex(ctx);
	ev->reason = reason;
#ifdef XLB_FAULT_TRACE_EP_SLOT   /* fault: the trace names the wrong endpoint slot */
	ev->ep_slot = v->ep_slot + 1;
#else
	ev->ep_slot = v->ep_slot;
#endif
	ev->verdict = act;
	ev->ct_old = v->ct_old;
#ifdef XLB_FAULT_TRACE_CT_NEW   /* fault: the trace reports the old conntrack state as the new one */
	ev->ct_new = v->ct_old;
#else
	ev->ct_new = v->ct_new;
#endif
	ev->hook = XLB_HOOK_ID;
	ev->pkt_len = p->len;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
}

#endif /* XLB_TRACE_H */
