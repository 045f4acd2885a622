/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The hook abstraction: the pipeline stages are written once against xlb_ctx_t and these
 * helpers; an entry file defines XLB_HOOK_XDP or XLB_HOOK_TC before including the pipeline.
 *
 * Checksums: at TC the kernel helpers (bpf_l3/l4_csum_replace) are used, because only they
 * know skb->ip_summed and update a CHECKSUM_PARTIAL pseudo-header sum or a CHECKSUM_COMPLETE
 * skb->csum correctly. At XDP there is no checksum state: the full checksum in the packet is
 * updated incrementally by hand (RFC 1624).
 */
#ifndef XLB_HOOK_H
#define XLB_HOOK_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "csum.h"
#include "xlb_maps.h"

#if defined(XLB_HOOK_XDP) == defined(XLB_HOOK_TC)
#error "define exactly one of XLB_HOOK_XDP, XLB_HOOK_TC"
#endif

#ifdef XLB_HOOK_XDP
typedef struct xdp_md xlb_ctx_t;
#define XLB_ACT_PASS   XDP_PASS
#define XLB_ACT_DROP   XDP_DROP
#define XLB_HOOK_ID    1

static __always_inline void *ctx_data(xlb_ctx_t *ctx) { return (void *)(long)ctx->data; }
static __always_inline void *ctx_data_end(xlb_ctx_t *ctx) { return (void *)(long)ctx->data_end; }
static __always_inline __u32 ctx_ifindex(xlb_ctx_t *ctx) { return ctx->ingress_ifindex; }
static __always_inline __u32 ctx_len(xlb_ctx_t *ctx) { return ctx->data_end - ctx->data; }
/* XDP sees a tag only in-band (with RX VLAN offload on, the NIC strips it unseen). */
static __always_inline int ctx_vlan_meta(xlb_ctx_t *ctx) { return 0; }

/* Returns the hook verdict for "send out of ifindex". */
static __always_inline int hook_redirect(xlb_ctx_t *ctx, __u32 ifindex, __u32 *fwd)
{
	if (ifindex == ctx->ingress_ifindex) {
		*fwd = XLB_FWD_TX;
		return XDP_TX;
	}
	*fwd = XLB_FWD_REDIRECT;
	return bpf_redirect(ifindex, 0);
}
#else
typedef struct __sk_buff xlb_ctx_t;
#define XLB_ACT_PASS   TC_ACT_OK
#define XLB_ACT_DROP   TC_ACT_SHOT
#define XLB_HOOK_ID    0

static __always_inline void *ctx_data(xlb_ctx_t *ctx) { return (void *)(long)ctx->data; }
static __always_inline void *ctx_data_end(xlb_ctx_t *ctx) { return (void *)(long)ctx->data_end; }
static __always_inline __u32 ctx_ifindex(xlb_ctx_t *ctx) { return ctx->ifindex; }
static __always_inline __u32 ctx_len(xlb_ctx_t *ctx) { return ctx->len; }
/* TC: the stack has usually moved the outer tag into skb metadata before the ingress hook. */
static __always_inline int ctx_vlan_meta(xlb_ctx_t *ctx) { return ctx->vlan_present; }

static __always_inline int hook_redirect(xlb_ctx_t *ctx, __u32 ifindex, __u32 *fwd)
{
	*fwd = XLB_FWD_REDIRECT;
	return bpf_redirect(ifindex, 0);
}
#endif

/* Bytes of headers the stages read directly: Ethernet + 2 VLAN tags + IPv6 + extension headers
 * + TCP with options, or an ICMP error with its quoted headers. */
#define XLB_PULL_LEN 256

/*
 * Makes the headers directly readable. At TC the linear part of an skb may end before the
 * headers do (the rest sits in page frags); bpf_skb_pull_data copies up to XLB_PULL_LEN bytes
 * into the linear part. Returns 1 when it called the helper: packet pointers must then be
 * reloaded, whether or not the pull succeeded (a failed pull leaves the headers unreadable and
 * the parser counts the packet as malformed). XDP
 * buffers of one fragment are always fully readable.
 */
static __always_inline int hook_pull_headers(xlb_ctx_t *ctx, __u32 pkt_len)
{
#ifdef XLB_HOOK_XDP
	return 0;
#else
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	__u32 want = pkt_len < XLB_PULL_LEN ? pkt_len : XLB_PULL_LEN;

	if (data + want <= end)
		return 0;
	bpf_skb_pull_data(ctx, want);
	return 1;
#endif
}

/* Largest offset of a header the stages touch (Ethernet + VLAN + IPv6 + extension headers). */
#define XLB_MAX_OFF 255
_Static_assert((XLB_MAX_OFF & (XLB_MAX_OFF + 1)) == 0, "XLB_MAX_OFF must be 2^n - 1: xlb_bound_off masks with it");

/*
 * An offset that passed `off > XLB_MAX_OFF` checks, bounded again on the register the packet
 * pointer is built from. The compiler may compare a copy of the offset and build the pointer
 * from another register; the 6.1 verifier then knows the pointer's offset only as < 2^32 and
 * refuses the access after the `p + n > end` check (seen in nat_write_port, docs/kernel-matrix.md);
 * 6.12's verifier carries the bound across. The empty asm hides the earlier check from the
 * compiler, so the mask is kept: a no-op on the value, a bound for the verifier.
 */
static __always_inline __u32 xlb_bound_off(__u32 off)
{
	asm volatile("" : "+r"(off));
	return off & XLB_MAX_OFF;
}

/* A checksum field at off, updated in place by a one's-complement difference (RFC 1624); udp:
 * a zero UDP checksum means "none" and stays zero, a computed zero is sent as 0xffff. -1 when
 * the field is not in the packet's linear data. */
static __always_inline int csum_field_apply(xlb_ctx_t *ctx, __u32 off, __u32 diff, int udp)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	__sum16 *p;
	__u16 v;

	if (off > XLB_MAX_OFF)
		return -1;
	p = data + xlb_bound_off(off);
	if ((void *)(p + 1) > end)
		return -1;
	if (udp && *p == 0)
		return 0;
	v = csum_fold(csum_add(diff, ~((__u32)*p) & 0xffff));
	if (udp && v == 0)
		v = 0xffff;
	*p = v;
	return 0;
}

/*
 * Apply a one's-complement difference to the IPv4 header checksum at offset off, in place at
 * both hooks. At TC this is what bpf_l3_csum_replace does with a diff (the header checksum is
 * no part of skb->csum's state: a header whose checksum follows its fields sums the same), less
 * the helper call: the packet is already writable (the direct writes before it) and the field
 * is in the pulled headers. One helper call less per translated IPv4 packet at TC.
 */
static __always_inline int hook_l3_csum(xlb_ctx_t *ctx, __u32 off, __u32 diff)
{
	return csum_field_apply(ctx, off, diff, 0);
}

/*
 * TC, CHECKSUM_COMPLETE: skb->csum is the sum of the packet from the network header on; it must
 * follow every change of the bytes that no checksum field compensates. Adds diff to it (the
 * helper does nothing unless the skb is CHECKSUM_COMPLETE). XDP has no skb->csum.
 */
static __always_inline void hook_rcsum_add(xlb_ctx_t *ctx, __u32 diff)
{
#ifndef XLB_HOOK_XDP
	bpf_csum_update(ctx, diff);
#endif
}

#ifndef XLB_HOOK_XDP
/*
 * TC: whether the skb carries no checksum state beyond its L4 field (ip_summed CHECKSUM_NONE or
 * CHECKSUM_UNNECESSARY: a test run's skb, a NIC that validated the checksum, a veth peer whose
 * sender computed it). Then the field is updated in place as at XDP, which is all that
 * bpf_l4_csum_replace does for those states, without the helper call (one or two per
 * translated packet: −10 to −20 % of an established packet at TC, docs/datapath.md). PARTIAL
 * (a local sender's offloaded checksum: the field holds the pseudo-header sum) and COMPLETE
 * (skb->csum) keep the helpers. ip_summed is read from the kernel's sk_buff through
 * bpf_cast_to_kern_ctx (Linux 6.2); the loader sets CONFIG_XLB_KERN_CTX (a libbpf kconfig
 * value, src/datapath/loader.ts) when the kernel has it, so on older kernels the verifier
 * prunes the call and the helpers do every update.
 */
extern _Bool CONFIG_XLB_KERN_CTX __kconfig __weak;
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

struct sk_buff___xlb {
	__u8 ip_summed : 2;
} __attribute__((preserve_access_index));

static __always_inline int hook_csum_in_place(xlb_ctx_t *ctx)
{
	struct sk_buff___xlb *skb;

	if (!CONFIG_XLB_KERN_CTX)
		return 0;
	skb = bpf_cast_to_kern_ctx(ctx);
	return BPF_CORE_READ_BITFIELD(skb, ip_summed) <= 1;   /* CHECKSUM_NONE, CHECKSUM_UNNECESSARY */
}
#endif

/*
 * Apply a difference to an L4 checksum at offset off. pseudo: the difference comes from
 * pseudo-header fields (addresses); v6: of an IPv6 packet. udp: a zero checksum means "none" and
 * stays zero, a computed zero is sent as 0xffff.
 *
 * At TC the helper updates the field for every ip_summed state, and with BPF_F_PSEUDO_HDR on a
 * CHECKSUM_COMPLETE skb it also subtracts diff from skb->csum. That is right for IPv4 only: there
 * the header checksum (bpf_l3_csum_replace, which leaves skb->csum alone) absorbs the address
 * change, so the bytes' sum moves by the L4 field's change alone. For IPv6 (no header checksum)
 * the address change and the L4 field's change cancel: skb->csum must not move. Kernels from
 * 6.16 take BPF_F_IPV6 to skip that subtraction; older ones do not know the flag (-EINVAL). So
 * the subtraction is undone on every kernel with hook_rcsum_add(diff), which is exact
 * (csum - diff + diff) and needs no detection at load; the cost is one helper call per IPv6
 * packet whose addresses change. (Before dpfix2 the comment here said the helpers handled
 * COMPLETE; for IPv6 they did not: a stale skb->csum makes the receiver's checksum validation
 * fall back to software and report "hw csum failure".)
 */
static __always_inline int hook_l4_csum(xlb_ctx_t *ctx, __u32 off, __u32 diff, int pseudo, int udp, int v6)
{
#ifdef XLB_HOOK_XDP
	return csum_field_apply(ctx, off, diff, udp);
#else
	__u64 flags = (pseudo ? BPF_F_PSEUDO_HDR : 0) | (udp ? BPF_F_MARK_MANGLED_0 : 0);

	/* in place when no checksum state depends on the field; one beyond the linear data goes
	 * to the helper, which pulls it */
	if (hook_csum_in_place(ctx) && !csum_field_apply(ctx, off, diff, udp))
		return 0;
	if (bpf_l4_csum_replace(ctx, off, 0, diff, flags))
		return -1;
	if (pseudo && v6)
		hook_rcsum_add(ctx, diff);
	return 0;
#endif
}

#endif /* XLB_HOOK_H */
