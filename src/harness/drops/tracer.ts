// Drop diagnosis for the lab (docs/drops.md): loads bpf/drops.bpf.c for one run, attaches its raw
// tracepoints (skb:kfree_skb, xdp:xdp_exception, xdp:xdp_redirect_err, xdp:xdp_devmap_xmit),
// limits it to the run's network namespaces (by netns inode) and collects one record per drop
// from its ring buffer. Nothing is pinned: close() detaches every link and frees the object,
// and the kernel drops both if the process dies.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { BpfObject, RingBuffer, u32 } from '../../bpf/index.ts';
import { native } from '../../bpf/native.ts';
import { fromNative } from '../../bpf/errors.ts';
import { formatIpv4, formatIpv6 } from '../../packet/index.ts';
import { vethPeerState } from '../../datapath/veth-gro.ts';
import type { VethPeerState } from '../../datapath/veth-gro.ts';
import { ROOT } from '../../root.ts';

export const DROPS_OBJECT = path.join(ROOT, 'build', 'bpf', 'drops.bpf.o');
const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

/** struct drop_event's kind (bpf/drops.bpf.c KIND_*). */
export const DROP_KIND = { 1: 'kfree_skb', 2: 'xdp_exception', 3: 'xdp_redirect_err', 4: 'xdp_devmap_xmit' } as const;
export type DropKind = (typeof DROP_KIND)[keyof typeof DROP_KIND];

/** sizeof(struct drop_event), packed. */
export const DROP_EVENT_SIZE = 8 + 8 + 4 * 8 + 16 + 16 + 2 + 1 + 1 + 2 + 2 + 16 + 16;

const XDP_ACTIONS = ['aborted', 'drop', 'pass', 'tx', 'redirect'];

export interface DropEvent {
  tsNs: bigint;
  tracepoint: DropKind;
  /** netns inode of the device, and the lab's name for it when known. */
  netns: number;
  node?: string;
  ifindex: number;
  ifname: string;
  /** kfree_skb: the kernel's skb_drop_reason, lower case without prefix (`no_socket`); XDP: see docs/drops.md. */
  reason: string;
  /** kfree_skb: the kernel function that freed the skb (kallsyms, `func+0xoff`); XDP: the tracepoint. */
  function: string;
  count: number;
  /** xdp_redirect_err / xdp_devmap_xmit: the error (`ENXIO`). */
  err?: string;
  /** xdp_devmap_xmit: the redirect's target. */
  to?: {
    ifindex: number;
    ifname: string;
    netns: number;
    node?: string;
    kind?: string;
    peer?: { ifname: string; netns?: string; gro: boolean; xdp: boolean };
  };
  tuple?: { proto: number; src: string; dst: string; sport?: number; dport?: number };
}

/** Decodes one ring-buffer record (layout: struct drop_event in bpf/drops.bpf.c). */
export function decodeDropEvent(b: Buffer, names: DropNames): DropEvent {
  if (b.length < DROP_EVENT_SIZE)
    throw new Error(
      `drop event: ${b.length} bytes, expected ${DROP_EVENT_SIZE} (bpf/drops.bpf.c and src/harness/drops/tracer.ts disagree: rebuild)`,
    );
  const kindCode = b.readUInt32LE(16);
  const tracepoint = DROP_KIND[kindCode as keyof typeof DROP_KIND];
  if (tracepoint === undefined) throw new Error(`drop event: unknown kind ${kindCode}`);
  const location = b.readBigUInt64LE(8);
  const netns = b.readUInt32LE(20);
  const ifindex = b.readUInt32LE(24);
  const reasonCode = b.readUInt32LE(28);
  const errCode = b.readInt32LE(32);
  const count = b.readUInt32LE(36);
  const toIfindex = b.readUInt32LE(40);
  const toNetns = b.readUInt32LE(44);
  const cstr = (off: number): string => {
    const s = b.subarray(off, off + 16);
    const z = s.indexOf(0);
    return s.subarray(0, z < 0 ? 16 : z).toString('latin1');
  };
  const ifname = cstr(48);
  const toIfname = cstr(64);
  const l3 = b.readUInt16LE(80);
  const l4 = b.readUInt8(82);
  const hasTuple = b.readUInt8(83) === 1;
  const sport = b.readUInt16BE(84);
  const dport = b.readUInt16BE(86);
  const errName = errCode < 0 ? errnoOf(errCode) : undefined;
  let reason: string;
  let fn: string;
  switch (tracepoint) {
    case 'kfree_skb':
      reason = names.reason(reasonCode);
      fn = names.symbol(location);
      break;
    case 'xdp_exception':
      reason = `xdp_exception_${XDP_ACTIONS[reasonCode] ?? String(reasonCode)}`;
      fn = 'xdp:xdp_exception';
      break;
    case 'xdp_redirect_err':
      reason = `xdp_redirect_err${errName !== undefined ? `_${errName.toLowerCase()}` : ''}`;
      fn = 'xdp:xdp_redirect_err';
      break;
    case 'xdp_devmap_xmit':
      // the redirect was accepted, but the target's ndo_xdp_xmit refused the frames
      reason = `xdp_xmit_failed${errName !== undefined ? `_${errName.toLowerCase()}` : ''}`;
      fn = 'xdp:xdp_devmap_xmit';
      break;
  }
  const ev: DropEvent = { tsNs: b.readBigUInt64LE(0), tracepoint, netns, ifindex, ifname, reason, function: fn, count };
  const node = names.node(netns);
  if (node !== undefined) ev.node = node;
  if (errName !== undefined) ev.err = errName;
  if (tracepoint === 'xdp_redirect_err' && toIfindex !== 0) {
    // a plain bpf_redirect: the target is in the same namespace; its name comes from the lab
    const l = names.link(netns, toIfindex);
    ev.to = { ifindex: toIfindex, ifname: l?.ifname ?? `if${toIfindex}`, netns };
    if (l?.kind !== undefined) ev.to.kind = l.kind;
    if (node !== undefined) ev.to.node = node;
    if (l?.kind === 'veth') {
      const p = names.peer?.(netns, ev.to.ifname);
      if (p !== undefined)
        ev.to.peer = { ifname: p.peer, gro: p.gro, xdp: p.xdp, ...(p.peerNetns !== undefined ? { netns: p.peerNetns } : {}) };
    }
  }
  if (tracepoint === 'xdp_devmap_xmit') {
    ev.to = { ifindex: toIfindex, ifname: toIfname, netns: toNetns };
    const l = names.link(toNetns, toIfindex);
    if (l?.kind !== undefined) ev.to.kind = l.kind;
    const toNode = names.node(toNetns);
    if (toNode !== undefined) ev.to.node = toNode;
  }
  if (hasTuple && (l3 === 0x0800 || l3 === 0x86dd)) {
    const v4 = l3 === 0x0800;
    ev.tuple = { proto: l4, src: v4 ? formatIpv4(b, 88) : formatIpv6(b, 88), dst: v4 ? formatIpv4(b, 104) : formatIpv6(b, 104) };
    if (l4 === 6 || l4 === 17) {
      ev.tuple.sport = sport;
      ev.tuple.dport = dport;
    }
  }
  return ev;
}

const ERRNO: Record<number, string> = {
  1: 'EPERM',
  6: 'ENXIO',
  12: 'ENOMEM',
  19: 'ENODEV',
  22: 'EINVAL',
  28: 'ENOSPC',
  34: 'ERANGE',
  90: 'EMSGSIZE',
  95: 'EOPNOTSUPP',
  105: 'ENOBUFS',
  100: 'ENETDOWN',
};
function errnoOf(negative: number): string {
  return ERRNO[-negative] ?? `errno${-negative}`;
}

/** Name lookups for decoding: drop reasons (BTF), kernel symbols (kallsyms), namespaces (the lab). */
export interface DropNames {
  reason(code: number): string;
  symbol(addr: bigint): string;
  node(netns: number): string | undefined;
  /** The interface ifindex in the namespace netns (inode): its name and link kind (`veth`), when known. */
  link(netns: number, ifindex: number): { ifname: string; kind?: string } | undefined;
  /** The peer of a veth, with its GRO/XDP state (read when first asked). */
  peer?(netns: number, ifname: string): VethPeerState | undefined;
}

let reasonTable: Map<number, string> | undefined;
/** enum skb_drop_reason from the running kernel's BTF: value → `no_socket`, `not_specified`, … */
export function skbDropReasons(): Map<number, string> {
  if (reasonTable !== undefined) return reasonTable;
  let enums;
  try {
    enums = native().btfEnums(VMLINUX_BTF);
  } catch (e) {
    throw fromNative(e);
  }
  const e = enums.find((x) => x.name === 'skb_drop_reason');
  if (e === undefined)
    throw new Error(
      `${VMLINUX_BTF} has no enum skb_drop_reason: the kernel is older than 5.17 or built without BTF; drop reasons cannot be named`,
    );
  reasonTable = new Map(
    e.values.map((v) => [
      Number(v.value),
      v.name
        .replace(/^SKB_DROP_REASON_/, '')
        .replace(/^SKB_/, '')
        .toLowerCase(),
    ]),
  );
  return reasonTable;
}

/** /proc/kallsyms text symbols, sorted, to name a kfree_skb location as `func+0xoff`. */
export class Kallsyms {
  readonly #addrs: bigint[] = [];
  readonly #names: string[] = [];
  constructor(text = readFileSync('/proc/kallsyms', 'utf8')) {
    const rows: [bigint, string][] = [];
    for (const line of text.split('\n')) {
      const [a, t, n] = line.split(/\s+/, 3);
      if (a === undefined || n === undefined || (t !== 't' && t !== 'T')) continue;
      const addr = BigInt(`0x${a}`);
      if (addr !== 0n) rows.push([addr, n]);
    }
    rows.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    for (const [a, n] of rows) {
      this.#addrs.push(a);
      this.#names.push(n);
    }
  }

  get empty(): boolean {
    return this.#addrs.length === 0;
  }

  resolve(addr: bigint): string {
    let lo = 0;
    let hi = this.#addrs.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#addrs[mid] as bigint) <= addr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return `0x${addr.toString(16)}`;
    const off = addr - (this.#addrs[best] as bigint);
    return `${this.#names[best] as string}+0x${off.toString(16)}`;
  }
}

/** A network namespace to watch: the lab's name for it and its /run/netns path (or any nsfs path). */
export interface WatchedNetns {
  node: string;
  path: string;
}

export function netnsInode(nsPath: string): number {
  return Number(statSync(nsPath).ino);
}

/** One run's drop tracer. */
export class DropTracer {
  readonly events: DropEvent[] = [];
  readonly #obj: BpfObject;
  readonly #ring: RingBuffer;
  readonly #detach: (() => void)[] = [];
  readonly #nodes = new Map<number, string>();
  readonly #paths = new Map<number, string>();
  /** netns inode → ifindex → link, read with `ip -j -d link` on first need (and again on a miss). */
  readonly #links = new Map<number, Map<number, { ifname: string; kind?: string }>>();
  readonly #names: DropNames;
  /** Records beyond this are counted, not kept (a broken run can drop millions). */
  readonly #maxEvents: number;
  #overflow = 0;
  #closed = false;

  private constructor(obj: BpfObject, maxEvents: number) {
    this.#obj = obj;
    this.#maxEvents = maxEvents;
    const reasons = skbDropReasons();
    const syms = new Kallsyms();
    if (syms.empty) throw new Error('/proc/kallsyms has no symbols (kptr_restrict?): run as root, or sysctl kernel.kptr_restrict=0');
    this.#names = {
      reason: (c) => reasons.get(c) ?? `reason_${c}`,
      symbol: (a) => syms.resolve(a),
      node: (n) => this.#nodes.get(n),
      link: (n, i) => this.#link(n, i),
      peer: (n, ifname) => this.#peer(n, ifname),
    };
    this.#ring = new RingBuffer(obj.map('events'), (b) => {
      if (this.events.length >= this.#maxEvents) {
        this.#overflow++;
        return;
      }
      this.events.push(decodeDropEvent(b, this.#names));
    });
    // the tracer must not keep a finished run's process alive
    this.#ring.unref();
  }

  /** Loads and attaches the tracer, watching the given namespaces. */
  static start(namespaces: WatchedNetns[], opts: { objectPath?: string; maxEvents?: number } = {}): DropTracer {
    const obj = BpfObject.open(opts.objectPath ?? DROPS_OBJECT);
    let t: DropTracer | undefined;
    try {
      t = new DropTracer(obj, opts.maxEvents ?? 100_000);
      for (const ns of namespaces) t.watch(ns);
      for (const [prog, tp] of [
        ['on_kfree_skb', 'kfree_skb'],
        ['on_xdp_exception', 'xdp_exception'],
        ['on_xdp_redirect_err', 'xdp_redirect_err'],
        ['on_xdp_devmap_xmit', 'xdp_devmap_xmit'],
      ] as const) {
        t.#detach.push(obj.program(prog).attachRawTracepoint(tp));
      }
      return t;
    } catch (e) {
      if (t !== undefined) t.close();
      else obj.close();
      throw e;
    }
  }

  /** netns inode/ifname → peer state, read once: a run's drops of one kind come in bursts. */
  readonly #peers = new Map<string, VethPeerState | undefined>();
  #peer(netns: number, ifname: string): VethPeerState | undefined {
    const key = `${netns}/${ifname}`;
    if (this.#peers.has(key)) return this.#peers.get(key);
    const p = this.#paths.get(netns);
    let v: VethPeerState | undefined;
    try {
      v = p === undefined ? undefined : vethPeerState(ifname, undefined, p);
    } catch {
      v = undefined;
    }
    this.#peers.set(key, v);
    return v;
  }

  #link(netns: number, index: number): { ifname: string; kind?: string } | undefined {
    const known = this.#links.get(netns)?.get(index);
    if (known !== undefined) return known;
    const p = this.#paths.get(netns);
    if (p === undefined) return undefined;
    const m = new Map<number, { ifname: string; kind?: string }>();
    try {
      const out = execFileSync('nsenter', [`--net=${p}`, 'ip', '-j', '-d', 'link', 'show'], { encoding: 'utf8', timeout: 5000 });
      for (const l of JSON.parse(out) as { ifindex: number; ifname: string; linkinfo?: { info_kind?: string } }[]) {
        const v: { ifname: string; kind?: string } = { ifname: l.ifname };
        if (l.linkinfo?.info_kind !== undefined) v.kind = l.linkinfo.info_kind;
        m.set(l.ifindex, v);
      }
    } catch {
      // the namespace is gone already: the record keeps the ifindex
    }
    this.#links.set(netns, m);
    return m.get(index);
  }

  /** Adds a namespace to the filter (a node created after start). */
  watch(ns: WatchedNetns): void {
    const inum = netnsInode(ns.path);
    this.#nodes.set(inum, ns.node);
    this.#paths.set(inum, ns.path);
    this.#obj.map('netns_filter').update(u32(inum), Buffer.from([1]));
  }

  /** Drains the ring buffer now (records also arrive on their own from the event loop). */
  flush(): void {
    if (!this.#ring.closed) this.#ring.consume();
  }

  /** Records the kernel could not queue (full ring buffer) plus those beyond maxEvents. */
  lost(): number {
    if (this.#closed) return this.#overflow;
    const v = this.#obj.map('lost').lookup(u32(0));
    return Number(v?.readBigUInt64LE(0) ?? 0n) + this.#overflow;
  }

  /** Detaches every tracepoint and frees the object; the events stay readable. Idempotent. */
  close(): void {
    if (this.#closed) return;
    try {
      this.flush();
      this.#overflow = this.lost();
    } finally {
      this.#closed = true;
      for (const d of this.#detach.splice(0)) d();
      this.#ring.close();
      this.#obj.close();
    }
  }
}
