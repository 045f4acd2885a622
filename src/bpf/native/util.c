// Argument decoding, error objects and libbpf log capture for the xlb addon.
#include "util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xlb_throw_napi(napi_env env, const char *what)
{
	bool pending = false;
	napi_is_exception_pending(env, &pending);
	if (pending)
		return;
	const napi_extended_error_info *info = NULL;
	napi_get_last_error_info(env, &info);
	char msg[512];
	snprintf(msg, sizeof(msg), "xlb addon: %s failed: %s", what,
		 info && info->error_message ? info->error_message : "unknown N-API error");
	napi_throw_error(env, "XLB_NAPI", msg);
}

void xlb_set(napi_env env, napi_value obj, const char *key, napi_value v)
{
	napi_set_named_property(env, obj, key, v);
}

napi_value xlb_i32(napi_env env, int32_t v)
{
	napi_value r;
	napi_create_int32(env, v, &r);
	return r;
}

napi_value xlb_u32(napi_env env, uint32_t v)
{
	napi_value r;
	napi_create_uint32(env, v, &r);
	return r;
}

napi_value xlb_str(napi_env env, const char *s)
{
	napi_value r;
	napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &r);
	return r;
}

napi_value xlb_u64big(napi_env env, uint64_t v)
{
	napi_value r;
	napi_create_bigint_uint64(env, v, &r);
	return r;
}

void xlb_throw(napi_env env, const char *op, const char *target, int err, const char *detail,
	       const char *verifier_log)
{
	if (err < 0)
		err = -err;
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s %s: %s%s%s", op, target ? target : "", strerror(err),
		 detail ? ": " : "", detail ? detail : "");
	napi_value m, e, undef;
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
	napi_create_error(env, NULL, m, &e);
	xlb_set(env, e, "op", xlb_str(env, op));
	xlb_set(env, e, "target", xlb_str(env, target));
	xlb_set(env, e, "errnoNumber", xlb_i32(env, err));
	napi_get_undefined(env, &undef);
	xlb_set(env, e, "detail", detail ? xlb_str(env, detail) : undef);
	xlb_set(env, e, "verifierLog", verifier_log ? xlb_str(env, verifier_log) : undef);
	napi_throw(env, e);
}

bool xlb_get_i32(napi_env env, napi_value v, int32_t *out)
{
	return napi_get_value_int32(env, v, out) == napi_ok;
}

bool xlb_get_u32(napi_env env, napi_value v, uint32_t *out)
{
	return napi_get_value_uint32(env, v, out) == napi_ok;
}

bool xlb_get_bool(napi_env env, napi_value v, bool *out)
{
	return napi_get_value_bool(env, v, out) == napi_ok;
}

bool xlb_is_nullish(napi_env env, napi_value v)
{
	napi_valuetype t;
	if (napi_typeof(env, v, &t) != napi_ok)
		return true;
	return t == napi_undefined || t == napi_null;
}

char *xlb_get_string(napi_env env, napi_value v)
{
	size_t len = 0;
	if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok)
		return NULL;
	char *s = malloc(len + 1);
	if (!s)
		return NULL;
	if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
		free(s);
		return NULL;
	}
	return s;
}

bool xlb_get_bytes(napi_env env, napi_value v, void **data, size_t *len)
{
	bool is_ta = false;
	if (napi_is_typedarray(env, v, &is_ta) == napi_ok && is_ta) {
		napi_typedarray_type type;
		size_t n;
		napi_value ab;
		size_t off;
		if (napi_get_typedarray_info(env, v, &type, &n, data, &ab, &off) != napi_ok)
			return false;
		if (type != napi_uint8_array && type != napi_int8_array &&
		    type != napi_uint8_clamped_array)
			return false;
		*len = n;
		return true;
	}
	return napi_get_buffer_info(env, v, data, len) == napi_ok;
}

void xlb_register(napi_env env, napi_value exports, const xlb_fn *fns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		napi_value f;
		napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
		napi_set_named_property(env, exports, fns[i].name, f);
	}
}

/* ---- libbpf log capture ---- */

/* The capture's bound: verifier logs can be huge (10+ MiB on 6.1), only their tail matters. */
#define LOG_CAP_MAX ((size_t)4 << 20)

static char *log_buf;
static size_t log_len, log_cap;
static int capturing;
static int capture_verbose;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static int debug_env = -1;
	if (debug_env < 0)
		debug_env = getenv("XLB_BPF_DEBUG") != NULL;
	if (debug_env) {
		va_list cp;
		va_copy(cp, ap);
		vfprintf(stderr, fmt, cp);
		va_end(cp);
	}
	if (!capturing || (level == LIBBPF_DEBUG && !capture_verbose))
		return 0;
	/* libbpf prints a whole verifier log in one call ("prog 'P': -- BEGIN PROG LOAD LOG --\n%s--
	 * END ..."), megabytes on a refusal: a fixed line buffer kept its first 8 KiB and cut the
	 * verdict, which is at the end. A longer message is formatted into a buffer of its size. */
	char small[8192], *line = small;
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n >= 0 && (size_t)n >= sizeof(small)) {
		line = malloc((size_t)n + 1);
		n = line ? vsnprintf(line, (size_t)n + 1, fmt, cp) : -1;
	}
	va_end(cp);
	if (n < 0) {
		if (line != small)
			free(line);
		return 0;
	}
	size_t len = (size_t)n;
	/* One message over the bound: its first line (libbpf's marker naming the program) and its
	 * tail (the verifier's verdict), the middle dropped. */
	if (len > LOG_CAP_MAX - 1) {
		static const char gap[] = "[... verifier log cut here ...]\n";
		size_t head = strcspn(line, "\n") + 1;
		if (head > 512)
			head = 512;
		size_t tail = LOG_CAP_MAX - 1 - head - (sizeof(gap) - 1);
		memcpy(line + head, gap, sizeof(gap) - 1);
		memmove(line + head + sizeof(gap) - 1, line + len - tail, tail);
		len = LOG_CAP_MAX - 1;
		log_len = 0;
	}
	/* Bound the capture at LOG_CAP_MAX: older messages go first, the newest is kept whole. */
	if (log_len + len + 1 > LOG_CAP_MAX) {
		size_t keep = LOG_CAP_MAX - 1 - len;
		memmove(log_buf, log_buf + log_len - keep, keep);
		log_len = keep;
	}
	if (log_len + len + 1 > log_cap) {
		size_t cap = log_cap ? log_cap : 65536;
		while (cap < log_len + len + 1)
			cap *= 2;
		if (cap > LOG_CAP_MAX)
			cap = LOG_CAP_MAX;
		char *nb = realloc(log_buf, cap);
		if (!nb) {
			if (line != small)
				free(line);
			return 0;
		}
		log_buf = nb;
		log_cap = cap;
	}
	memcpy(log_buf + log_len, line, len);
	log_len += len;
	log_buf[log_len] = 0;
	if (line != small)
		free(line);
	return 0;
}

void xlb_install_print(void)
{
	libbpf_set_print(print_fn);
}

void xlb_log_begin(int verbose)
{
	capturing = 1;
	capture_verbose = verbose;
	log_len = 0;
	if (log_buf)
		log_buf[0] = 0;
}

const char *xlb_log_end(void)
{
	capturing = 0;
	return log_buf ? log_buf : "";
}

static char *tail_lines(const char *start, const char *end, int max_lines)
{
	while (end > start && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	const char *p = end;
	int lines = 0;
	while (p > start) {
		if (p[-1] == '\n' && ++lines >= max_lines)
			break;
		p--;
	}
	size_t n = end - p;
	if (n == 0)
		return NULL;
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	memcpy(out, p, n);
	out[n] = 0;
	return out;
}

char *xlb_verifier_tail(const char *log, int max_lines)
{
	const char *b = strstr(log, "-- BEGIN PROG LOAD LOG --");
	if (!b)
		return NULL;
	b = strchr(b, '\n');
	if (!b)
		return NULL;
	b++;
	const char *e = strstr(b, "-- END PROG LOAD LOG --");
	if (!e)
		e = b + strlen(b);
	return tail_lines(b, e, max_lines);
}

char *xlb_log_tail(const char *log, int max_lines)
{
	return tail_lines(log, log + strlen(log), max_lines);
}
