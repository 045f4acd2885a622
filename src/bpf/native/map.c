// Map operations over raw fds: CRUD, iteration, batches, pin/get, create, info.
// The hot ones return 0 (or a count) on success and -errno on failure, so the TypeScript
// wrapper pays for an exception only when something is wrong.
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int neg_errno(int r)
{
	if (r >= 0)
		return r;
	return errno ? -errno : r;
}

// mapLookup(fd, key, valueOut) -> 0 | -errno
static napi_value map_lookup(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 3);
	int32_t fd;
	void *k, *v;
	size_t kl, vl;
	if (!xlb_get_i32(env, argv[0], &fd) || !xlb_get_bytes(env, argv[1], &k, &kl) ||
	    !xlb_get_bytes(env, argv[2], &v, &vl))
		return xlb_i32(env, -EINVAL);
	return xlb_i32(env, neg_errno(bpf_map_lookup_elem(fd, k, v)));
}

// mapUpdate(fd, key, value, flags) -> 0 | -errno
static napi_value map_update(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 4);
	int32_t fd;
	uint32_t flags;
	void *k, *v;
	size_t kl, vl;
	if (!xlb_get_i32(env, argv[0], &fd) || !xlb_get_bytes(env, argv[1], &k, &kl) ||
	    !xlb_get_bytes(env, argv[2], &v, &vl) || !xlb_get_u32(env, argv[3], &flags))
		return xlb_i32(env, -EINVAL);
	return xlb_i32(env, neg_errno(bpf_map_update_elem(fd, k, v, flags)));
}

// mapDelete(fd, key) -> 0 | -errno
static napi_value map_delete(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 2);
	int32_t fd;
	void *k;
	size_t kl;
	if (!xlb_get_i32(env, argv[0], &fd) || !xlb_get_bytes(env, argv[1], &k, &kl))
		return xlb_i32(env, -EINVAL);
	return xlb_i32(env, neg_errno(bpf_map_delete_elem(fd, k)));
}

// mapNextKey(fd, key|null, nextOut) -> 0 | -errno (-ENOENT after the last key)
static napi_value map_next_key(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 3);
	int32_t fd;
	void *k = NULL, *n;
	size_t kl, nl;
	if (!xlb_get_i32(env, argv[0], &fd) || !xlb_get_bytes(env, argv[2], &n, &nl))
		return xlb_i32(env, -EINVAL);
	if (!xlb_is_nullish(env, argv[1]) && !xlb_get_bytes(env, argv[1], &k, &kl))
		return xlb_i32(env, -EINVAL);
	return xlb_i32(env, neg_errno(bpf_map_get_next_key(fd, k, n)));
}

// mapLookupBatch(fd, keysOut, valuesOut, keySize, valueSize) -> count | -errno
// Reads the whole map in as many kernel batches as needed (capacity = keysOut / keySize).
static napi_value map_lookup_batch(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 5);
	int32_t fd;
	uint32_t ks, vs;
	void *keys, *vals;
	size_t kl, vl;
	if (!xlb_get_i32(env, argv[0], &fd) || !xlb_get_bytes(env, argv[1], &keys, &kl) ||
	    !xlb_get_bytes(env, argv[2], &vals, &vl) || !xlb_get_u32(env, argv[3], &ks) ||
	    !xlb_get_u32(env, argv[4], &vs) || ks == 0 || vs == 0)
		return xlb_i32(env, -EINVAL);
	size_t cap = kl / ks;
	if (vl / vs < cap)
		cap = vl / vs;
	/* The batch token is a bucket index for hash maps and a key for arrays. */
	size_t tsz = ks > 8 ? ks : 8;
	char *in = calloc(1, tsz), *out = calloc(1, tsz);
	if (!in || !out) {
		free(in);
		free(out);
		return xlb_i32(env, -ENOMEM);
	}
	size_t total = 0;
	int first = 1, ret = 0;
	while (total < cap) {
		__u32 count = (__u32)(cap - total);
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		int r = bpf_map_lookup_batch(fd, first ? NULL : in, out, (char *)keys + total * ks,
					     (char *)vals + total * vs, &count, &o);
		int err = r ? errno : 0;
		total += count;
		if (err == ENOENT)
			break;
		if (err) {
			ret = -err;
			break;
		}
		memcpy(in, out, tsz);
		first = 0;
	}
	free(in);
	free(out);
	return xlb_i32(env, ret ? ret : (int32_t)total);
}

// mapUpdateBatch(fd, keys, values, count, flags, doneOut: Uint32Array) -> 0 | -errno
static napi_value map_update_batch(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 6);
	int32_t fd;
	uint32_t count, flags;
	void *keys, *vals, *done;
	size_t kl, vl, dl;
	bool ta;
	if (!xlb_get_i32(env, argv[0], &fd) || !xlb_get_bytes(env, argv[1], &keys, &kl) ||
	    !xlb_get_bytes(env, argv[2], &vals, &vl) || !xlb_get_u32(env, argv[3], &count) ||
	    !xlb_get_u32(env, argv[4], &flags) ||
	    napi_is_typedarray(env, argv[5], &ta) != napi_ok || !ta)
		return xlb_i32(env, -EINVAL);
	napi_typedarray_type tt;
	napi_value ab;
	size_t off;
	if (napi_get_typedarray_info(env, argv[5], &tt, &dl, &done, &ab, &off) != napi_ok ||
	    tt != napi_uint32_array || dl < 1)
		return xlb_i32(env, -EINVAL);
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = flags);
	__u32 n = count;
	int r = bpf_map_update_batch(fd, keys, vals, &n, &o);
	((uint32_t *)done)[0] = n;
	return xlb_i32(env, r ? -errno : 0);
}

// mapDeleteBatch(fd, keys, keySize, count) -> deleted | -errno. Keys that are absent are
// skipped (the kernel stops a batch at the first absent key; we resume after it).
static napi_value map_delete_batch(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 4);
	int32_t fd;
	uint32_t ks, count;
	void *keys;
	size_t kl;
	if (!xlb_get_i32(env, argv[0], &fd) || !xlb_get_bytes(env, argv[1], &keys, &kl) ||
	    !xlb_get_u32(env, argv[2], &ks) || !xlb_get_u32(env, argv[3], &count) ||
	    (size_t)ks * count > kl)
		return xlb_i32(env, -EINVAL);
	uint32_t pos = 0, deleted = 0;
	while (pos < count) {
		__u32 n = count - pos;
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		int r = bpf_map_delete_batch(fd, (char *)keys + (size_t)pos * ks, &n, &o);
		int err = r ? errno : 0;
		deleted += n;
		pos += n;
		if (!err)
			break;
		if (err != ENOENT)
			return xlb_i32(env, -err);
		pos++; /* skip the absent key */
	}
	return xlb_i32(env, (int32_t)deleted);
}

// objPin(fd, path) -> 0 | -errno
static napi_value obj_pin(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 2);
	int32_t fd;
	if (!xlb_get_i32(env, argv[0], &fd))
		return xlb_i32(env, -EINVAL);
	char *path = xlb_get_string(env, argv[1]);
	if (!path)
		return xlb_i32(env, -EINVAL);
	int r = bpf_obj_pin(fd, path);
	int err = r ? -errno : 0;
	free(path);
	return xlb_i32(env, err);
}

// objGet(path) -> fd | -errno
static napi_value obj_get(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	char *path = xlb_get_string(env, argv[0]);
	if (!path)
		return xlb_i32(env, -EINVAL);
	int fd = bpf_obj_get(path);
	int err = fd < 0 ? -errno : fd;
	free(path);
	return xlb_i32(env, err);
}

// mapInfo(fd) -> { name, type, keySize, valueSize, maxEntries, flags, id } | -errno
static napi_value map_info(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	int32_t fd;
	if (!xlb_get_i32(env, argv[0], &fd))
		return xlb_i32(env, -EINVAL);
	struct bpf_map_info mi;
	memset(&mi, 0, sizeof(mi));
	__u32 len = sizeof(mi);
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		return xlb_i32(env, -errno);
	napi_value o;
	napi_create_object(env, &o);
	xlb_set(env, o, "name", xlb_str(env, mi.name));
	const char *t = libbpf_bpf_map_type_str(mi.type);
	xlb_set(env, o, "type", xlb_str(env, t ? t : "unknown"));
	xlb_set(env, o, "keySize", xlb_u32(env, mi.key_size));
	xlb_set(env, o, "valueSize", xlb_u32(env, mi.value_size));
	xlb_set(env, o, "maxEntries", xlb_u32(env, mi.max_entries));
	xlb_set(env, o, "flags", xlb_u32(env, mi.map_flags));
	xlb_set(env, o, "id", xlb_u32(env, mi.id));
	return o;
}

// mapCreate(type, keySize, valueSize, maxEntries, name, flags) -> fd | -errno
// type is libbpf's name ("hash", "array", "percpu_hash", "ringbuf", ...).
static napi_value map_create(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 6);
	char *type = xlb_get_string(env, argv[0]);
	char *name = xlb_get_string(env, argv[4]);
	uint32_t ks = 0, vs = 0, me = 0, flags = 0;
	xlb_get_u32(env, argv[1], &ks);
	xlb_get_u32(env, argv[2], &vs);
	xlb_get_u32(env, argv[3], &me);
	xlb_get_u32(env, argv[5], &flags);
	int ret = -EINVAL;
	if (type) {
		for (int t = 1; t < 64; t++) {
			const char *s = libbpf_bpf_map_type_str(t);
			if (s && strcmp(s, type) == 0) {
				LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
				int fd = bpf_map_create(t, name, ks, vs, me, &o);
				ret = fd < 0 ? -errno : fd;
				break;
			}
		}
	}
	free(type);
	free(name);
	return xlb_i32(env, ret);
}

// closeFd(fd) -> 0 | -errno
static napi_value close_fd(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	int32_t fd;
	if (!xlb_get_i32(env, argv[0], &fd) || fd < 0)
		return xlb_i32(env, -EBADF);
	return xlb_i32(env, close(fd) ? -errno : 0);
}

static napi_value num_possible_cpus(napi_env env, napi_callback_info info)
{
	return xlb_i32(env, libbpf_num_possible_cpus());
}

void xlb_init_map(napi_env env, napi_value exports)
{
	static const xlb_fn fns[] = {
		{ "mapLookup", map_lookup },
		{ "mapUpdate", map_update },
		{ "mapDelete", map_delete },
		{ "mapNextKey", map_next_key },
		{ "mapLookupBatch", map_lookup_batch },
		{ "mapUpdateBatch", map_update_batch },
		{ "mapDeleteBatch", map_delete_batch },
		{ "objPin", obj_pin },
		{ "objGet", obj_get },
		{ "mapInfo", map_info },
		{ "mapCreate", map_create },
		{ "closeFd", close_fd },
		{ "numPossibleCpus", num_possible_cpus },
	};
	xlb_register(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}

/* ---- scratch-buffer fast path ----
 * Decoding typed-array arguments costs more than the bpf() syscall itself, so the hot
 * single-element operations use two long-lived buffers registered once: the wrapper copies the
 * key (and value) in, calls with integers only, and copies the value out. */
struct scratch {
	unsigned char *key, *val;
	size_t key_len, val_len;
	napi_ref key_ref, val_ref;
};

/* One pair per N-API environment (main thread, each worker), kept as instance data. */
static struct scratch *get_scratch(napi_env env)
{
	void *d = NULL;
	if (napi_get_instance_data(env, &d) != napi_ok)
		return NULL;
	return d;
}

static void scratch_finalize(napi_env env, void *data, void *hint)
{
	free(data);
}

// mapScratch(keyBuf, valueBuf): registers the scratch buffers (kept alive until replaced).
static napi_value map_scratch(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 2);
	void *k, *v;
	size_t kl, vl;
	if (!xlb_get_bytes(env, argv[0], &k, &kl) || !xlb_get_bytes(env, argv[1], &v, &vl)) {
		xlb_throw(env, "register scratch buffers", "", EINVAL, "expected two Buffers", NULL);
		return NULL;
	}
	struct scratch *s = get_scratch(env);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s || napi_set_instance_data(env, s, scratch_finalize, NULL) != napi_ok) {
			free(s);
			xlb_throw(env, "register scratch buffers", "", ENOMEM, NULL, NULL);
			return NULL;
		}
	}
	if (s->key_ref)
		napi_delete_reference(env, s->key_ref);
	if (s->val_ref)
		napi_delete_reference(env, s->val_ref);
	napi_create_reference(env, argv[0], 1, &s->key_ref);
	napi_create_reference(env, argv[1], 1, &s->val_ref);
	s->key = k;
	s->key_len = kl;
	s->val = v;
	s->val_len = vl;
	return NULL;
}

// mapLookupS(fd) / mapUpdateS(fd, flags) / mapDeleteS(fd) / mapNextKeyS(fd, first):
// the scratch key (and value) in, 0 | -errno out. mapNextKeyS writes the next key into the
// value scratch.
static napi_value map_lookup_s(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	int32_t fd;
	struct scratch *s = get_scratch(env);
	if (!s || !xlb_get_i32(env, argv[0], &fd))
		return xlb_i32(env, -EINVAL);
	return xlb_i32(env, neg_errno(bpf_map_lookup_elem(fd, s->key, s->val)));
}

static napi_value map_update_s(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 2);
	int32_t fd;
	uint32_t flags;
	struct scratch *s = get_scratch(env);
	if (!s || !xlb_get_i32(env, argv[0], &fd) || !xlb_get_u32(env, argv[1], &flags))
		return xlb_i32(env, -EINVAL);
	return xlb_i32(env, neg_errno(bpf_map_update_elem(fd, s->key, s->val, flags)));
}

static napi_value map_delete_s(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	int32_t fd;
	struct scratch *s = get_scratch(env);
	if (!s || !xlb_get_i32(env, argv[0], &fd))
		return xlb_i32(env, -EINVAL);
	return xlb_i32(env, neg_errno(bpf_map_delete_elem(fd, s->key)));
}

static napi_value map_next_key_s(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 2);
	int32_t fd;
	bool first = false;
	struct scratch *s = get_scratch(env);
	if (!s || !xlb_get_i32(env, argv[0], &fd) || !xlb_get_bool(env, argv[1], &first))
		return xlb_i32(env, -EINVAL);
	return xlb_i32(env, neg_errno(bpf_map_get_next_key(fd, first ? NULL : s->key, s->val)));
}

void xlb_init_map_scratch(napi_env env, napi_value exports)
{
	static const xlb_fn fns[] = {
		{ "mapScratch", map_scratch },
		{ "mapLookupS", map_lookup_s },
		{ "mapUpdateS", map_update_s },
		{ "mapDeleteS", map_delete_s },
		{ "mapNextKeyS", map_next_key_s },
	};
	xlb_register(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
