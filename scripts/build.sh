#!/usr/bin/env bash
# Builds the BPF objects (bpf/ → build/bpf/*.o), the native libbpf addon
# (src/bpf/native → src/bpf/native/build/Release/xlb_bpf.node) and the compiled JavaScript
# (src/, lab/, bench/ → dist/, with source maps, run by the `xlb` launcher; the agent also as
# one bundle, dist/agent/main.js). Incremental: only what changed.
#   build.sh [--quiet] [bpf|addon|js]...
set -euo pipefail
XLB_ROOT="${XLB_ROOT:-$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)}"
QUIET=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --quiet) QUIET=1 ;;
    bpf|addon|js) targets+=("$arg") ;;
    *) echo "build.sh: unknown argument '$arg' (allowed: --quiet, bpf, addon, js)" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(bpf addon js)
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
    js)
      # dist/.stamp says when the sources dist/ was built from were read: the launcher runs
      # dist/ only when no source is newer than it (see `xlb`). The stamp's time is taken
      # before tsc starts, so an edit made during the build leaves dist/ stale, never current.
      # One build at a time (parallel `xlb run`s in the tests each run the set-up): two tsc runs
      # writing the same files, or racing on the stamp, would leave a torn dist/.
      mkdir -p dist
      exec 9>dist/.build.lock
      flock 9
      next="dist/.stamp.next.$$"
      touch "$next"
      if ! npx --no-install tsc -p tsconfig.build.json --pretty false; then
        rm -f "$next"
        echo "build: the TypeScript build failed (errors above, file(line,col)); xlb runs the sources through tsx until it passes" >&2
        exit 1
      fi
      # The agent as one bundle (dist/agent/main.js, a few chunks loaded on demand, source maps to
      # src/): loading the ~1,100 files of its modules one by one took most of its start-up.
      # tsc above is the type check; esbuild only strips types and concatenates. `require` for the
      # CommonJS packages inside an ES module (and for the addon, native.ts) comes from the banner.
      rm -rf dist/agent.next
      if ! npx --no-install esbuild src/agent/main.ts --bundle --splitting --format=esm --platform=node --target=node20 \
        --outdir=dist/agent.next --sourcemap --log-level=warning \
        "--banner:js=import { createRequire as __xlbRequire } from 'node:module'; const require = __xlbRequire(import.meta.url);"; then
        rm -rf "$next" dist/agent.next
        echo "build: bundling the agent (esbuild) failed (errors above); xlb runs the sources through tsx until it passes" >&2
        exit 1
      fi
      rm -rf dist/agent
      mv dist/agent.next dist/agent
      mv "$next" dist/.stamp
      flock -u 9
      ;;
  esac
done
