/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One's-complement arithmetic for incremental checksum updates (RFC 1071/1624).
 * A "difference" is the unfolded 32-bit sum of the new 16-bit words plus the complement of the
 * old ones: the same value bpf_csum_diff() returns, so it feeds bpf_l3/l4_csum_replace with
 * size 0 at TC and csum_fold() at XDP.
 */
#ifndef XLB_CSUM_H
#define XLB_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u32 csum_add(__u32 a, __u32 b)
{
	__u32 s = a + b;

	return s + (s < b);
}

/* Fold a 32-bit sum to 16 bits and complement it: the checksum field value. */
static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* Difference for replacing n16 16-bit words (memory order) from -> to. */
static __always_inline __u32 csum_diff16(const __u16 *from, const __u16 *to, int n16, __u32 seed)
{
	__u32 s = seed;
	int i;

#pragma unroll
	for (i = 0; i < n16; i++) {
		s = csum_add(s, (__u16)~from[i]);
		s = csum_add(s, to[i]);
	}
	return s;
}

/* Difference of one 16-bit word. */
static __always_inline __u32 csum_diff_word(__u16 from, __u16 to, __u32 seed)
{
	return csum_add(csum_add(seed, (__u16)~from), to);
}

/* Difference of one 32-bit word (memory order). */
static __always_inline __u32 csum_diff_u32(__u32 from, __u32 to, __u32 seed)
{
	seed = csum_diff_word((__u16)from, (__u16)to, seed);
	return csum_diff_word((__u16)(from >> 16), (__u16)(to >> 16), seed);
}

#endif /* XLB_CSUM_H */
