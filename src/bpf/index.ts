// The libbpf binding: the only code in xlb that makes bpf() syscalls. See docs/bpf-binding.md.
export { BpfObject } from './object.ts';
export type { OpenOptions } from './object.ts';
export { BpfMap, BPF_F_MMAPABLE, numPossibleCpus } from './map.ts';
export type { MapCreateOptions, UpdateFlag, RawEntries } from './map.ts';
export { BpfProgram, XDP_FLAGS } from './program.ts';
export type { TestRunOptions, TestRunResult, XdpMode, TcDirection, TcAttachOptions } from './program.ts';
export { detachXdp, xdpAttached, detachTc, tcAttached, enableStats, ifindex } from './attach.ts';
export type { XdpAttachment } from './attach.ts';
export { RingBuffer } from './ringbuf.ts';
export { inNetns } from './netns.ts';
export { getCpuAffinity, setCpuAffinity, currentCpu, monotonicCoarseNs } from './cpu.ts';
export { maglevFillNative, MAGLEV_NATIVE_MAX_MEMBERS } from './maglev.ts';
export { xdpMd, skBuff, decodeXdpMd, decodeSkBuff, XDP_MD_SIZE, SK_BUFF_SIZE } from './context.ts';
export type { XdpMdFields, SkBuffFields, SkBuffInput, XdpMdView, SkBuffView } from './context.ts';
export { BpfError, errnoName } from './errors.ts';

/** A u32 in host (little-endian) byte order: array keys, prog_array values (program fds). */
export function u32(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new RangeError(`u32: ${value} is not an integer in [0, 4294967295]`);
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}
