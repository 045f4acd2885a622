// Reads the BTF of a compiled object (btf__parse on the ELF's .BTF section) and describes its
// named structs and unions: size and every member's offset, size and C spelling. Anonymous
// struct/union members are flattened, as C lets code name their fields directly.
#include "util.h"

#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void spell(const struct btf *btf, __u32 id, char *buf, size_t cap)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	if (!t || id == 0) {
		snprintf(buf, cap, "void");
		return;
	}
	const char *name = btf__name_by_offset(btf, t->name_off);
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_FWD:
		snprintf(buf, cap, "%s", name && *name ? name : "?");
		return;
	case BTF_KIND_STRUCT:
		snprintf(buf, cap, "struct %s", name && *name ? name : "{...}");
		return;
	case BTF_KIND_UNION:
		snprintf(buf, cap, "union %s", name && *name ? name : "{...}");
		return;
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		snprintf(buf, cap, "enum %s", name && *name ? name : "{...}");
		return;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = btf_array(t);
		spell(btf, a->type, buf, cap);
		size_t n = strlen(buf);
		snprintf(buf + n, cap - n, "[%u]", a->nelems);
		return;
	}
	case BTF_KIND_PTR: {
		spell(btf, t->type, buf, cap);
		size_t n = strlen(buf);
		snprintf(buf + n, cap - n, " *");
		return;
	}
	case BTF_KIND_CONST:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		spell(btf, t->type, buf, cap);
		return;
	default:
		snprintf(buf, cap, "kind%u", btf_kind(t));
	}
}

static __u32 skip_mods(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	while (t && (btf_is_mod(t) || btf_is_typedef(t))) {
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	return id;
}

static void add_members(napi_env env, const struct btf *btf, const struct btf_type *t,
			__u32 base_bits, napi_value arr, uint32_t *idx)
{
	const struct btf_member *m = btf_members(t);
	for (__u16 i = 0; i < btf_vlen(t); i++, m++) {
		const char *mname = btf__name_by_offset(btf, m->name_off);
		__u32 bits = base_bits + btf_member_bit_offset(t, i);
		const struct btf_type *mt = btf__type_by_id(btf, skip_mods(btf, m->type));
		if ((!mname || !*mname) && mt && (btf_is_struct(mt) || btf_is_union(mt))) {
			add_members(env, btf, mt, bits, arr, idx);
			continue;
		}
		char spelling[256];
		spell(btf, m->type, spelling, sizeof(spelling));
		__s64 size = btf__resolve_size(btf, m->type);
		napi_value o;
		napi_create_object(env, &o);
		xlb_set(env, o, "name", xlb_str(env, mname));
		xlb_set(env, o, "offset", xlb_u32(env, bits / 8));
		xlb_set(env, o, "bitOffset", xlb_u32(env, bits));
		xlb_set(env, o, "bitSize", xlb_u32(env, btf_member_bitfield_size(t, i)));
		xlb_set(env, o, "size", xlb_i32(env, size < 0 ? -1 : (int32_t)size));
		xlb_set(env, o, "type", xlb_str(env, spelling));
		napi_set_element(env, arr, (*idx)++, o);
	}
}

// The BTF of the object whose path is `arg`, or NULL with a JS exception thrown (what was wrong,
// with libbpf's last lines when it said why).
static struct btf *parse_btf_arg(napi_env env, napi_value arg)
{
	char *path = xlb_get_string(env, arg);
	if (!path) {
		xlb_throw(env, "read BTF", "", EINVAL, "the object path must be a string", NULL);
		return NULL;
	}
	xlb_log_begin(0);
	struct btf *btf = btf__parse(path, NULL);
	if (!btf) {
		int err = errno;
		char *tail = xlb_log_tail(xlb_log_end(), 3);
		xlb_throw(env, "read BTF", path, err,
			  tail ? tail : "is it a BPF object compiled with -g (clang -target bpf -g)?",
			  NULL);
		free(tail);
		free(path);
		return NULL;
	}
	xlb_log_end();
	free(path);
	return btf;
}

// btfStructs(objectPath) -> [{ name, kind: 'struct'|'union', size, members: [...] }]
static napi_value btf_structs(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	struct btf *btf = parse_btf_arg(env, argv[0]);
	if (!btf)
		return NULL;
	napi_value out;
	napi_create_array(env, &out);
	uint32_t n = 0;
	__u32 cnt = btf__type_cnt(btf);
	for (__u32 id = 1; id < cnt; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		if (!btf_is_struct(t) && !btf_is_union(t))
			continue;
		const char *name = btf__name_by_offset(btf, t->name_off);
		if (!name || !*name)
			continue;
		napi_value o, members;
		napi_create_object(env, &o);
		napi_create_array(env, &members);
		uint32_t idx = 0;
		add_members(env, btf, t, 0, members, &idx);
		xlb_set(env, o, "name", xlb_str(env, name));
		xlb_set(env, o, "kind", xlb_str(env, btf_is_struct(t) ? "struct" : "union"));
		xlb_set(env, o, "size", xlb_u32(env, t->size));
		xlb_set(env, o, "members", members);
		napi_set_element(env, out, n++, o);
	}
	btf__free(btf);
	return out;
}

// btfEnums(objectPath) -> [{ name, size, signed, values: [{ name, value: bigint }] }]: every named
// enum (BTF_KIND_ENUM and ENUM64) of the object, in declaration order. Values are BigInts so
// 64-bit enums come through unchanged.
static napi_value btf_enums(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	struct btf *btf = parse_btf_arg(env, argv[0]);
	if (!btf)
		return NULL;
	napi_value out;
	napi_create_array(env, &out);
	uint32_t n = 0;
	__u32 cnt = btf__type_cnt(btf);
	for (__u32 id = 1; id < cnt; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		if (!btf_is_any_enum(t))
			continue;
		const char *name = btf__name_by_offset(btf, t->name_off);
		if (!name || !*name)
			continue;
		bool is_signed = btf_kflag(t);
		napi_value o, values;
		napi_create_object(env, &o);
		napi_create_array(env, &values);
		for (__u16 i = 0; i < btf_vlen(t); i++) {
			const char *vname;
			int64_t value;
			if (btf_is_enum(t)) {
				const struct btf_enum *e = btf_enum(t) + i;
				vname = btf__name_by_offset(btf, e->name_off);
				value = is_signed ? (int64_t)(int32_t)e->val : (int64_t)(uint32_t)e->val;
			} else {
				const struct btf_enum64 *e = btf_enum64(t) + i;
				vname = btf__name_by_offset(btf, e->name_off);
				value = (int64_t)btf_enum64_value(e);
			}
			napi_value v, big;
			napi_create_object(env, &v);
			xlb_set(env, v, "name", xlb_str(env, vname ? vname : ""));
			napi_create_bigint_int64(env, value, &big);
			xlb_set(env, v, "value", big);
			napi_set_element(env, values, i, v);
		}
		napi_value sgn;
		napi_get_boolean(env, is_signed, &sgn);
		xlb_set(env, o, "name", xlb_str(env, name));
		xlb_set(env, o, "size", xlb_u32(env, t->size));
		xlb_set(env, o, "signed", sgn);
		xlb_set(env, o, "values", values);
		napi_set_element(env, out, n++, o);
	}
	btf__free(btf);
	return out;
}

void xlb_init_btf(napi_env env, napi_value exports)
{
	static const xlb_fn fns[] = {
		{ "btfStructs", btf_structs },
		{ "btfEnums", btf_enums },
	};
	xlb_register(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
