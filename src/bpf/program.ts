// BpfProgram: one loaded program — BPF_PROG_TEST_RUN, XDP/TC attach, run-time stats.
import { BpfError, check, errnoName } from './errors.ts';
import { native } from './native.ts';
import type { NativeProgDesc, NativeProgInfo } from './native.ts';
import { XDP_MD_SIZE } from './context.ts';

export interface TestRunOptions {
  /** The packet (XDP: from the Ethernet header; TC: likewise, the kernel builds an skb). */
  data: Uint8Array;
  /** An xdp_md or __sk_buff (see xdpMd()/skBuff()). For XDP, data_end is filled in from data. */
  ctx?: Uint8Array;
  /** Room for the output packet; default data.length + 512 (programs may grow the packet). */
  dataSizeOut?: number;
  /** Room for the output context; default ctx.length when ctx is given, else no context out. */
  ctxSizeOut?: number;
  /** Runs the program this many times (durationNs is the average); default 1. */
  repeat?: number;
  flags?: number;
}

export interface TestRunResult {
  retval: number;
  data: Buffer;
  ctx?: Buffer;
  /** Average run time per repetition, as measured by the kernel. */
  durationNs: number;
}

export type XdpMode = 'native' | 'generic';
export type TcDirection = 'ingress' | 'egress';

export interface TcAttachOptions {
  /** tc filter handle; default 1. */
  handle?: number;
  /** tc filter priority; default 1. */
  priority?: number;
  /** Replace a filter with the same handle and priority instead of failing with EEXIST. */
  replace?: boolean;
}

/** XDP_FLAGS_* from linux/if_link.h. */
export const XDP_FLAGS = { UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, HW_MODE: 8, REPLACE: 16 } as const;
export const TC_POINT: Record<TcDirection, number> = { ingress: 1, egress: 2 };
export const TC_DEFAULTS = { handle: 1, priority: 1 } as const;

export function xdpModeFlag(mode: XdpMode): number {
  return mode === 'generic' ? XDP_FLAGS.SKB_MODE : XDP_FLAGS.DRV_MODE;
}

export class BpfProgram {
  readonly name: string;
  /** libbpf's program type name: 'xdp', 'sched_cls', … */
  readonly type: string;
  /** ELF section: 'xdp', 'tc', … */
  readonly section: string;
  readonly #fd: number;
  #closed = false;
  /** The owning object's native handle: keeps it (and so this fd) from being finalized while the program is in use. */
  readonly #keepAlive: unknown;

  /** @internal — use BpfObject.program(). */
  constructor(desc: NativeProgDesc, keepAlive?: unknown) {
    this.#keepAlive = keepAlive;
    this.name = desc.name;
    this.type = desc.type;
    this.section = desc.section;
    this.#fd = desc.fd;
  }

  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  /** @internal */
  get owner(): unknown {
    return this.#keepAlive;
  }

  /** @internal — the owning BpfObject closed every fd. */
  markClosed(): void {
    this.#closed = true;
  }

  #liveFd(op: string): number {
    if (this.#closed) {
      throw new BpfError({
        op,
        target: this.name,
        errno: 'EBADF',
        detail: 'the object that owns this program is closed',
        hint: 'open the object again; do not use a program after close()',
      });
    }
    return this.#fd;
  }

  /** Runs the program once (or `repeat` times) on data with BPF_PROG_TEST_RUN. */
  testRun(opts: TestRunOptions): TestRunResult {
    const fd = this.#liveFd('test run');
    if (!(opts.data instanceof Uint8Array)) {
      throw new BpfError({ op: 'test run', target: this.name, errno: 'EINVAL', detail: 'data must be a Buffer/Uint8Array' });
    }
    const dataOut = Buffer.alloc(opts.dataSizeOut ?? opts.data.length + 512);
    let ctx: Uint8Array | null = opts.ctx ?? null;
    if (ctx !== null && this.type === 'xdp' && ctx.length >= XDP_MD_SIZE) {
      // The kernel insists that xdp_md.data_end equals the packet length.
      const c = Buffer.from(ctx);
      if (c.readUInt32LE(4) === 0) c.writeUInt32LE(opts.data.length, 4);
      ctx = c;
    }
    const ctxOutSize = opts.ctxSizeOut ?? ctx?.length ?? 0;
    const ctxOut = ctxOutSize > 0 ? Buffer.alloc(ctxOutSize) : null;
    const r = native().testRun(fd, opts.data, dataOut, ctx, ctxOut, opts.repeat ?? 1, opts.flags ?? 0);
    if (r.err !== 0) check(r.err, 'test run', this.name, testRunDetail(r.err, this.type, opts));
    const result: TestRunResult = { retval: r.retval, data: dataOut.subarray(0, r.dataSize), durationNs: r.durationNs };
    if (ctxOut !== null) result.ctx = ctxOut.subarray(0, r.ctxSize);
    return result;
  }

  /** Attaches at XDP on ifindex (in the calling thread's network namespace; see inNetns). */
  attachXdp(ifindex: number, mode: XdpMode = 'native', opts: { replace?: boolean } = {}): void {
    const fd = this.#liveFd('attach xdp');
    const flags = xdpModeFlag(mode) | (opts.replace === true ? 0 : XDP_FLAGS.UPDATE_IF_NOEXIST);
    const rc = native().xdpAttach(ifindex, fd, flags);
    if (rc === 0) return;
    const e = errnoName(rc);
    const hint =
      e === 'EBUSY' || e === 'EEXIST'
        ? 'an XDP program is already attached (maybe in the other mode): pass { replace: true } to swap it in the same mode, or detachXdp() first'
        : e === 'ENODEV'
          ? `no interface with index ${ifindex} in this network namespace`
          : e === 'EOPNOTSUPP'
            ? "the driver has no native XDP: use mode 'generic'"
            : undefined;
    check(rc, 'attach xdp', `${this.name} on ifindex ${ifindex} (${mode})`, undefined, hint);
  }

  /** Attaches as a TC clsact filter (direct-action); creates the clsact qdisc when missing. */
  attachTc(ifindex: number, direction: TcDirection, opts: TcAttachOptions = {}): void {
    const fd = this.#liveFd('attach tc');
    const handle = opts.handle ?? TC_DEFAULTS.handle;
    const priority = opts.priority ?? TC_DEFAULTS.priority;
    const rc = native().tcAttach(ifindex, TC_POINT[direction], handle, priority, fd, opts.replace === true);
    if (rc === 0) return;
    const e = errnoName(rc);
    const hint =
      e === 'EEXIST'
        ? `a filter with handle ${handle} priority ${priority} is already there: pass { replace: true } or detachTc() first`
        : e === 'ENODEV'
          ? `no interface with index ${ifindex} in this network namespace`
          : e === 'EINVAL' && this.type !== 'sched_cls'
            ? `program type is ${this.type}; TC needs sched_cls (SEC("tc")) or programTypes override`
            : undefined;
    check(rc, 'attach tc', `${this.name} on ifindex ${ifindex} ${direction}`, undefined, hint);
  }

  /**
   * Attaches a raw_tp program (SEC("raw_tp/<name>")) to the tracepoint name, e.g. 'kfree_skb'.
   * Returns a function that detaches it (closes the link fd; nothing is pinned, and the link also
   * goes when the process exits).
   */
  attachRawTracepoint(tracepoint: string): () => void {
    const fd = this.#liveFd('attach raw tracepoint');
    const rc = native().rawTpOpen(tracepoint, fd);
    if (rc < 0) {
      const hint =
        errnoName(rc) === 'ENOENT'
          ? `the kernel has no tracepoint '${tracepoint}' (see /sys/kernel/tracing/events)`
          : this.type !== 'raw_tracepoint'
            ? `program type is ${this.type}; a raw tracepoint needs SEC("raw_tp/...")`
            : undefined;
      check(rc, 'attach raw tracepoint', `${this.name} on ${tracepoint}`, undefined, hint);
    }
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      native().closeFd(rc);
    };
  }

  /** Kernel id and run-time stats (runTimeNs/runCount move only while enableStats() is held). */
  info(): NativeProgInfo {
    const fd = this.#liveFd('program info');
    const info = native().progInfo(fd);
    if (typeof info === 'number') {
      check(info, 'program info', this.name);
      throw new Error('unreachable');
    }
    return info;
  }

  stats(): { runTimeNs: bigint; runCount: bigint } {
    const { runTimeNs, runCount } = this.info();
    return { runTimeNs, runCount };
  }
}

function testRunDetail(rc: number, type: string, opts: TestRunOptions): string | undefined {
  const e = errnoName(rc);
  if (e === 'ENOSPC') return `the output is larger than dataSizeOut/ctxSizeOut (${opts.dataSizeOut ?? opts.data.length + 512} bytes)`;
  if (e === 'EINVAL') {
    if (opts.data.length < 14) return `data is ${opts.data.length} bytes; at least an Ethernet header (14) is needed`;
    if (opts.ctx !== undefined)
      return type === 'xdp'
        ? 'xdp_md: ingress_ifindex must exist with rx_queue_index below its queue count; data_meta/egress_ifindex must be 0'
        : '__sk_buff: only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size, hwtstamp may be set';
  }
  if (e === 'ENODEV') return 'the ctx names an interface index that does not exist in this network namespace';
  if (e === 'ENOTSUPP' || e === 'EOPNOTSUPP') return `BPF_PROG_TEST_RUN is not supported for ${type} programs`;
  return undefined;
}
