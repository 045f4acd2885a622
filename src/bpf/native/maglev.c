// The Maglev table's permutation fill (Eisenbud et al., NSDI 2016) in C, for the kernel
// adapter: a 100,000-service load builds 100,000 tables of 4,099 positions, and the probe loop
// (~20,000 probes per table of 8 members) is most of the load's time in JavaScript.
//
// This is a port of maglevFill in src/controller/lookup-tables.ts, which stays the reference:
// the caller computes each member's first position and skip (the hashes are the reference's),
// this fills the table, and src/bpf/maglev.test.ts checks it equals the TypeScript one byte for
// byte on random endpoint sets. Nothing here touches a map.
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XLB_MAGLEV_MAX_MEMBERS 256

static bool is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	for (uint32_t d = 2; (uint64_t)d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

// Grown on demand, one per thread (N-API calls come from the JavaScript thread of the env).
static _Thread_local uint8_t *filled;
static _Thread_local size_t filled_cap;

// maglevFill(m, members: Float64Array, k, out: Uint8Array) -> 0 | -errno
//   m: the table size, a prime; out: at least m bytes, positions 0..m-1 written, nothing past;
//   members: k × [first position (< m), skip (1..m-1), slot (0..255), weight (> 0)], in the
//   order the members take turns. k = 0 writes m zeros (the reference's "no active slot").
// -EINVAL for arguments outside that (the wrapper checks them first and says which), -ENOMEM.
static napi_value maglev_fill(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 4);
	uint32_t m, k;
	if (!xlb_get_u32(env, argv[0], &m) || !xlb_get_u32(env, argv[2], &k) || !is_prime(m) || k > XLB_MAGLEV_MAX_MEMBERS)
		return xlb_i32(env, -EINVAL);
	napi_typedarray_type type;
	size_t len;
	void *data;
	if (napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_float64_array ||
	    len < (size_t)k * 4)
		return xlb_i32(env, -EINVAL);
	const double *mem = data;
	void *outp;
	size_t outlen;
	if (!xlb_get_bytes(env, argv[3], &outp, &outlen) || outlen < m)
		return xlb_i32(env, -EINVAL);
	uint8_t *out = outp;
	if (k == 0) {
		memset(out, 0, m);
		return xlb_i32(env, 0);
	}

	uint32_t next[XLB_MAGLEV_MAX_MEMBERS], skip[XLB_MAGLEV_MAX_MEMBERS];
	uint8_t slot[XLB_MAGLEV_MAX_MEMBERS];
	double weight[XLB_MAGLEV_MAX_MEMBERS], credit[XLB_MAGLEV_MAX_MEMBERS];
	double max_w = 0;
	bool equal = true;
	for (uint32_t i = 0; i < k; i++) {
		double o = mem[i * 4], s = mem[i * 4 + 1], sl = mem[i * 4 + 2], w = mem[i * 4 + 3];
		// Whole numbers in range (NaN fails every comparison).
		if (!(o >= 0 && o < m && o == (uint32_t)o) || !(s >= 1 && s < m && s == (uint32_t)s) ||
		    !(sl >= 0 && sl <= 255 && sl == (uint32_t)sl) || !(w > 0 && w <= 1e15))
			return xlb_i32(env, -EINVAL);
		next[i] = (uint32_t)o;
		skip[i] = (uint32_t)s;
		slot[i] = (uint8_t)sl;
		weight[i] = w;
		credit[i] = 0;
		if (i > 0 && w != max_w)
			equal = false;
		if (w > max_w)
			max_w = w;
	}
	if (filled_cap < m) {
		uint8_t *p = realloc(filled, m);
		if (!p)
			return xlb_i32(env, -ENOMEM);
		filled = p;
		filled_cap = m;
	}
	uint8_t *f = filled;
	memset(f, 0, m);

	// As the reference: members take turns; with unequal weights a member takes a position per
	// full credit (credit accumulates its weight, a turn costs the largest weight). The credits
	// are doubles as in the reference, so the comparisons are the same.
	uint32_t n = 0;
	for (;;) {
		for (uint32_t i = 0; i < k; i++) {
			if (!equal) {
				double cr = credit[i] + weight[i];
				if (cr < max_w) {
					credit[i] = cr;
					continue;
				}
				credit[i] = cr - max_w;
			}
			uint32_t sk = skip[i], c = next[i];
			while (f[c]) {
				c += sk;
				if (c >= m)
					c -= m;
			}
			f[c] = 1;
			out[c] = slot[i];
			c += sk;
			next[i] = c >= m ? c - m : c;
			if (++n == m)
				return xlb_i32(env, 0);
		}
	}
}

void xlb_init_maglev(napi_env env, napi_value exports)
{
	static const xlb_fn fns[] = {
		{ "maglevFill", maglev_fill },
	};
	xlb_register(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
