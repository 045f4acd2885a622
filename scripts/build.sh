#!/usr/bin/env bash
# Builds the BPF objects (bpf/ → build/bpf/*.o) and the native libbpf addon
# (src/bpf/native → src/bpf/native/build/Release/xlb_bpf.node). Incremental: only what changed.
#   build.sh [--quiet] [bpf|addon]...
set -euo pipefail
XLB_ROOT="${XLB_ROOT:-$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)}"
QUIET=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --quiet) QUIET=1 ;;
    bpf|addon) targets+=("$arg") ;;
    *) echo "build.sh: unknown argument '$arg' (allowed: --quiet, bpf, addon)" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(bpf addon)
cd "$XLB_ROOT"

for t in "${targets[@]}"; do
  case "$t" in
    bpf)
      make -s -C bpf
      ;;
    addon)
      if [ -f src/bpf/native/binding.gyp ]; then
        out=src/bpf/native/build/Release/xlb_bpf.node
        if [ ! -f "$out" ] || [ -n "$(find src/bpf/native -maxdepth 1 -newer "$out" -type f 2>/dev/null)" ]; then
          [ "$QUIET" = 1 ] || echo "build: native addon (node-gyp)"
          # node-gyp writes progress to stderr; keep compiler diagnostics, drop the chatter.
          if ! log=$(npx --no-install node-gyp rebuild -C src/bpf/native --loglevel=error 2>&1); then
            echo "$log" | grep -vE '^gyp (info|http)' >&2
            echo "build: the native addon failed to compile (errors above, file:line)" >&2
            exit 1
          fi
        fi
      fi
      ;;
  esac
done
