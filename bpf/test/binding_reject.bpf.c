// Test-only BPF object that the verifier must reject: it reads packet data without a bounds
// check. The binding test asserts the load error carries the verifier's complaint.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_unchecked(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	return *(__u32 *)data == 0 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
