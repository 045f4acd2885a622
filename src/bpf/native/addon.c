// Module entry point of the xlb libbpf addon.
#include "util.h"

static napi_value init(napi_env env, napi_value exports)
{
	xlb_install_print();
	xlb_init_object(env, exports);
	xlb_init_map(env, exports);
	xlb_init_map_scratch(env, exports);
	xlb_init_mmap(env, exports);
	xlb_init_prog(env, exports);
	xlb_init_ringbuf(env, exports);
	xlb_init_btf(env, exports);
	xlb_init_cpu(env, exports);
	xlb_init_maglev(env, exports);
	return exports;
}

NAPI_MODULE_INIT()
{
	return init(env, exports);
}
