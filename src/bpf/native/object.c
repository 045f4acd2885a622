// Opening and loading BPF objects (bpf_object__open_file + bpf_object__load) with a pin root,
// max_entries and program type overrides; closing them.
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xlb_obj {
	struct bpf_object *obj;
};

static void obj_finalize(napi_env env, void *data, void *hint)
{
	struct xlb_obj *o = data;
	if (o->obj)
		bpf_object__close(o->obj);
	free(o);
}

static void append(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf);
	if (n + 1 >= cap)
		return;
	snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", s);
}

static char *map_names(struct bpf_object *obj)
{
	static char buf[2048];
	buf[0] = 0;
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj) append(buf, sizeof(buf), bpf_map__name(m));
	return buf;
}

static char *prog_names(struct bpf_object *obj)
{
	static char buf[2048];
	buf[0] = 0;
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) append(buf, sizeof(buf), bpf_program__name(p));
	return buf;
}

static napi_value map_desc(napi_env env, struct bpf_map *m)
{
	napi_value o;
	napi_create_object(env, &o);
	xlb_set(env, o, "name", xlb_str(env, bpf_map__name(m)));
	const char *t = libbpf_bpf_map_type_str(bpf_map__type(m));
	xlb_set(env, o, "type", xlb_str(env, t ? t : "unknown"));
	xlb_set(env, o, "keySize", xlb_u32(env, bpf_map__key_size(m)));
	xlb_set(env, o, "valueSize", xlb_u32(env, bpf_map__value_size(m)));
	xlb_set(env, o, "maxEntries", xlb_u32(env, bpf_map__max_entries(m)));
	xlb_set(env, o, "flags", xlb_u32(env, bpf_map__map_flags(m)));
	xlb_set(env, o, "fd", xlb_i32(env, bpf_map__fd(m)));
	const char *pp = bpf_map__pin_path(m);
	if (pp && bpf_map__is_pinned(m))
		xlb_set(env, o, "pinPath", xlb_str(env, pp));
	return o;
}

static napi_value prog_desc(napi_env env, struct bpf_program *p)
{
	napi_value o;
	napi_create_object(env, &o);
	xlb_set(env, o, "name", xlb_str(env, bpf_program__name(p)));
	const char *t = libbpf_bpf_prog_type_str(bpf_program__type(p));
	xlb_set(env, o, "type", xlb_str(env, t ? t : "unknown"));
	xlb_set(env, o, "section", xlb_str(env, bpf_program__section_name(p)));
	xlb_set(env, o, "fd", xlb_i32(env, bpf_program__fd(p)));
	return o;
}

static int prog_type_of(const char *s, enum bpf_prog_type *out)
{
	if (strcmp(s, "xdp") == 0)
		*out = BPF_PROG_TYPE_XDP;
	else if (strcmp(s, "sched_cls") == 0)
		*out = BPF_PROG_TYPE_SCHED_CLS;
	else
		return -1;
	return 0;
}

// objOpen(path, pinDir|null, logLevel, meNames[], meValues[], ptNames[], ptValues[], kconfig|null)
//   -> { handle, maps: MapDesc[], programs: ProgDesc[] }
static napi_value obj_open(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 8);
	char *path = xlb_get_string(env, argv[0]);
	char *pin = xlb_is_nullish(env, argv[1]) ? NULL : xlb_get_string(env, argv[1]);
	/* CONFIG_* values for the object's __kconfig externs (libbpf then reads no system Kconfig
	 * for them) */
	char *kconfig = xlb_is_nullish(env, argv[7]) ? NULL : xlb_get_string(env, argv[7]);
	uint32_t log_level = 0;
	xlb_get_u32(env, argv[2], &log_level);
	napi_value result = NULL;
	struct bpf_object *obj = NULL;
	char detail[1024];

	if (!path) {
		xlb_throw(env, "open", "", EINVAL, "the object path must be a string", NULL);
		goto out;
	}
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin, .kernel_log_level = log_level, .kconfig = kconfig);
	xlb_log_begin(log_level > 0);
	obj = bpf_object__open_file(path, &oo);
	if (!obj) {
		int err = errno;
		char *tail = xlb_log_tail(xlb_log_end(), 6);
		xlb_throw(env, "open", path, err, tail, NULL);
		free(tail);
		goto out;
	}

	/* Without a pin directory nothing is pinned or reused: libbpf would otherwise default
	 * to /sys/fs/bpf, shared by every run on the host. */
	if (!pin) {
		struct bpf_map *pm;
		bpf_object__for_each_map(pm, obj) bpf_map__set_pin_path(pm, NULL);
	}

	uint32_t n;
	napi_get_array_length(env, argv[3], &n);
	for (uint32_t i = 0; i < n; i++) {
		napi_value k, v;
		napi_get_element(env, argv[3], i, &k);
		napi_get_element(env, argv[4], i, &v);
		char *name = xlb_get_string(env, k);
		uint32_t me = 0;
		xlb_get_u32(env, v, &me);
		struct bpf_map *m = name ? bpf_object__find_map_by_name(obj, name) : NULL;
		if (!m) {
			snprintf(detail, sizeof(detail), "maxEntries names map '%s' but the object has only: %s",
				 name ? name : "?", map_names(obj));
			xlb_log_end();
			xlb_throw(env, "open", path, ENOENT, detail, NULL);
			free(name);
			goto fail;
		}
		int err = bpf_map__set_max_entries(m, me);
		free(name);
		if (err) {
			xlb_log_end();
			xlb_throw(env, "set max_entries", bpf_map__name(m), err, NULL, NULL);
			goto fail;
		}
	}
	napi_get_array_length(env, argv[5], &n);
	for (uint32_t i = 0; i < n; i++) {
		napi_value k, v;
		napi_get_element(env, argv[5], i, &k);
		napi_get_element(env, argv[6], i, &v);
		char *name = xlb_get_string(env, k);
		char *type = xlb_get_string(env, v);
		struct bpf_program *p = name ? bpf_object__find_program_by_name(obj, name) : NULL;
		enum bpf_prog_type pt;
		if (!p || !type || prog_type_of(type, &pt)) {
			if (!p)
				snprintf(detail, sizeof(detail),
					 "programTypes names program '%s' but the object has only: %s",
					 name ? name : "?", prog_names(obj));
			else
				snprintf(detail, sizeof(detail),
					 "programTypes['%s'] is '%s'; use 'xdp' or 'sched_cls'", name,
					 type ? type : "?");
			xlb_log_end();
			xlb_throw(env, "open", path, p ? EINVAL : ENOENT, detail, NULL);
			free(name);
			free(type);
			goto fail;
		}
		bpf_program__set_type(p, pt);
		free(name);
		free(type);
	}

	if (bpf_object__load(obj)) {
		int err = errno;
		const char *log = xlb_log_end();
		char *vlog = xlb_verifier_tail(log, 40);
		char prog[256] = "";
		const char *pl = strstr(log, "prog '");
		char target[1400];
		/* libbpf names the failing program: "prog 'NAME': BPF program load failed" */
		for (const char *s = pl; s; s = strstr(s + 1, "prog '")) {
			if (strstr(s, "': BPF program load failed") ==
			    s + 6 + strcspn(s + 6, "'")) {
				size_t len = strcspn(s + 6, "'");
				if (len >= sizeof(prog))
					len = sizeof(prog) - 1;
				memcpy(prog, s + 6, len);
				prog[len] = 0;
				break;
			}
		}
		if (prog[0])
			snprintf(target, sizeof(target), "%s (program %s)", path, prog);
		else
			snprintf(target, sizeof(target), "%s", path);
		/* The libbpf lines outside the verifier dump say which map/program failed. */
		char *tail = NULL;
		{
			char *copy = strdup(log);
			if (copy) {
				char *b = strstr(copy, "-- BEGIN PROG LOAD LOG --");
				char *e = b ? strstr(b, "-- END PROG LOAD LOG --") : NULL;
				if (b && e) {
					e = strchr(e, '\n');
					memmove(b, e ? e + 1 : b + strlen(b), strlen(e ? e + 1 : "") + 1);
				}
				tail = xlb_log_tail(copy, 4);
				free(copy);
			}
		}
		xlb_throw(env, "load", target, err, tail, vlog);
		free(tail);
		free(vlog);
		goto fail;
	}
	xlb_log_end();

	struct xlb_obj *h = calloc(1, sizeof(*h));
	if (!h) {
		xlb_throw(env, "open", path, ENOMEM, NULL, NULL);
		goto fail;
	}
	h->obj = obj;
	napi_value handle, maps, progs;
	napi_create_external(env, h, obj_finalize, NULL, &handle);
	obj = NULL;
	napi_create_object(env, &result);
	xlb_set(env, result, "handle", handle);
	napi_create_array(env, &maps);
	napi_create_array(env, &progs);
	uint32_t i = 0;
	struct bpf_map *m;
	bpf_object__for_each_map(m, h->obj) napi_set_element(env, maps, i++, map_desc(env, m));
	i = 0;
	struct bpf_program *p;
	bpf_object__for_each_program(p, h->obj) napi_set_element(env, progs, i++, prog_desc(env, p));
	xlb_set(env, result, "maps", maps);
	xlb_set(env, result, "programs", progs);
	goto out;
fail:
	bpf_object__close(obj);
out:
	free(path);
	free(pin);
	free(kconfig);
	return result;
}

// objClose(handle): closes the object and every fd it owns. Idempotent.
static napi_value obj_close(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	void *data = NULL;
	NAPI_OK(env, napi_get_value_external(env, argv[0], &data));
	struct xlb_obj *o = data;
	if (o->obj) {
		bpf_object__close(o->obj);
		o->obj = NULL;
	}
	return NULL;
}

void xlb_init_object(napi_env env, napi_value exports)
{
	static const xlb_fn fns[] = {
		{ "objOpen", obj_open },
		{ "objClose", obj_close },
	};
	xlb_register(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
