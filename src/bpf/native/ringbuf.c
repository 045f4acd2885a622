// Ring buffer consumer driven by Node's event loop: libbpf's epoll fd is watched with a
// uv_poll handle; when it is readable, every available record is handed to the JS callback as a
// Buffer copy, in order. Nothing blocks and nothing busy-polls.
#include "util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <uv.h>

struct xlb_rb {
	napi_env env;
	struct ring_buffer *rb;
	uv_poll_t poll;
	napi_ref cb;
	napi_ref self; /* the JS handle, held strongly while open: an open consumer is not collected */
	napi_async_context actx;
	int closed;
	int consuming; /* inside ring_buffer__consume: freeing is deferred to its end */
	int finalized; /* closed from a GC finalizer: no N-API reference calls */
	int failed; /* the callback threw: stop consuming this round */
	int delivered; /* records handed to JS in the current drain */
};

static void rb_free(struct xlb_rb *r);

// Runs ring_buffer__consume; a close() from inside a callback takes effect afterwards.
static int rb_drain(struct xlb_rb *r)
{
	r->failed = 0;
	r->delivered = 0;
	r->consuming = 1;
	int n = ring_buffer__consume(r->rb);
	r->consuming = 0;
	if (r->closed)
		rb_free(r);
	/* -ECANCELED: a callback closed the consumer or threw; what was delivered still counts. */
	return n == -ECANCELED ? r->delivered : n;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct xlb_rb *r = ctx;
	napi_env env = r->env;
	if (r->closed || r->failed)
		return -ECANCELED;
	napi_value buf, cb, recv, argv[1];
	void *copy;
	if (napi_create_buffer_copy(env, size, data, &copy, &buf) != napi_ok)
		return -ENOMEM;
	napi_get_reference_value(env, r->cb, &cb);
	napi_get_global(env, &recv);
	argv[0] = buf;
	napi_status st = napi_make_callback(env, r->actx, recv, cb, 1, argv, NULL);
	if (st != napi_ok) {
		bool pending = false;
		napi_is_exception_pending(env, &pending);
		if (pending) {
			napi_value exc;
			napi_get_and_clear_last_exception(env, &exc);
			napi_fatal_exception(env, exc);
		}
		r->failed = 1;
		return -ECANCELED;
	}
	r->delivered++;
	return r->closed ? -ECANCELED : 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct xlb_rb *r = h->data;
	if (r->closed)
		return;
	napi_env env = r->env;
	napi_handle_scope scope;
	napi_open_handle_scope(env, &scope);
	rb_drain(r);
	napi_close_handle_scope(env, scope);
}

static void on_uv_close(uv_handle_t *h)
{
	free(h->data);
}

static void rb_free(struct xlb_rb *r)
{
	uv_poll_stop(&r->poll);
	ring_buffer__free(r->rb);
	r->rb = NULL;
	if (!r->finalized) {
		napi_delete_reference(r->env, r->cb);
		napi_delete_reference(r->env, r->self);
		napi_async_destroy(r->env, r->actx);
	}
	uv_close((uv_handle_t *)&r->poll, on_uv_close);
}

static void rb_teardown(struct xlb_rb *r, int from_finalizer)
{
	if (r->closed)
		return;
	r->closed = 1;
	r->finalized = from_finalizer;
	if (!r->consuming)
		rb_free(r);
}

struct xlb_rb_handle {
	struct xlb_rb *r;
};

static void handle_finalize(napi_env env, void *data, void *hint)
{
	struct xlb_rb_handle *h = data;
	/* An open consumer holds its own handle strongly (r->self), so this runs after close();
	 * the teardown below is only a safety net (e.g. environment shutdown). */
	if (h->r && !h->r->closed)
		rb_teardown(h->r, 1);
	free(h);
}

// ringbufOpen(mapFd, callback) -> handle
static napi_value rb_open(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 2);
	int32_t fd;
	if (!xlb_get_i32(env, argv[0], &fd)) {
		xlb_throw(env, "ring buffer open", "", EINVAL, "map fd must be a number", NULL);
		return NULL;
	}
	struct xlb_rb *r = calloc(1, sizeof(*r));
	struct xlb_rb_handle *h = calloc(1, sizeof(*h));
	if (!r || !h) {
		free(r);
		free(h);
		xlb_throw(env, "ring buffer open", "", ENOMEM, NULL, NULL);
		return NULL;
	}
	r->env = env;
	xlb_log_begin(0);
	r->rb = ring_buffer__new(fd, on_sample, r, NULL);
	if (!r->rb) {
		int err = errno;
		char *tail = xlb_log_tail(xlb_log_end(), 3);
		free(r);
		free(h);
		xlb_throw(env, "ring buffer open", "", err, tail, NULL);
		free(tail);
		return NULL;
	}
	xlb_log_end();
	uv_loop_t *loop;
	napi_get_uv_event_loop(env, &loop);
	int ue = uv_poll_init(loop, &r->poll, ring_buffer__epoll_fd(r->rb));
	if (ue == 0)
		ue = uv_poll_start(&r->poll, UV_READABLE, on_poll);
	if (ue) {
		ring_buffer__free(r->rb);
		free(r);
		free(h);
		xlb_throw(env, "ring buffer open", "", -ue, "uv_poll on the epoll fd failed", NULL);
		return NULL;
	}
	r->poll.data = r;
	napi_create_reference(env, argv[1], 1, &r->cb);
	napi_value name;
	napi_create_string_utf8(env, "xlb:ringbuf", NAPI_AUTO_LENGTH, &name);
	napi_async_init(env, NULL, name, &r->actx);
	h->r = r;
	napi_value ext;
	napi_create_external(env, h, handle_finalize, NULL, &ext);
	napi_create_reference(env, ext, 1, &r->self);
	return ext;
}

// ringbufClose(handle): stops watching, frees the consumer. Idempotent.
static napi_value rb_close(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	void *data = NULL;
	NAPI_OK(env, napi_get_value_external(env, argv[0], &data));
	struct xlb_rb_handle *h = data;
	if (h->r) {
		rb_teardown(h->r, 0);
		h->r = NULL;
	}
	return NULL;
}

// ringbufRef(handle, ref): whether the open consumer keeps the process alive.
static napi_value rb_ref(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 2);
	void *data = NULL;
	bool ref = true;
	NAPI_OK(env, napi_get_value_external(env, argv[0], &data));
	xlb_get_bool(env, argv[1], &ref);
	struct xlb_rb_handle *h = data;
	if (h->r && !h->r->closed) {
		if (ref)
			uv_ref((uv_handle_t *)&h->r->poll);
		else
			uv_unref((uv_handle_t *)&h->r->poll);
	}
	return NULL;
}

// ringbufConsume(handle) -> records consumed | -errno: drains synchronously (for tests and
// for a final drain before close).
static napi_value rb_consume(napi_env env, napi_callback_info info)
{
	ARGS(env, info, 1);
	void *data = NULL;
	NAPI_OK(env, napi_get_value_external(env, argv[0], &data));
	struct xlb_rb_handle *h = data;
	if (!h->r || h->r->closed)
		return xlb_i32(env, -EBADF);
	if (h->r->consuming)
		return xlb_i32(env, 0);
	return xlb_i32(env, rb_drain(h->r));
}

void xlb_init_ringbuf(napi_env env, napi_value exports)
{
	static const xlb_fn fns[] = {
		{ "ringbufOpen", rb_open },
		{ "ringbufClose", rb_close },
		{ "ringbufRef", rb_ref },
		{ "ringbufConsume", rb_consume },
	};
	xlb_register(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
