#!/bin/busybox sh
# /init of the initramfs `xlb vm run` boots (src/devtools/vm.ts builds it; busybox-static is the
# shell). It turns the host's root filesystem, shared read-only over 9p, into a writable guest
# root (overlayfs with a tmpfs upper layer), mounts the project folder read-write at its host
# path, runs the host-written /run/xlb-vm/run.sh in it as root (chroot) with stdout and stderr on
# two virtio-serial ports, writes its exit status to the run share and reboots (qemu runs with
# -no-reboot, so that ends qemu). The console (ttyS0) is the run's log file.
#
# Status protocol (read by the host): status is written "init" as soon as the run share is
# mounted, "cmd" right before the command starts (cmd-started is touched then: its mtime is the
# boot time), and "exit N" once it ends. Anything but "exit N" after qemu is gone is a failure:
# the guest died, panicked or hung before the command finished.
/bin/busybox mkdir -p /proc /sys /dev /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

# Each line carries the guest uptime: where boot time goes.
say() { read -r up _ < /proc/uptime; echo "xlb-vm: [$up] $*" > /dev/console; }
die() {
  say "FATAL: $*"
  [ -w /share/status ] && echo "init-failed $*" > /share/status
  sync
  reboot -f
  sleep 5
  echo b > /proc/sysrq-trigger
}

say "init: kernel $(uname -r), loading modules"
# Modules in dependency order (written by the host from each module's .modinfo depends=).
# A module that is already built in or loaded fails with EEXIST: not an error.
while read -r mod; do
  [ -n "$mod" ] || continue
  out=$(insmod "/lib/modules/$(uname -r)/$mod" 2>&1) || case "$out" in
    *exists*) ;;
    *) say "insmod $mod: $out" ;;
  esac
done < /etc/xlb-modules

say "modules loaded"
mkdir -p /lower /share /rw /newroot
# msize 512 KiB: fewer 9p round trips (each one is a guest exit, slow under TCG).
P9="trans=virtio,version=9p2000.L,msize=524288"
mount -t 9p -o "$P9,cache=none" xlbrun /share || die "cannot mount the run share (9p tag xlbrun)"
echo init > /share/status
. /share/vm.env || die "cannot read /share/vm.env"

# The host root: read-only, cached (the host does not change it under a running test).
mount -t 9p -o "$P9,ro,cache=loose" xlbroot /lower || die "cannot mount the host root (9p tag xlbroot)"
mount -t tmpfs -o mode=0755 tmpfs /rw || die "cannot mount the tmpfs for the overlay's upper layer"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
  || die "cannot mount the overlay root (lower: 9p host root, upper: tmpfs)"

R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t bpf bpf $R/sys/fs/bpf || say "warning: cannot mount bpffs"
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null || say "warning: cannot mount tracefs"
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
# A fresh /run: the host's (its netns names, pid files, sockets) mean nothing here.
mount -t tmpfs -o mode=0755 tmpfs $R/run
# /tmp stays the overlay (host content read-only below, writes in tmpfs): tsx finds its
# transpile cache (/tmp/tsx-0) there, which saves tens of seconds of TCG time per node start.
mkdir -p $R/run/xlb-vm $R/run/netns
mount --bind /share $R/run/xlb-vm
# This kernel's modules where the host's modprobe looks for them.
mkdir -p "$R/lib/modules/$(uname -r)"
mount --bind "/lib/modules/$(uname -r)" "$R/lib/modules/$(uname -r)"
mkdir -p "$R$XLB_VM_PROJECT"
mount -t 9p -o "$P9,cache=loose" xlbproj "$R$XLB_VM_PROJECT" || die "cannot mount the project folder (9p tag xlbproj)"

port() {
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = "$1" ] && { echo "/dev/${p##*/}"; return 0; }
  done
  return 1
}
OUT=$(port xlb.stdout) || die "no virtio-serial port xlb.stdout (virtio_console missing?)"
ERR=$(port xlb.stderr) || die "no virtio-serial port xlb.stderr"

say "running the command"
echo cmd > /share/status
touch /share/cmd-started
chroot $R /bin/sh /run/xlb-vm/run.sh < /dev/null > "$OUT" 2> "$ERR"
rc=$?
echo "exit $rc" > /share/status
say "command exited $rc"
sync
reboot -f
