{
  "targets": [
    {
      "target_name": "xlb_bpf",
      "sources": [
        "addon.c",
        "util.c",
        "object.c",
        "map.c",
        "mmap.c",
        "prog.c",
        "ringbuf.c",
        "btf.c",
        "cpu.c",
        "maglev.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-O2"],
      "libraries": ["-lbpf", "-lelf", "-lz"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
