// Context structs for BPF_PROG_TEST_RUN (linux/bpf.h): xdp_md and __sk_buff, encoded with only
// the fields the kernel accepts as input, and decoded back from ctx out.

/** sizeof(struct xdp_md). */
export const XDP_MD_SIZE = 24;
/** sizeof(struct __sk_buff) on kernels ≥ 5.16 (hwtstamp is the last field). */
export const SK_BUFF_SIZE = 192;

const SKB = {
  mark: 8,
  priority: 32,
  ingressIfindex: 36,
  ifindex: 40,
  cb: 48,
  tstamp: 152,
  wireLen: 160,
  gsoSegs: 164,
  gsoSize: 176,
  hwtstamp: 184,
} as const;

export interface XdpMdFields {
  /** A real interface index (e.g. lo = 1); the kernel checks it exists. */
  ingressIfindex?: number;
  /** Must be below the interface's RX queue count. */
  rxQueueIndex?: number;
}

/** An xdp_md for testRun. data/data_end are left 0: BpfProgram.testRun fills data_end. */
export function xdpMd(fields: XdpMdFields): Buffer {
  const b = Buffer.alloc(XDP_MD_SIZE);
  b.writeUInt32LE(fields.ingressIfindex ?? 0, 12);
  b.writeUInt32LE(fields.rxQueueIndex ?? 0, 16);
  return b;
}

export interface XdpMdView {
  data: number;
  dataEnd: number;
  dataMeta: number;
  ingressIfindex: number;
  rxQueueIndex: number;
  egressIfindex: number;
}

export function decodeXdpMd(b: Uint8Array): XdpMdView {
  const v = Buffer.from(b.buffer, b.byteOffset, b.length);
  return {
    data: v.readUInt32LE(0),
    dataEnd: v.readUInt32LE(4),
    dataMeta: v.readUInt32LE(8),
    ingressIfindex: v.readUInt32LE(12),
    rxQueueIndex: v.readUInt32LE(16),
    egressIfindex: v.readUInt32LE(20),
  };
}

/**
 * The __sk_buff fields BPF_PROG_TEST_RUN accepts as input. Others (len, protocol, …) must be
 * zero: the kernel derives them from the packet (protocol from the Ethernet header).
 */
export interface SkBuffInput {
  ifindex?: number;
  ingressIfindex?: number;
  mark?: number;
  priority?: number;
  /** Up to 5 u32 control-block words. */
  cb?: number[];
  tstamp?: bigint;
  wireLen?: number;
  gsoSegs?: number;
  gsoSize?: number;
  hwtstamp?: bigint;
}

export interface SkBuffFields extends SkBuffInput {
  /**
   * Not settable: the kernel rejects a nonzero __sk_buff.protocol in BPF_PROG_TEST_RUN (EINVAL)
   * and takes it from the packet's EtherType. Present only so that passing it gives a clear error.
   */
  protocol?: number;
}

export function skBuff(fields: SkBuffFields): Buffer {
  if (fields.protocol !== undefined) {
    throw new RangeError(
      "skBuff: 'protocol' cannot be set for BPF_PROG_TEST_RUN (the kernel rejects it with EINVAL); it is taken from the packet's EtherType — build the frame with the EtherType you want",
    );
  }
  const b = Buffer.alloc(SK_BUFF_SIZE);
  b.writeUInt32LE(fields.mark ?? 0, SKB.mark);
  b.writeUInt32LE(fields.priority ?? 0, SKB.priority);
  b.writeUInt32LE(fields.ingressIfindex ?? 0, SKB.ingressIfindex);
  b.writeUInt32LE(fields.ifindex ?? 0, SKB.ifindex);
  const cb = fields.cb ?? [];
  if (cb.length > 5) throw new RangeError(`__sk_buff.cb holds 5 u32 words, got ${cb.length}`);
  cb.forEach((w, i) => b.writeUInt32LE(w, SKB.cb + 4 * i));
  b.writeBigUInt64LE(fields.tstamp ?? 0n, SKB.tstamp);
  b.writeUInt32LE(fields.wireLen ?? 0, SKB.wireLen);
  b.writeUInt32LE(fields.gsoSegs ?? 0, SKB.gsoSegs);
  b.writeUInt32LE(fields.gsoSize ?? 0, SKB.gsoSize);
  b.writeBigUInt64LE(fields.hwtstamp ?? 0n, SKB.hwtstamp);
  return b;
}

/** The fields the kernel writes back into ctx out (len and protocol are not among them). */
export type SkBuffView = Required<Omit<SkBuffInput, 'cb'>> & { cb: number[] };

export function decodeSkBuff(b: Uint8Array): SkBuffView {
  if (b.length < SK_BUFF_SIZE) throw new RangeError(`__sk_buff is ${SK_BUFF_SIZE} bytes, got ${b.length}`);
  const v = Buffer.from(b.buffer, b.byteOffset, b.length);
  return {
    mark: v.readUInt32LE(SKB.mark),
    priority: v.readUInt32LE(SKB.priority),
    ingressIfindex: v.readUInt32LE(SKB.ingressIfindex),
    ifindex: v.readUInt32LE(SKB.ifindex),
    cb: Array.from({ length: 5 }, (_, i) => v.readUInt32LE(SKB.cb + 4 * i)),
    tstamp: v.readBigUInt64LE(SKB.tstamp),
    wireLen: v.readUInt32LE(SKB.wireLen),
    gsoSegs: v.readUInt32LE(SKB.gsoSegs),
    gsoSize: v.readUInt32LE(SKB.gsoSize),
    hwtstamp: v.readBigUInt64LE(SKB.hwtstamp),
  };
}
