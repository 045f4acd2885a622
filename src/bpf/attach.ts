// Free functions around attachment points: XDP and TC detach/query, interface indexes, and
// the global run-time stats switch.
import { BpfError, check, errnoName } from './errors.ts';
import { native } from './native.ts';
import { TC_DEFAULTS, TC_POINT, XDP_FLAGS, xdpModeFlag } from './program.ts';
import type { TcDirection, XdpMode } from './program.ts';

/** Interface index of name in the calling thread's network namespace (see inNetns). */
export function ifindex(name: string): number {
  const rc = native().ifindex(name);
  if (rc < 0) {
    throw new BpfError({
      op: 'ifindex',
      target: name,
      errno: rc,
      detail: `no interface '${name}' in this network namespace`,
      hint: 'inside a lab namespace, call it within inNetns(ns, () => ifindex(name))',
    });
  }
  return rc;
}

export interface XdpAttachment {
  mode: 'native' | 'generic' | 'offload';
  progId: number;
}

/** What is attached at XDP on ifindex, or undefined. */
export function xdpAttached(index: number): XdpAttachment | undefined {
  const q = native().xdpQuery(index);
  if (typeof q === 'number') {
    check(q, 'query xdp', `ifindex ${index}`);
    return undefined;
  }
  switch (q.attachMode) {
    case 0:
      return undefined;
    case 1:
      return { mode: 'native', progId: q.drvProgId || q.progId };
    case 2:
      return { mode: 'generic', progId: q.skbProgId || q.progId };
    case 3:
      return { mode: 'offload', progId: q.hwProgId || q.progId };
    default:
      // XDP_ATTACHED_MULTI: report the driver-mode program first.
      return q.drvProgId ? { mode: 'native', progId: q.drvProgId } : { mode: 'generic', progId: q.skbProgId };
  }
}

/** Detaches the XDP program of ifindex in mode (default: whatever mode is attached). No-op when nothing is attached. */
export function detachXdp(index: number, mode?: XdpMode): void {
  let flags: number;
  if (mode !== undefined) {
    flags = xdpModeFlag(mode);
  } else {
    const cur = xdpAttached(index);
    if (cur === undefined) return;
    flags = cur.mode === 'generic' ? XDP_FLAGS.SKB_MODE : cur.mode === 'offload' ? XDP_FLAGS.HW_MODE : XDP_FLAGS.DRV_MODE;
  }
  check(native().xdpDetach(index, flags), 'detach xdp', `ifindex ${index}${mode !== undefined ? ` (${mode})` : ''}`);
}

/** Removes the TC filter (handle, priority; default 1, 1) from the clsact hook. No-op when it is not there. The clsact qdisc itself is left in place (other filters may use it). */
export function detachTc(index: number, direction: TcDirection, opts: { handle?: number; priority?: number } = {}): void {
  const handle = opts.handle ?? TC_DEFAULTS.handle;
  const priority = opts.priority ?? TC_DEFAULTS.priority;
  const rc = native().tcDetach(index, TC_POINT[direction], handle, priority);
  if (rc === 0) return;
  const e = errnoName(rc);
  if (e === 'ENOENT' || e === 'EINVAL') {
    // EINVAL: no clsact qdisc on the interface, so no filter either.
    if (tcAttached(index, direction, { handle, priority }) === undefined) return;
  }
  check(rc, 'detach tc', `ifindex ${index} ${direction} handle ${handle} priority ${priority}`);
}

/** The program id of the TC filter (handle, priority), or undefined when there is none. */
export function tcAttached(index: number, direction: TcDirection, opts: { handle?: number; priority?: number } = {}): number | undefined {
  const rc = native().tcQuery(index, TC_POINT[direction], opts.handle ?? TC_DEFAULTS.handle, opts.priority ?? TC_DEFAULTS.priority);
  if (rc >= 0) return rc;
  const e = errnoName(rc);
  if (e === 'ENOENT' || e === 'EINVAL') return undefined;
  check(rc, 'query tc', `ifindex ${index} ${direction}`);
  return undefined;
}

/** Turns on kernel run-time stats (run_time_ns / run_cnt) while the returned handle is open. */
export function enableStats(): { close(): void } {
  const fd = check(
    native().enableStats(),
    'enable stats',
    'BPF_STATS_RUN_TIME',
    undefined,
    'needs root; or set sysctl kernel.bpf_stats_enabled=1',
  );
  let open = true;
  return {
    close(): void {
      if (!open) return;
      open = false;
      native().closeFd(fd);
    },
  };
}
