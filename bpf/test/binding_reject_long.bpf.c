// Test-only BPF object that the verifier must reject after a long log: 600 instructions, then a
// packet read without a bounds check. libbpf hands the whole log (tens of KiB) to the print
// callback in one message; the binding test asserts the error still ends with the verdict.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_unchecked_late(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	__u64 acc = ctx->data_end - ctx->data;
	int i;

	/* one verifier log line each; the empty asm keeps clang from folding the chain */
#pragma unroll
	for (i = 0; i < 600; i++)
		asm volatile("%0 += 1" : "+r"(acc));
	return *(__u32 *)data == acc ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
