// SPDX-License-Identifier: GPL-2.0
/*
 * lab_peer: an XDP program that passes every frame, attached by the lab (never in production)
 * to the far end of each veth whose near end runs the XDP datapath.
 *
 * Why it exists: a frame the datapath returns XDP_TX for on a veth is queued on the peer's
 * receive ring, and the veth driver kicks the peer's NAPI for it (veth_xdp_flush) only when the
 * peer runs an XDP program of its own. GRO on the peer is enough for XDP_REDIRECT (that path
 * flushes the ring itself) but not for XDP_TX: the frame then sits in the ring until some later
 * frame from the stack wakes the peer, which in a lab is usually never. Seen on 6.18: the
 * datapath's xdp_tx counter rises, the peer receives nothing, no drop is traced; with this
 * program on the peer every XDP_TX'd frame arrives at once. A real NIC has no such peer.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int lab_peer_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
