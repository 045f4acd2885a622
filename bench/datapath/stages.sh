#!/usr/bin/env bash
# Stage breakdown: builds the datapath objects with one stage cut out at a time (the XLB_CUT_*
# switches in bpf/include, compile-time only) into DIR/<variant>/ and runs the datapath bench on
# each (`--object-dir`, `--no-check`: a cut variant does not take the paths the bench checks).
# The difference between two variants of the same run is what the cut stage costs. Needs root;
# quote only figures taken under the machine's MEASURE lock.
#   [XLB_BPF_SRC=DIR] [STAGES="full parse …"] bench/datapath/stages.sh [DIR] [bench options,
#   e.g. --n 20000 --rounds 5 --cases established,new_flow]
# XLB_BPF_SRC: the bpf/ tree to build (default: this checkout's), e.g. a snapshot taken before
# editing. STAGES_BUILD_ONLY=1: build the variants and stop (build outside the MEASURE lock).
# Output: DIR/<variant>.json (the bench's JSON) and DIR/summary.txt (one table).
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
DIR="${1:-/tmp/xlb-stages}"
shift || true
mkdir -p "$DIR"
# variant name = the -D switches (none: the full build)
declare -A VARIANTS=(
  [full]=""
  [parse]="-DXLB_CUT_AFTER_PARSE"
  [ct_lookup]="-DXLB_CUT_AFTER_CT"
  [no_clock]="-DXLB_CUT_CLOCK"
  [no_policer]="-DXLB_CUT_POLICER"
  [no_stats]="-DXLB_CUT_STATS"
  [no_nat]="-DXLB_CUT_NAT"
  [no_fwd]="-DXLB_CUT_FWD"
  [slow_entry]="-DXLB_CUT_SLOW_ENTRY"
  [select]="-DXLB_CUT_AFTER_SELECT"
  [no_reply_insert]="-DXLB_CUT_REPLY_INSERT"
  [no_fwd_insert]="-DXLB_CUT_FWD_INSERT"
  [no_inserts]="-DXLB_CUT_REPLY_INSERT -DXLB_CUT_FWD_INSERT"
)
ORDER=(full parse ct_lookup no_clock no_policer no_stats no_nat no_fwd slow_entry select no_reply_insert no_fwd_insert no_inserts)
# STAGES="full parse …": a subset (the machine is shared: a full breakdown takes long)
[ -n "${STAGES:-}" ] && read -r -a ORDER <<<"$STAGES"
for v in "${ORDER[@]}"; do
  make -s -C "${XLB_BPF_SRC:-$ROOT/bpf}" OUT="$DIR/$v" EXTRA_CFLAGS="${VARIANTS[$v]}" "$DIR/$v/xlb_tc.bpf.o" "$DIR/$v/xlb_xdp.bpf.o"
done
[ -n "${STAGES_BUILD_ONLY:-}" ] && exit 0
for v in "${ORDER[@]}"; do
  echo "== $v (${VARIANTS[$v]:-no cut})" >&2
  node --import tsx "$ROOT/bench/datapath/run.ts" --object-dir "$DIR/$v" --no-check --out "$DIR/$v.json" "$@" >"$DIR/$v.txt"
done
node --input-type=module -e '
import { readFileSync } from "node:fs";
const [dir, ...order] = process.argv.slice(1);
const cases = ["established", "reply", "fullnat_established", "new_flow", "new_flow_50", "new_flow_100", "fullnat_new"];
const out = ["ratio to the empty program (each variant its own run; differences between variants = the stage cut out)"];
for (const hook of ["tc", "xdp"]) {
  out.push(`${hook}: ${"variant".padEnd(16)} ${cases.map((c) => c.padStart(20)).join("")}`);
  for (const v of order) {
    const b = JSON.parse(readFileSync(`${dir}/${v}.json`, "utf8"));
    const r = b.results.find((x) => x.hook === hook);
    out.push(`    ${v.padEnd(16)} ${cases.map((c) => (r.ratio[c] === undefined ? "-" : r.ratio[c].toFixed(2)).padStart(20)).join("")}`);
  }
}
console.log(out.join("\n"));
' "$DIR" "${ORDER[@]}" | tee "$DIR/summary.txt"
