#!/usr/bin/env bash
# Builds the raw-libbpf baseline of the binding benchmark into build/bench/binding/bench.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
out="$ROOT/build/bench/binding"
mkdir -p "$out"
src="$ROOT/bench/binding/bench.c"
if [ ! -x "$out/bench" ] || [ "$src" -nt "$out/bench" ]; then
  cc -O2 -Wall -Wextra -Werror -o "$out/bench" "$src" -lbpf -lelf -lz
fi
echo "$out/bench"
