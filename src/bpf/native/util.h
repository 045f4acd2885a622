// Shared helpers for the xlb libbpf addon: argument decoding and error objects.
// Hot-path functions (map CRUD) return 0 or -errno as a number; the TypeScript wrapper turns
// that into a BpfError. Everything else throws an Error carrying { op, target, errnoNumber,
// detail, verifierLog } which the wrapper converts.
#ifndef XLB_BPF_UTIL_H
#define XLB_BPF_UTIL_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAPI_OK(env, call)                                                   \
	do {                                                                 \
		if ((call) != napi_ok) {                                     \
			xlb_throw_napi((env), #call);                        \
			return NULL;                                         \
		}                                                            \
	} while (0)

#define ARGS(env, info, n)                                                   \
	size_t argc = (n);                                                   \
	napi_value argv[(n) > 0 ? (n) : 1];                                  \
	NAPI_OK(env, napi_get_cb_info((env), (info), &argc, argv, NULL, NULL))

void xlb_throw_napi(napi_env env, const char *what);
// Throws Error(message) with op/target/errnoNumber/detail/verifierLog properties.
void xlb_throw(napi_env env, const char *op, const char *target, int err, const char *detail,
	       const char *verifier_log);

bool xlb_get_i32(napi_env env, napi_value v, int32_t *out);
bool xlb_get_u32(napi_env env, napi_value v, uint32_t *out);
bool xlb_get_bool(napi_env env, napi_value v, bool *out);
// Copies a JS string into a malloc'd C string (NULL on failure; caller frees).
char *xlb_get_string(napi_env env, napi_value v);
bool xlb_is_nullish(napi_env env, napi_value v);
// Buffer or any Uint8Array: pointer to its first byte and its length.
bool xlb_get_bytes(napi_env env, napi_value v, void **data, size_t *len);

napi_value xlb_i32(napi_env env, int32_t v);
napi_value xlb_u32(napi_env env, uint32_t v);
napi_value xlb_str(napi_env env, const char *s);
napi_value xlb_u64big(napi_env env, uint64_t v);
void xlb_set(napi_env env, napi_value obj, const char *key, napi_value v);

// libbpf's print callback captures into this log while an operation runs.
void xlb_log_begin(int verbose);
const char *xlb_log_end(void);
// The verifier section of the captured log, trimmed to its last lines (malloc'd, may be NULL).
char *xlb_verifier_tail(const char *log, int max_lines);
// The last max_lines lines of the captured log (malloc'd, may be NULL).
char *xlb_log_tail(const char *log, int max_lines);
void xlb_install_print(void);

// Module parts register their functions on the exports object.
typedef struct {
	const char *name;
	napi_callback fn;
} xlb_fn;
void xlb_register(napi_env env, napi_value exports, const xlb_fn *fns, size_t n);

void xlb_init_object(napi_env env, napi_value exports);
void xlb_init_map(napi_env env, napi_value exports);
void xlb_init_map_scratch(napi_env env, napi_value exports);
void xlb_init_mmap(napi_env env, napi_value exports);
void xlb_init_prog(napi_env env, napi_value exports);
void xlb_init_ringbuf(napi_env env, napi_value exports);
void xlb_init_btf(napi_env env, napi_value exports);
void xlb_init_cpu(napi_env env, napi_value exports);
void xlb_init_maglev(napi_env env, napi_value exports);

#endif
