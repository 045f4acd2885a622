// Program operations: BPF_PROG_TEST_RUN, run-time stats, XDP and TC attach/detach/query,
// interface index lookup, and entering a network namespace on the calling thread.
#define _GNU_SOURCE
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// testRun(fd, data, dataOut|null, ctx|null, ctxOut|null, repeat, flags)
//   -> { err, retval, dataSize, ctxSize, durationNs }
static napi_value test_run(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 7);
	int32_t fd;
	uint32_t repeat = 0, flags = 0;
	void *data, *dout = NULL, *ctx = NULL, *cout = NULL;
	size_t dl, doutl = 0, cl = 0, coutl = 0;
	int err = 0;
	if (!xlb_get_i32(env, argv[0], &fd) || !xlb_get_bytes(env, argv[1], &data, &dl) ||
	    !xlb_get_u32(env, argv[5], &repeat) || !xlb_get_u32(env, argv[6], &flags))
		err = -EINVAL;
	if (!err && !xlb_is_nullish(env, argv[2]) && !xlb_get_bytes(env, argv[2], &dout, &doutl))
		err = -EINVAL;
	if (!err && !xlb_is_nullish(env, argv[3]) && !xlb_get_bytes(env, argv[3], &ctx, &cl))
		err = -EINVAL;
	if (!err && !xlb_is_nullish(env, argv[4]) && !xlb_get_bytes(env, argv[4], &cout, &coutl))
		err = -EINVAL;
	LIBBPF_OPTS(bpf_test_run_opts, o);
	if (!err) {
		o.data_in = data;
		o.data_size_in = dl;
		o.data_out = dout;
		o.data_size_out = doutl;
		o.ctx_in = cl ? ctx : NULL;
		o.ctx_size_in = cl;
		o.ctx_out = cout;
		o.ctx_size_out = coutl;
		o.repeat = (int)repeat;
		o.flags = flags;
		if (bpf_prog_test_run_opts(fd, &o))
			err = -errno;
	}
	napi_value r;
	napi_create_object(env, &r);
	xlb_set(env, r, "err", xlb_i32(env, err));
	xlb_set(env, r, "retval", xlb_u32(env, o.retval));
	xlb_set(env, r, "dataSize", xlb_u32(env, o.data_size_out));
	xlb_set(env, r, "ctxSize", xlb_u32(env, o.ctx_size_out));
	xlb_set(env, r, "durationNs", xlb_u32(env, o.duration));
	return r;
}

// progInfo(fd) -> { id, name, type, runTimeNs: bigint, runCount: bigint } | -errno
static napi_value prog_info(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	int32_t fd;
	if (!xlb_get_i32(env, argv[0], &fd))
		return xlb_i32(env, -EINVAL);
	struct bpf_prog_info pi;
	memset(&pi, 0, sizeof(pi));
	__u32 len = sizeof(pi);
	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		return xlb_i32(env, -errno);
	napi_value o;
	napi_create_object(env, &o);
	xlb_set(env, o, "id", xlb_u32(env, pi.id));
	xlb_set(env, o, "name", xlb_str(env, pi.name));
	const char *t = libbpf_bpf_prog_type_str(pi.type);
	xlb_set(env, o, "type", xlb_str(env, t ? t : "unknown"));
	xlb_set(env, o, "runTimeNs", xlb_u64big(env, pi.run_time_ns));
	xlb_set(env, o, "runCount", xlb_u64big(env, pi.run_cnt));
	return o;
}

// enableStats() -> fd | -errno   (BPF_ENABLE_STATS(BPF_STATS_RUN_TIME); stats stay on while
// the fd is open)
static napi_value enable_stats(napi_env env, napi_callback_info info)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	return xlb_i32(env, fd < 0 ? -errno : fd);
}

// xdpAttach(ifindex, fd, flags) -> 0 | -errno
static napi_value xdp_attach(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 3);
	int32_t ifx, fd;
	uint32_t flags;
	if (!xlb_get_i32(env, argv[0], &ifx) || !xlb_get_i32(env, argv[1], &fd) ||
	    !xlb_get_u32(env, argv[2], &flags))
		return xlb_i32(env, -EINVAL);
	return xlb_i32(env, bpf_xdp_attach(ifx, fd, flags, NULL) ? -errno : 0);
}

// xdpDetach(ifindex, flags) -> 0 | -errno
static napi_value xdp_detach(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 2);
	int32_t ifx;
	uint32_t flags;
	if (!xlb_get_i32(env, argv[0], &ifx) || !xlb_get_u32(env, argv[1], &flags))
		return xlb_i32(env, -EINVAL);
	return xlb_i32(env, bpf_xdp_detach(ifx, flags, NULL) ? -errno : 0);
}

// rawTpOpen(name, progFd) -> link fd | -errno. Attaches a raw_tp program to the tracepoint
// `name` (e.g. "kfree_skb"); closing the returned fd detaches it (nothing is pinned).
static napi_value raw_tp_open(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 2);
	int32_t fd;
	char *name = xlb_get_string(env, argv[0]);
	if (!name || !xlb_get_i32(env, argv[1], &fd)) {
		free(name);
		return xlb_i32(env, -EINVAL);
	}
	int r = bpf_raw_tracepoint_open(name, fd);
	int e = errno;
	free(name);
	return xlb_i32(env, r < 0 ? -e : r);
}

// xdpQuery(ifindex) -> { attachMode, progId, drvProgId, skbProgId, hwProgId } | -errno
static napi_value xdp_query(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	int32_t ifx;
	if (!xlb_get_i32(env, argv[0], &ifx))
		return xlb_i32(env, -EINVAL);
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (bpf_xdp_query(ifx, 0, &q))
		return xlb_i32(env, -errno);
	napi_value o;
	napi_create_object(env, &o);
	xlb_set(env, o, "attachMode", xlb_u32(env, q.attach_mode));
	xlb_set(env, o, "progId", xlb_u32(env, q.prog_id));
	xlb_set(env, o, "drvProgId", xlb_u32(env, q.drv_prog_id));
	xlb_set(env, o, "skbProgId", xlb_u32(env, q.skb_prog_id));
	xlb_set(env, o, "hwProgId", xlb_u32(env, q.hw_prog_id));
	return o;
}

static bool tc_args(napi_env env, napi_value *argv, int32_t *ifx, uint32_t *point,
		    uint32_t *handle, uint32_t *prio)
{
	return xlb_get_i32(env, argv[0], ifx) && xlb_get_u32(env, argv[1], point) &&
	       xlb_get_u32(env, argv[2], handle) && xlb_get_u32(env, argv[3], prio);
}

// tcAttach(ifindex, attachPoint (1 ingress, 2 egress), handle, priority, fd, replace)
//   -> 0 | -errno. Creates the clsact qdisc when missing.
static napi_value tc_attach(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 6);
	int32_t ifx, fd;
	uint32_t point, handle, prio;
	bool replace = false;
	if (!tc_args(env, argv, &ifx, &point, &handle, &prio) || !xlb_get_i32(env, argv[4], &fd) ||
	    !xlb_get_bool(env, argv[5], &replace))
		return xlb_i32(env, -EINVAL);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifx, .attach_point = point);
	int r = bpf_tc_hook_create(&hook);
	if (r && r != -EEXIST)
		return xlb_i32(env, r);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = handle, .priority = prio, .prog_fd = fd,
		    .flags = replace ? BPF_TC_F_REPLACE : 0);
	r = bpf_tc_attach(&hook, &o);
	return xlb_i32(env, r < 0 ? r : 0);
}

// tcDetach(ifindex, attachPoint, handle, priority) -> 0 | -errno
static napi_value tc_detach(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 4);
	int32_t ifx;
	uint32_t point, handle, prio;
	if (!tc_args(env, argv, &ifx, &point, &handle, &prio))
		return xlb_i32(env, -EINVAL);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifx, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = handle, .priority = prio);
	int r = bpf_tc_detach(&hook, &o);
	return xlb_i32(env, r < 0 ? r : 0);
}

// tcQuery(ifindex, attachPoint, handle, priority) -> progId | -errno (-ENOENT when none)
static napi_value tc_query(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 4);
	int32_t ifx;
	uint32_t point, handle, prio;
	if (!tc_args(env, argv, &ifx, &point, &handle, &prio))
		return xlb_i32(env, -EINVAL);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifx, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = handle, .priority = prio);
	int r = bpf_tc_query(&hook, &o);
	return xlb_i32(env, r < 0 ? r : (int32_t)o.prog_id);
}

// ifindex(name) -> index | -errno (in the calling thread's network namespace)
static napi_value if_index(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	char *name = xlb_get_string(env, argv[0]);
	if (!name)
		return xlb_i32(env, -EINVAL);
	unsigned idx = if_nametoindex(name);
	int err = idx ? (int)idx : -(errno ? errno : ENODEV);
	free(name);
	return xlb_i32(env, err);
}

// netnsEnter(path) -> fd of the previous namespace | -errno. Moves only the calling (main)
// thread; libuv's worker threads stay where they are.
static napi_value netns_enter(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	char *path = xlb_get_string(env, argv[0]);
	if (!path)
		return xlb_i32(env, -EINVAL);
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		free(path);
		return xlb_i32(env, -errno);
	}
	int target = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (target < 0) {
		int e = errno;
		close(self);
		return xlb_i32(env, -e);
	}
	int r = setns(target, CLONE_NEWNET);
	int e = errno;
	close(target);
	if (r) {
		close(self);
		return xlb_i32(env, -e);
	}
	return xlb_i32(env, self);
}

// netnsRestore(fd) -> 0 | -errno: returns to the namespace netnsEnter saved and closes fd.
static napi_value netns_restore(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	int32_t fd;
	if (!xlb_get_i32(env, argv[0], &fd))
		return xlb_i32(env, -EINVAL);
	int r = setns(fd, CLONE_NEWNET);
	int e = errno;
	close(fd);
	return xlb_i32(env, r ? -e : 0);
}

void xlb_init_prog(napi_env env, napi_value exports)
{
	static const xlb_fn fns[] = {
		{ "testRun", test_run },	 { "progInfo", prog_info },
		{ "enableStats", enable_stats }, { "xdpAttach", xdp_attach },
		{ "xdpDetach", xdp_detach },	 { "xdpQuery", xdp_query },
		{ "tcAttach", tc_attach },	 { "tcDetach", tc_detach },
		{ "tcQuery", tc_query },	 { "ifindex", if_index },
		{ "netnsEnter", netns_enter },	 { "netnsRestore", netns_restore },
		{ "rawTpOpen", raw_tp_open },
	};
	xlb_register(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
