// CPU affinity of the calling thread, and the kernel's coarse monotonic clock (sched_setaffinity/sched_getaffinity with pid 0). The
// `prog` backend pins the thread that issues BPF_PROG_TEST_RUN to one CPU: a test run executes
// on the CPU of its caller, and per-CPU maps (round-robin cursors, counters, scratch) are only
// deterministic when every run of a scenario lands on the same one.
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

// Room for the machine's CPU ids (CPU_ALLOC sizes the set; 4096 covers any sane host).
#define XLB_MAX_CPUS 4096

// setCpuAffinity(cpus: number[]) -> 0 | -errno
static napi_value set_cpu_affinity(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	bool is_array = false;
	if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array)
		return xlb_i32(env, -EINVAL);
	uint32_t n = 0;
	NAPI_OK(env, napi_get_array_length(env, argv[0], &n));
	if (n == 0)
		return xlb_i32(env, -EINVAL);
	cpu_set_t *set = CPU_ALLOC(XLB_MAX_CPUS);
	if (!set)
		return xlb_i32(env, -ENOMEM);
	size_t size = CPU_ALLOC_SIZE(XLB_MAX_CPUS);
	CPU_ZERO_S(size, set);
	for (uint32_t i = 0; i < n; i++) {
		napi_value v;
		uint32_t cpu;
		if (napi_get_element(env, argv[0], i, &v) != napi_ok || !xlb_get_u32(env, v, &cpu) ||
		    cpu >= XLB_MAX_CPUS) {
			CPU_FREE(set);
			return xlb_i32(env, -EINVAL);
		}
		CPU_SET_S(cpu, size, set);
	}
	int r = sched_setaffinity(0, size, set) ? -errno : 0;
	CPU_FREE(set);
	return xlb_i32(env, r);
}

// getCpuAffinity() -> number[] (CPU ids the calling thread may run on) | -errno
static napi_value get_cpu_affinity(napi_env env, napi_callback_info info)
{
	cpu_set_t *set = CPU_ALLOC(XLB_MAX_CPUS);
	if (!set)
		return xlb_i32(env, -ENOMEM);
	size_t size = CPU_ALLOC_SIZE(XLB_MAX_CPUS);
	CPU_ZERO_S(size, set);
	if (sched_getaffinity(0, size, set)) {
		int e = errno;
		CPU_FREE(set);
		return xlb_i32(env, -e);
	}
	napi_value out;
	napi_create_array(env, &out);
	uint32_t idx = 0;
	for (int cpu = 0; cpu < XLB_MAX_CPUS; cpu++) {
		if (CPU_ISSET_S(cpu, size, set))
			napi_set_element(env, out, idx++, xlb_u32(env, (uint32_t)cpu));
	}
	CPU_FREE(set);
	return out;
}

// currentCpu() -> the CPU the calling thread runs on now | -errno
static napi_value current_cpu(napi_env env, napi_callback_info info)
{
	int cpu = sched_getcpu();
	return xlb_i32(env, cpu < 0 ? -errno : cpu);
}

// monotonicCoarseNs() -> bigint: CLOCK_MONOTONIC_COARSE, the clock bpf_ktime_get_coarse_ns()
// reads, so user space can place a program's timestamps exactly (CLOCK_MONOTONIC runs up to a
// tick ahead of it).
static napi_value monotonic_coarse_ns(napi_env env, napi_callback_info info)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts))
		return xlb_i32(env, -errno);
	return xlb_u64big(env, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

void xlb_init_cpu(napi_env env, napi_value exports)
{
	static const xlb_fn fns[] = {
		{ "setCpuAffinity", set_cpu_affinity },
		{ "getCpuAffinity", get_cpu_affinity },
		{ "currentCpu", current_cpu },
		{ "monotonicCoarseNs", monotonic_coarse_ns },
	};
	xlb_register(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
