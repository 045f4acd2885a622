// Loads the compiled N-API addon (src/bpf/native → build/Release/xlb_bpf.node) lazily, so that
// importing src/bpf does not fail on a machine where only the `sim` backend is used.
// The addon is internal: only the wrappers in this folder call it, and they validate sizes.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT } from '../root.ts';

export interface NativeMapDesc {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  fd: number;
  pinPath?: string;
}

export interface NativeMapInfo {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  id: number;
}

export interface NativeProgDesc {
  name: string;
  type: string;
  section: string;
  fd: number;
}

export interface NativeProgInfo {
  id: number;
  name: string;
  type: string;
  runTimeNs: bigint;
  runCount: bigint;
}

export interface NativeTestRun {
  err: number;
  retval: number;
  dataSize: number;
  ctxSize: number;
  durationNs: number;
}

export interface NativeXdpQuery {
  attachMode: number;
  progId: number;
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
}

export interface NativeBtfMember {
  name: string;
  offset: number;
  bitOffset: number;
  bitSize: number;
  size: number;
  type: string;
}

export interface NativeBtfEnum {
  name: string;
  /** Bytes of the enum type. */
  size: number;
  signed: boolean;
  values: { name: string; value: bigint }[];
}

export interface NativeBtfStruct {
  name: string;
  kind: 'struct' | 'union';
  size: number;
  members: NativeBtfMember[];
}

/** An opaque handle owned by the addon (bpf_object, ring buffer). */
export type NativeHandle = { readonly __nativeHandle: unique symbol };

/** Functions returning `number` answer 0 (or an fd / a count) on success and -errno on failure. */
export interface NativeBinding {
  objOpen(
    path: string,
    pinDir: string | null,
    logLevel: number,
    maxEntriesNames: string[],
    maxEntriesValues: number[],
    progTypeNames: string[],
    progTypeValues: string[],
    kconfig: string | null,
  ): { handle: NativeHandle; maps: NativeMapDesc[]; programs: NativeProgDesc[] };
  objClose(handle: NativeHandle): void;
  mapLookup(fd: number, key: Uint8Array, valueOut: Uint8Array): number;
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number): number;
  mapDelete(fd: number, key: Uint8Array): number;
  mapNextKey(fd: number, key: Uint8Array | null, nextOut: Uint8Array): number;
  /** Registers the scratch key/value buffers used by the *S functions below. */
  mapScratch(key: Uint8Array, value: Uint8Array): void;
  mapLookupS(fd: number): number;
  mapUpdateS(fd: number, flags: number): number;
  mapDeleteS(fd: number): number;
  mapNextKeyS(fd: number, first: boolean): number;
  mapLookupBatch(fd: number, keysOut: Uint8Array, valuesOut: Uint8Array, keySize: number, valueSize: number): number;
  mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number, flags: number, doneOut: Uint32Array): number;
  mapDeleteBatch(fd: number, keys: Uint8Array, keySize: number, count: number): number;
  /** Maps the first `bytes` of a BPF_F_MMAPABLE array: an opaque handle or -errno (mmap.c). */
  mmapOpen(fd: number, bytes: number): NativeHandle | number;
  mmapWrite(handle: NativeHandle, offset: number, bytes: Uint8Array): number;
  mmapRead(handle: NativeHandle, offset: number, out: Uint8Array): number;
  mmapClose(handle: NativeHandle): void;
  objPin(fd: number, path: string): number;
  objGet(path: string): number;
  mapInfo(fd: number): NativeMapInfo | number;
  mapCreate(type: string, keySize: number, valueSize: number, maxEntries: number, name: string, flags: number): number;
  closeFd(fd: number): number;
  numPossibleCpus(): number;
  testRun(
    fd: number,
    data: Uint8Array,
    dataOut: Uint8Array | null,
    ctx: Uint8Array | null,
    ctxOut: Uint8Array | null,
    repeat: number,
    flags: number,
  ): NativeTestRun;
  progInfo(fd: number): NativeProgInfo | number;
  enableStats(): number;
  xdpAttach(ifindex: number, fd: number, flags: number): number;
  xdpDetach(ifindex: number, flags: number): number;
  xdpQuery(ifindex: number): NativeXdpQuery | number;
  tcAttach(ifindex: number, attachPoint: number, handle: number, priority: number, fd: number, replace: boolean): number;
  tcDetach(ifindex: number, attachPoint: number, handle: number, priority: number): number;
  tcQuery(ifindex: number, attachPoint: number, handle: number, priority: number): number;
  ifindex(name: string): number;
  /** Attaches a raw_tp program to a tracepoint: a link fd (close it to detach) or -errno. */
  rawTpOpen(name: string, progFd: number): number;
  netnsEnter(path: string): number;
  netnsRestore(fd: number): number;
  ringbufOpen(mapFd: number, onRecord: (data: Buffer) => void): NativeHandle;
  ringbufClose(handle: NativeHandle): void;
  ringbufRef(handle: NativeHandle, ref: boolean): void;
  ringbufConsume(handle: NativeHandle): number;
  btfStructs(path: string): NativeBtfStruct[];
  btfEnums(path: string): NativeBtfEnum[];
  setCpuAffinity(cpus: number[]): number;
  getCpuAffinity(): number[] | number;
  currentCpu(): number;
  monotonicCoarseNs(): bigint | number;
  /** Maglev permutation fill (maglev.c): k members × [first, skip, slot, weight] into out[0..m-1]; 0 or -errno. */
  maglevFill(m: number, members: Float64Array, k: number, out: Uint8Array): number;
}

const ADDON = path.join(ROOT, 'src', 'bpf', 'native', 'build', 'Release', 'xlb_bpf.node');

let loaded: NativeBinding | undefined;

/** The addon, loaded on first use. Throws a clear error when it has not been built. */
export function native(): NativeBinding {
  if (loaded !== undefined) return loaded;
  if (!existsSync(ADDON)) {
    throw new Error(`the libbpf addon is not built (${ADDON} is missing): run './xlb setup' or 'scripts/build.sh addon'`);
  }
  const require = createRequire(import.meta.url);
  loaded = require(ADDON) as NativeBinding;
  return loaded;
}
