#!/usr/bin/env bash
# Verifier statistics of both datapath objects on this kernel: instructions processed per
# program (the verifier's "processed N insns"), stack depth, verification time. Builds a copy
# without map pinning (-DXLB_PINNED=) into a temp dir, loads it with bpftool under
# /sys/fs/bpf/xlb/dp-verify-<id>, prints the numbers and removes everything. Needs root.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
CLANG="$(command -v clang-16 || command -v clang)"
TMP="$(mktemp -d)"
PIN="/sys/fs/bpf/xlb/dp-verify-$RANDOM$RANDOM"
trap 'rm -rf "$TMP" "$PIN"' EXIT
mkdir -p "$PIN"
for hook in tc xdp; do
  "$CLANG" -target bpf -O2 -g -std=gnu11 -Wall -Wno-unused-parameter -DXLB_PINNED= \
    -I"$ROOT/bpf/include" -I"/usr/include/$(uname -m)-linux-gnu" -D__TARGET_ARCH_x86 \
    -c "$ROOT/bpf/xlb_$hook.bpf.c" -o "$TMP/xlb_$hook.o"
  # no "type": bpftool would give it to every program, and the XDP object has a TC one (xlb_xdp_neigh)
  bpftool -d prog loadall "$TMP/xlb_$hook.o" "$PIN/$hook" >"$TMP/$hook.log" 2>&1 || {
    echo "xlb_$hook: load failed, log in $TMP/$hook.log" >&2; trap - EXIT; exit 1; }
  # one block per program: name from libbpf's "prog 'NAME': -- BEGIN PROG LOAD LOG --" line
  awk -v hook="$hook" '
    /-- BEGIN PROG LOAD LOG --/ { name = $0; sub(/^.*prog ./, "", name); sub(/[^a-z_].*$/, "", name) }
    /^verification time/ { vt = $3 }
    /^stack depth/ { sd = $3 }
    /^processed [0-9]+ insns/ { printf "xlb_%s %-14s processed %6d insns, stack %s, verification %d us\n", hook, name, $2, sd, vt }
  ' "$TMP/$hook.log"
done
