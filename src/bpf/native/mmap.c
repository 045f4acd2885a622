// Memory-mapped BPF arrays (BPF_F_MMAPABLE): the map's values as one shared memory region, so a
// whole run of entries (a Maglev table: thousands of positions) is written with one memcpy
// instead of one bpf() update per entry. JavaScript never holds a pointer into the region: it
// gets an opaque handle and copies through mmapWrite/mmapRead, which check bounds and refuse
// after mmapClose, so no view can outlive the mapping. The mapping holds its own reference to
// the map in the kernel; a handle that is never closed is unmapped when it is collected.
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct xlb_mmap {
	void *addr; /* NULL once unmapped */
	size_t len;
};

static void mmap_release(struct xlb_mmap *m)
{
	if (m->addr) {
		munmap(m->addr, m->len);
		m->addr = NULL;
	}
}

static void mmap_finalize(napi_env env, void *data, void *hint)
{
	struct xlb_mmap *m = data;
	mmap_release(m);
	free(m);
}

static struct xlb_mmap *get_mmap(napi_env env, napi_value v)
{
	void *p = NULL;
	if (napi_get_value_external(env, v, &p) != napi_ok)
		return NULL;
	return p;
}

// mmapOpen(fd, bytes) -> handle | -errno. bytes: the region to map, from offset 0 (at most the
// map's max_entries × round_up(value_size, 8), which the kernel checks).
static napi_value mmap_open(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 2);
	int32_t fd;
	int64_t len;
	if (!xlb_get_i32(env, argv[0], &fd) || napi_get_value_int64(env, argv[1], &len) != napi_ok || len <= 0)
		return xlb_i32(env, -EINVAL);
	void *addr = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		return xlb_i32(env, -errno);
	struct xlb_mmap *m = calloc(1, sizeof(*m));
	if (!m) {
		munmap(addr, (size_t)len);
		return xlb_i32(env, -ENOMEM);
	}
	m->addr = addr;
	m->len = (size_t)len;
	napi_value h;
	if (napi_create_external(env, m, mmap_finalize, NULL, &h) != napi_ok) {
		mmap_release(m);
		free(m);
		return xlb_i32(env, -ENOMEM);
	}
	return h;
}

// mmapWrite(handle, offset, bytes) -> 0 | -errno (-EBADF after mmapClose, -ERANGE out of bounds)
static napi_value mmap_write(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 3);
	struct xlb_mmap *m = get_mmap(env, argv[0]);
	int64_t off;
	void *src;
	size_t n;
	if (!m || napi_get_value_int64(env, argv[1], &off) != napi_ok || !xlb_get_bytes(env, argv[2], &src, &n))
		return xlb_i32(env, -EINVAL);
	if (!m->addr)
		return xlb_i32(env, -EBADF);
	if (off < 0 || (uint64_t)off > m->len || n > m->len - (size_t)off)
		return xlb_i32(env, -ERANGE);
	memcpy((char *)m->addr + off, src, n);
	return xlb_i32(env, 0);
}

// mmapRead(handle, offset, out) -> 0 | -errno
static napi_value mmap_read(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 3);
	struct xlb_mmap *m = get_mmap(env, argv[0]);
	int64_t off;
	void *dst;
	size_t n;
	if (!m || napi_get_value_int64(env, argv[1], &off) != napi_ok || !xlb_get_bytes(env, argv[2], &dst, &n))
		return xlb_i32(env, -EINVAL);
	if (!m->addr)
		return xlb_i32(env, -EBADF);
	if (off < 0 || (uint64_t)off > m->len || n > m->len - (size_t)off)
		return xlb_i32(env, -ERANGE);
	memcpy(dst, (char *)m->addr + off, n);
	return xlb_i32(env, 0);
}

// mmapClose(handle): unmaps now (idempotent).
static napi_value mmap_close(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	struct xlb_mmap *m = get_mmap(env, argv[0]);
	if (m)
		mmap_release(m);
	return NULL;
}

void xlb_init_mmap(napi_env env, napi_value exports)
{
	static const xlb_fn fns[] = {
		{ "mmapOpen", mmap_open },
		{ "mmapWrite", mmap_write },
		{ "mmapRead", mmap_read },
		{ "mmapClose", mmap_close },
	};
	xlb_register(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
