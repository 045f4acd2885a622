#!/usr/bin/env bash
# Prepares this machine for xlb. Idempotent: on a machine that is ready it only checks (< 5 s).
#   - Debian packages the datapath, lab and tests need (installed only when missing)
#   - bpffs on /sys/fs/bpf and tracefs on /sys/kernel/tracing (mounted only when missing)
#   - npm packages from package-lock.json (npm ci only when the lockfile changed)
#   - the BPF objects (make -C bpf), the native libbpf addon (node-gyp) and dist/ (the compiled
#     JavaScript the launcher runs: scripts/build.sh js), unless --no-build
set -euo pipefail
XLB_ROOT="${XLB_ROOT:-$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)}"
QUIET=0
BUILD=1
for arg in "$@"; do
  case "$arg" in
    --quiet) QUIET=1 ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "xlb setup: unknown option '$arg' (allowed: --quiet, --no-build)" >&2; exit 2 ;;
  esac
done
say() { [ "$QUIET" = 1 ] || echo "xlb setup: $*"; }
die() { echo "xlb setup: $*" >&2; exit 1; }

# Debian packages. Keep this list the single place that names them (xlb doctor reads it too).
PACKAGES=(
  clang-16 llvm-16 lld-16 libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ python3
  bpftool iproute2 tcpdump nftables tshark ethtool iputils-ping procps psmisc
  # xlb vm (kernel matrix): qemu boots Debian's kernels, busybox-static is the guest init's shell
  qemu-system-x86 busybox-static
  # xlb bench --suite lab: the load generator, the proxies xlb is compared with, the UDP sender
  wrk nginx libnginx-mod-stream haproxy netsniff-ng
)
# Daemons a package would start as system services on install; the bench runs its own copies
# inside lab namespaces only, so these must never run in the host namespace.
NO_SERVICE=(nginx haproxy)

if [ "$(id -u)" != 0 ]; then
  die "needs root: it installs Debian packages with apt-get, mounts bpffs (/sys/fs/bpf) and
tracefs, and xlb loads BPF programs and creates network namespaces, which all need root
(CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN). Run it again as root, for example: sudo $0"
fi

if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
  die "this is not a Debian system (no /etc/debian_version or apt-get). Install these packages
(or your distribution's equivalents) by hand, then run this again with XLB_SKIP_APT=1:
  ${PACKAGES[*]}"
fi

if [ "${XLB_SKIP_APT:-0}" != 1 ]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
    apt-get update -q >/dev/null || die "apt-get update failed: check the machine's apt sources and network"
    # No service may start during the install (policy-rc.d exit 101 = "action forbidden"): nginx
    # and haproxy would listen on :80 in the host namespace. An existing policy is left as it is.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\n# written by xlb setup for the duration of apt-get install\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      own_policy=1
    fi
    rc=0
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || die "apt-get install failed for: ${missing[*]} (run it by hand to see why)"
  fi
fi
# Never as system services (see NO_SERVICE): disabled where systemd runs, stopped if running.
for svc in "${NO_SERVICE[@]}"; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    if systemctl is-enabled -q "$svc" 2>/dev/null || systemctl is-active -q "$svc" 2>/dev/null; then
      say "disabling the $svc system service (xlb bench runs its own $svc inside lab namespaces)"
      systemctl disable --now -q "$svc" 2>/dev/null || say "warning: could not disable $svc.service"
    fi
  elif [ -x "/etc/init.d/$svc" ] && "/etc/init.d/$svc" status >/dev/null 2>&1; then
    say "stopping the $svc service (xlb bench runs its own $svc inside lab namespaces)"
    "/etc/init.d/$svc" stop >/dev/null 2>&1 || say "warning: could not stop $svc"
  fi
done

# bpffs: pins live under /sys/fs/bpf/xlb/<instance>/; tracefs for trace_pipe and tracepoints.
if ! mountpoint -q /sys/fs/bpf; then
  say "mounting bpffs on /sys/fs/bpf"
  mkdir -p /sys/fs/bpf
  mount -t bpf bpf /sys/fs/bpf || die "could not mount bpffs on /sys/fs/bpf (is this a container without CAP_SYS_ADMIN?)"
fi
if [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing; then
  say "mounting tracefs on /sys/kernel/tracing"
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || say "warning: could not mount tracefs (trace_pipe unavailable)"
fi

# npm packages, from the lockfile, only when it changed since the last install.
cd "$XLB_ROOT"
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.xlb-lock-sha256
if [ -L node_modules ]; then
  # A checkout sharing another tree's packages through a symlink (a git worktree): npm ci here
  # would empty the other tree's node_modules through the link. Its owner installs them.
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_sum" ] || say "warning: node_modules is a link to $(readlink -f node_modules), installed from another package-lock.json; not reinstalling through the link (run ./xlb setup in that tree, or replace the link with a directory)"
elif [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>npm-ci.err || { cat npm-ci.err >&2; rm -f npm-ci.err; die "npm ci failed (see above)"; }
  rm -f npm-ci.err
  echo "$lock_sum" > "$stamp"
fi

if [ "$BUILD" = 1 ]; then
  build_args=()
  [ "$QUIET" = 1 ] && build_args+=(--quiet)
  "$XLB_ROOT/scripts/build.sh" "${build_args[@]}"
fi
say "ready"
