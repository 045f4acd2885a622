// BpfMap: one BPF map by fd — CRUD, iteration, per-CPU values, batches, pinning.
import { mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { BpfError, check, errnoName } from './errors.ts';
import { native } from './native.ts';
import type { NativeHandle, NativeMapDesc, NativeMapInfo } from './native.ts';

/** BPF_F_MMAPABLE (include/uapi/linux/bpf.h): an array map whose values user space can mmap. */
export const BPF_F_MMAPABLE = 1 << 10;

export type UpdateFlag = 'any' | 'noexist' | 'exist';
const UPDATE_FLAGS: Record<UpdateFlag, number> = { any: 0, noexist: 1, exist: 2 };

const PERCPU_TYPES = new Set(['percpu_hash', 'percpu_array', 'lru_percpu_hash', 'percpu_cgroup_storage']);
// Map types whose kernel implementation has no batch operations: the wrapper falls back to
// single-element calls for these.
const BATCH_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUPP', 'EOPNOTSUPP']);

// Hot-path scratch buffers registered once with the addon (see mapScratch in native/map.c):
// single-element operations copy the key/value in and out instead of passing typed arrays,
// whose decoding costs more than the bpf() syscall.
const SCRATCH_KEY = 4096;
const SCRATCH_VALUE = 1 << 20;
let scratchBufs: { key: Buffer; val: Buffer } | undefined;
function scratch(): { key: Buffer; val: Buffer } {
  if (scratchBufs === undefined) {
    const bufs = { key: Buffer.alloc(SCRATCH_KEY), val: Buffer.alloc(SCRATCH_VALUE) };
    native().mapScratch(bufs.key, bufs.val);
    scratchBufs = bufs;
  }
  return scratchBufs;
}

let possibleCpus: number | undefined;
/** Number of possible CPUs (the per-CPU value count the kernel uses). */
export function numPossibleCpus(): number {
  possibleCpus ??= check(native().numPossibleCpus(), 'count possible CPUs', '/sys/devices/system/cpu/possible');
  return possibleCpus;
}

export interface MapCreateOptions {
  /** libbpf's map type name: 'hash', 'array', 'percpu_hash', 'lru_hash', 'ringbuf', … */
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  name?: string;
  flags?: number;
}

/** count entries packed back to back: keys of keySize bytes, values of valueBufferSize bytes. */
export interface RawEntries {
  count: number;
  keys: Buffer;
  values: Buffer;
}

interface MapState {
  fd: number;
  /** false when a BpfObject owns the fd (closed by the object). */
  owned: boolean;
  closed: boolean;
  /** The mapping of a BPF_F_MMAPABLE array, made on first use (native/mmap.c). */
  mapped?: NativeHandle;
}

export class BpfMap {
  readonly name: string;
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly perCpu: boolean;
  /** Where libbpf pinned (or found) this map when opened with a pin directory. */
  readonly pinPath: string | undefined;
  /** Bytes of one lookup/update buffer: valueSize, or round_up(valueSize, 8) × CPUs for per-CPU maps. */
  readonly valueBufferSize: number;
  readonly #state: MapState;
  /** The value-sized window of the scratch buffer when this map fits the fast path. */
  #valView: Buffer | undefined;
  readonly #fast: boolean;
  /** The owning object's native handle: keeps it (and so this fd) from being finalized while the map is in use. */
  readonly #keepAlive: unknown;

  /** @internal — use BpfObject.map(), BpfMap.openPinned() or BpfMap.create(). */
  constructor(desc: NativeMapDesc | (NativeMapInfo & { fd: number; pinPath?: string }), owned: boolean, keepAlive?: unknown) {
    this.#keepAlive = keepAlive;
    this.name = desc.name;
    this.type = desc.type;
    this.keySize = desc.keySize;
    this.valueSize = desc.valueSize;
    this.maxEntries = desc.maxEntries;
    this.flags = desc.flags;
    this.perCpu = PERCPU_TYPES.has(desc.type);
    this.pinPath = desc.pinPath;
    this.valueBufferSize = this.perCpu ? Math.ceil(desc.valueSize / 8) * 8 * numPossibleCpus() : desc.valueSize;
    this.#state = { fd: desc.fd, owned, closed: false };
    this.#fast = this.keySize <= SCRATCH_KEY && this.valueBufferSize <= SCRATCH_VALUE;
  }

  #scratchValue(): Buffer {
    this.#valView ??= scratch().val.subarray(0, this.valueBufferSize);
    return this.#valView;
  }

  /** Opens a map pinned in bpffs (the caller owns the fd: call close()). */
  static openPinned(pinPath: string): BpfMap {
    const fd = check(native().objGet(pinPath), 'open pinned map', pinPath, undefined, hintForPinnedOpen(pinPath));
    try {
      if (!isMapFd(fd)) {
        throw new BpfError({
          op: 'open pinned map',
          target: pinPath,
          errno: 'EINVAL',
          detail: 'the pinned object is not a map (a program or link?)',
        });
      }
      const info = native().mapInfo(fd);
      if (typeof info === 'number') check(info, 'read map info', pinPath);
      return new BpfMap({ ...(info as NativeMapInfo), fd, pinPath }, true);
    } catch (e) {
      native().closeFd(fd);
      throw e;
    }
  }

  /** Creates a map that belongs to no object (tests, benchmarks, agent-side scratch maps). */
  static create(opts: MapCreateOptions): BpfMap {
    const name = opts.name ?? 'xlb_map';
    const fd = check(
      native().mapCreate(opts.type, opts.keySize, opts.valueSize, opts.maxEntries, name, opts.flags ?? 0),
      'create map',
      name,
      `type '${opts.type}', key ${opts.keySize} B, value ${opts.valueSize} B, max_entries ${opts.maxEntries}`,
    );
    const info = native().mapInfo(fd);
    if (typeof info === 'number') {
      native().closeFd(fd);
      check(info, 'read map info', name);
    }
    return new BpfMap({ ...(info as NativeMapInfo), fd }, true);
  }

  get fd(): number {
    return this.#state.closed ? -1 : this.#state.fd;
  }

  get closed(): boolean {
    return this.#state.closed;
  }

  /** @internal */
  get owner(): unknown {
    return this.#keepAlive;
  }

  /** @internal — the owning BpfObject closed every fd. */
  markClosed(): void {
    this.#state.closed = true;
    this.#unmap();
  }

  #unmap(): void {
    if (this.#state.mapped !== undefined) native().mmapClose(this.#state.mapped);
    this.#state.mapped = undefined;
  }

  /** True for an array created with BPF_F_MMAPABLE (writeMapped/readMapped work). */
  get mmapable(): boolean {
    return this.type === 'array' && (this.flags & BPF_F_MMAPABLE) !== 0;
  }

  /** Bytes of the mapped region: every value, each padded to 8 bytes as the kernel lays them out. */
  get mappedSize(): number {
    return this.maxEntries * Math.ceil(this.valueSize / 8) * 8;
  }

  #mapping(op: string): NativeHandle {
    const fd = this.#liveFd(op);
    if (this.#state.mapped !== undefined) return this.#state.mapped;
    if (!this.mmapable) {
      throw new BpfError({
        op,
        target: this.name,
        errno: 'EINVAL',
        detail: `map '${this.name}' is a ${this.type} without BPF_F_MMAPABLE`,
        hint: 'only arrays created with map_flags BPF_F_MMAPABLE can be written through memory; use update()/updateBatch()',
      });
    }
    const h = native().mmapOpen(fd, this.mappedSize);
    if (typeof h === 'number') check(h, 'mmap', this.name, `${this.mappedSize} bytes`);
    this.#state.mapped = h as NativeHandle;
    return this.#state.mapped;
  }

  #mappedRange(op: string, offset: number, length: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + length > this.mappedSize) {
      throw new BpfError({
        op,
        target: this.name,
        errno: 'ERANGE',
        detail: `bytes ${offset}..${offset + length} are outside the map's ${this.mappedSize} bytes`,
      });
    }
  }

  /**
   * Writes bytes into the values of a BPF_F_MMAPABLE array at a byte offset (entry i starts at
   * i × round_up(valueSize, 8)): one memcpy, no syscall. Programs see each store as it lands, so
   * write only what no packet reads yet (the inactive generation).
   */
  writeMapped(offset: number, bytes: Uint8Array): void {
    const h = this.#mapping('write mapped');
    this.#mappedRange('write mapped', offset, bytes.length);
    check(native().mmapWrite(h, offset, bytes), 'write mapped', this.name);
  }

  /** Reads bytes of a BPF_F_MMAPABLE array's values at a byte offset into out. */
  readMapped(offset: number, out: Uint8Array): void {
    const h = this.#mapping('read mapped');
    this.#mappedRange('read mapped', offset, out.length);
    check(native().mmapRead(h, offset, out), 'read mapped', this.name);
  }

  #liveFd(op: string): number {
    if (this.#state.closed) {
      throw new BpfError({
        op,
        target: this.name,
        errno: 'EBADF',
        detail: 'the map (or the object that owns it) is closed',
        hint: 'open it again; do not use a map after close()',
      });
    }
    return this.#state.fd;
  }

  #checkKey(op: string, key: Uint8Array): void {
    if (!(key instanceof Uint8Array) || key.length !== this.keySize) {
      const got = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
      throw new BpfError({
        op,
        target: this.name,
        errno: 'EINVAL',
        detail: `key is ${got}, map '${this.name}' has key_size ${this.keySize}`,
        hint: "encode the key with the map's key codec",
      });
    }
  }

  #valueBuffer(op: string, value: Uint8Array): Uint8Array {
    if (!(value instanceof Uint8Array)) {
      throw new BpfError({ op, target: this.name, errno: 'EINVAL', detail: `value is ${typeof value}, expected a Buffer/Uint8Array` });
    }
    if (value.length === this.valueBufferSize) return value;
    if (this.perCpu && value.length === this.valueSize) {
      // One value for every CPU.
      return this.#perCpuBuffer(
        op,
        Array.from({ length: numPossibleCpus() }, () => value),
      );
    }
    const expected = this.perCpu
      ? `${this.valueSize} (replicated to every CPU) or ${this.valueBufferSize} (all CPUs)`
      : `${this.valueSize}`;
    throw new BpfError({
      op,
      target: this.name,
      errno: 'EINVAL',
      detail: `value is ${value.length} bytes, map '${this.name}' expects ${expected}`,
      hint: "encode the value with the map's value codec",
    });
  }

  #perCpuBuffer(op: string, values: Uint8Array[]): Buffer {
    const cpus = numPossibleCpus();
    if (values.length !== cpus) {
      throw new BpfError({
        op,
        target: this.name,
        errno: 'EINVAL',
        detail: `got ${values.length} per-CPU values, this host has ${cpus} possible CPUs`,
      });
    }
    const stride = this.valueBufferSize / cpus;
    const buf = Buffer.alloc(this.valueBufferSize);
    values.forEach((v, i) => {
      if (v.length !== this.valueSize) {
        throw new BpfError({
          op,
          target: this.name,
          errno: 'EINVAL',
          detail: `per-CPU value ${i} is ${v.length} bytes, map '${this.name}' has value_size ${this.valueSize}`,
        });
      }
      buf.set(v, i * stride);
    });
    return buf;
  }

  /** The value for key, or undefined when absent. Per-CPU maps: all CPUs' values back to back (see lookupPerCpu). */
  lookup(key: Uint8Array): Buffer | undefined {
    const fd = this.#liveFd('lookup');
    this.#checkKey('lookup', key);
    let rc: number;
    let out: Buffer;
    if (this.#fast) {
      const view = this.#scratchValue();
      scratch().key.set(key);
      rc = native().mapLookupS(fd);
      if (rc === 0) {
        out = Buffer.allocUnsafe(this.valueBufferSize);
        out.set(view);
        return out;
      }
    } else {
      out = Buffer.allocUnsafe(this.valueBufferSize);
      rc = native().mapLookup(fd, key, out);
      if (rc === 0) return out;
    }
    if (rc === -2) return undefined; // ENOENT
    return void check(rc, 'lookup', this.name);
  }

  /**
   * Allocation-free lookup: copies the value into out (at least valueBufferSize bytes) and
   * returns true, or returns false when the key is absent. For hot loops.
   */
  lookupInto(key: Uint8Array, out: Uint8Array): boolean {
    const fd = this.#liveFd('lookup');
    this.#checkKey('lookup', key);
    if (!(out instanceof Uint8Array) || out.length < this.valueBufferSize) {
      throw new BpfError({
        op: 'lookup',
        target: this.name,
        errno: 'EINVAL',
        detail: `the output buffer must hold ${this.valueBufferSize} bytes`,
      });
    }
    let rc: number;
    if (this.#fast) {
      const view = this.#scratchValue();
      scratch().key.set(key);
      rc = native().mapLookupS(fd);
      if (rc === 0) out.set(view);
    } else {
      rc = native().mapLookup(fd, key, out);
    }
    if (rc === 0) return true;
    if (rc === -2) return false;
    check(rc, 'lookup', this.name);
    return false;
  }

  /** Looks up and decodes in place (no intermediate Buffer), e.g. lookupDecoded(key, valueCodec). */
  lookupDecoded<T>(key: Uint8Array, decoder: { decode(bytes: Uint8Array): T }): T | undefined {
    if (!this.#fast) {
      const v = this.lookup(key);
      return v === undefined ? undefined : decoder.decode(v);
    }
    const fd = this.#liveFd('lookup');
    this.#checkKey('lookup', key);
    const view = this.#scratchValue();
    scratch().key.set(key);
    const rc = native().mapLookupS(fd);
    if (rc === 0) return decoder.decode(view);
    if (rc === -2) return undefined;
    check(rc, 'lookup', this.name);
    return undefined;
  }

  /** Per-CPU maps: one value per possible CPU, or undefined when absent. */
  lookupPerCpu(key: Uint8Array): Buffer[] | undefined {
    if (!this.perCpu) {
      throw new BpfError({
        op: 'lookup per-CPU',
        target: this.name,
        errno: 'EINVAL',
        detail: `map '${this.name}' is a ${this.type} map, not per-CPU`,
        hint: 'use lookup()',
      });
    }
    const all = this.lookup(key);
    if (all === undefined) return undefined;
    return this.#splitPerCpu(all);
  }

  #splitPerCpu(all: Buffer): Buffer[] {
    const cpus = numPossibleCpus();
    const stride = this.valueBufferSize / cpus;
    return Array.from({ length: cpus }, (_, i) => all.subarray(i * stride, i * stride + this.valueSize));
  }

  /** Per-CPU maps: sums an unsigned little-endian 64-bit counter at `offset` over all CPUs. */
  sumPerCpuU64(key: Uint8Array, offset = 0): bigint | undefined {
    const vals = this.lookupPerCpu(key);
    return vals?.reduce((acc, v) => acc + v.readBigUInt64LE(offset), 0n);
  }

  update(key: Uint8Array, value: Uint8Array, flags: UpdateFlag = 'any'): void {
    const fd = this.#liveFd('update');
    this.#checkKey('update', key);
    const v = this.#valueBuffer('update', value);
    let rc: number;
    if (this.#fast) {
      const s = scratch();
      s.key.set(key);
      s.val.set(v);
      rc = native().mapUpdateS(fd, UPDATE_FLAGS[flags]);
    } else {
      rc = native().mapUpdate(fd, key, v, UPDATE_FLAGS[flags]);
    }
    if (rc !== 0) check(rc, 'update', this.name, updateDetail(rc, flags), updateHint(rc, this));
  }

  updatePerCpu(key: Uint8Array, values: Uint8Array[]): void {
    if (!this.perCpu) {
      throw new BpfError({
        op: 'update per-CPU',
        target: this.name,
        errno: 'EINVAL',
        detail: `map '${this.name}' is a ${this.type} map, not per-CPU`,
        hint: 'use update()',
      });
    }
    this.update(key, this.#perCpuBuffer('update per-CPU', values));
  }

  /** Deletes key; false when it was absent. */
  delete(key: Uint8Array): boolean {
    const fd = this.#liveFd('delete');
    this.#checkKey('delete', key);
    let rc: number;
    if (this.#fast) {
      scratch().key.set(key);
      rc = native().mapDeleteS(fd);
    } else {
      rc = native().mapDelete(fd, key);
    }
    if (rc === 0) return true;
    if (rc === -2) return false;
    check(
      rc,
      'delete',
      this.name,
      this.type.includes('array') ? 'array map elements cannot be deleted; overwrite them instead' : undefined,
    );
    return false;
  }

  /** Every key (BPF_MAP_GET_NEXT_KEY). Entries added or removed while iterating may be seen or not. */
  *keys(): IterableIterator<Buffer> {
    const fd = this.#liveFd('iterate');
    let prev: Buffer | null = null;
    while (true) {
      const next = Buffer.allocUnsafe(this.keySize);
      const rc = native().mapNextKey(fd, prev, next);
      if (rc === -2) return;
      check(rc, 'iterate', this.name);
      yield next;
      prev = next;
    }
  }

  *entries(): IterableIterator<[Buffer, Buffer]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  /** Every entry in as few BPF_MAP_LOOKUP_BATCH calls as possible (falls back to iteration
   * for map types without batch support). Per-CPU values come back as all CPUs back to back. */
  lookupBatch(): [Buffer, Buffer][] {
    const raw = this.lookupBatchRaw();
    const out: [Buffer, Buffer][] = new Array(raw.count);
    const ks = this.keySize;
    const vs = this.valueBufferSize;
    for (let i = 0; i < raw.count; i++) out[i] = [raw.keys.subarray(i * ks, (i + 1) * ks), raw.values.subarray(i * vs, (i + 1) * vs)];
    return out;
  }

  /**
   * Like lookupBatch, without a Buffer per element: entry i is keys[i*keySize …] and
   * values[i*valueBufferSize …]. The cheapest way to dump a large map (decode in place).
   */
  lookupBatchRaw(): RawEntries {
    const fd = this.#liveFd('lookup batch');
    const keys = Buffer.allocUnsafe(this.keySize * this.maxEntries);
    const values = Buffer.allocUnsafe(this.valueBufferSize * this.maxEntries);
    const rc = native().mapLookupBatch(fd, keys, values, this.keySize, this.valueBufferSize);
    if (rc < 0 && BATCH_UNSUPPORTED.has(errnoName(rc)) && !this.#batchCapable()) {
      let n = 0;
      for (const [k, v] of this.entries()) {
        if (n === this.maxEntries) break;
        keys.set(k, n * this.keySize);
        values.set(v, n * this.valueBufferSize);
        n++;
      }
      return { count: n, keys: keys.subarray(0, n * this.keySize), values: values.subarray(0, n * this.valueBufferSize) };
    }
    const n = check(rc, 'lookup batch', this.name);
    return { count: n, keys: keys.subarray(0, n * this.keySize), values: values.subarray(0, n * this.valueBufferSize) };
  }

  /** Writes every entry with one BPF_MAP_UPDATE_BATCH call. */
  updateBatch(entries: [Uint8Array, Uint8Array][], flags: UpdateFlag = 'any'): void {
    this.#liveFd('update batch');
    if (entries.length === 0) return;
    const ks = this.keySize;
    const vs = this.valueBufferSize;
    const keys = Buffer.allocUnsafe(ks * entries.length);
    const vals = Buffer.allocUnsafe(vs * entries.length);
    for (let i = 0; i < entries.length; i++) {
      const [k, v] = entries[i]!;
      if (k.length !== ks || !(k instanceof Uint8Array)) this.#checkKey('update batch', k);
      keys.set(k, i * ks);
      vals.set(v.length === vs && v instanceof Uint8Array ? v : this.#valueBuffer('update batch', v), i * vs);
    }
    this.updateBatchRaw({ count: entries.length, keys, values: vals }, flags);
  }

  /** updateBatch from contiguous buffers: count keys of keySize and count values of valueBufferSize. */
  updateBatchRaw(entries: RawEntries, flags: UpdateFlag = 'any'): void {
    const fd = this.#liveFd('update batch');
    const { count, keys, values } = entries;
    if (keys.length < count * this.keySize || values.length < count * this.valueBufferSize) {
      throw new BpfError({
        op: 'update batch',
        target: this.name,
        errno: 'EINVAL',
        detail: `${count} entries need ${count * this.keySize} key bytes and ${count * this.valueBufferSize} value bytes, got ${keys.length} and ${values.length}`,
      });
    }
    if (count === 0) return;
    const done = new Uint32Array(1);
    const rc = native().mapUpdateBatch(fd, keys, values, count, UPDATE_FLAGS[flags], done);
    if (rc === 0) return;
    if (done[0] === 0 && BATCH_UNSUPPORTED.has(errnoName(rc)) && !this.#batchCapable()) {
      for (let i = 0; i < count; i++) {
        this.update(
          keys.subarray(i * this.keySize, (i + 1) * this.keySize),
          values.subarray(i * this.valueBufferSize, (i + 1) * this.valueBufferSize),
          flags,
        );
      }
      return;
    }
    check(rc, 'update batch', this.name, `${done[0]} of ${count} entries were written before the failure`, updateHint(rc, this));
  }

  /** Deletes every key present with BPF_MAP_DELETE_BATCH; absent keys are skipped. Returns how many were deleted. */
  deleteBatch(keys: Uint8Array[]): number {
    this.#liveFd('delete batch');
    if (keys.length === 0) return 0;
    const ks = this.keySize;
    const buf = Buffer.allocUnsafe(ks * keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k.length !== ks || !(k instanceof Uint8Array)) this.#checkKey('delete batch', k);
      buf.set(k, i * ks);
    }
    return this.deleteBatchRaw(buf, keys.length);
  }

  /** deleteBatch from count keys packed back to back in one buffer. */
  deleteBatchRaw(keys: Uint8Array, count: number): number {
    const fd = this.#liveFd('delete batch');
    if (keys.length < count * this.keySize) {
      throw new BpfError({
        op: 'delete batch',
        target: this.name,
        errno: 'EINVAL',
        detail: `${count} keys need ${count * this.keySize} bytes, got ${keys.length}`,
      });
    }
    if (count === 0) return 0;
    const rc = native().mapDeleteBatch(fd, keys, this.keySize, count);
    if (rc < 0 && BATCH_UNSUPPORTED.has(errnoName(rc)) && !this.#batchCapable()) {
      let n = 0;
      for (let i = 0; i < count; i++) if (this.delete(keys.subarray(i * this.keySize, (i + 1) * this.keySize))) n++;
      return n;
    }
    return check(
      rc,
      'delete batch',
      this.name,
      this.type.includes('array') ? 'array map elements cannot be deleted; overwrite them instead' : undefined,
    );
  }

  #batchCapable(): boolean {
    return ['hash', 'percpu_hash', 'lru_hash', 'lru_percpu_hash', 'array', 'percpu_array'].includes(this.type);
  }

  /** Pins the map at path in bpffs (parent directories are created). */
  pin(pinPath: string): void {
    const fd = this.#liveFd('pin');
    mkdirSync(path.dirname(pinPath), { recursive: true });
    check(native().objPin(fd, pinPath), 'pin', `${this.name} at ${pinPath}`, undefined, hintForPin(pinPath));
  }

  /** Removes the pin at path (the map lives on while fds or programs use it). */
  unpin(pinPath: string): void {
    try {
      unlinkSync(pinPath);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      throw new BpfError({ op: 'unpin', target: `${this.name} at ${pinPath}`, errno: code, detail: (e as Error).message });
    }
  }

  /** Closes the fd when this map owns it (openPinned/create); maps of a BpfObject are closed by the object. Idempotent. */
  close(): void {
    if (this.#state.closed || !this.#state.owned) return;
    this.#state.closed = true;
    this.#unmap();
    native().closeFd(this.#state.fd);
  }
}

function isMapFd(fd: number): boolean {
  try {
    return readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').includes('map_type:');
  } catch {
    return false;
  }
}

function hintForPinnedOpen(p: string): string {
  return p.startsWith('/sys/fs/bpf/')
    ? 'nothing usable is pinned there: is the agent (or the test that pins it) running, and is bpffs mounted?'
    : 'pinned maps live in bpffs, under /sys/fs/bpf/';
}

function hintForPin(p: string): string {
  return p.startsWith('/sys/fs/bpf/')
    ? 'EEXIST means something is already pinned there: unpin it first'
    : 'pin paths must be inside bpffs (/sys/fs/bpf/…)';
}

function updateDetail(rc: number, flags: UpdateFlag): string | undefined {
  const e = errnoName(rc);
  if (e === 'EEXIST' && flags === 'noexist') return "the key is already present (flag 'noexist')";
  if (e === 'ENOENT' && flags === 'exist') return "the key is absent (flag 'exist')";
  return undefined;
}

function updateHint(rc: number, map: BpfMap): string | undefined {
  const e = errnoName(rc);
  if (e === 'E2BIG') return `map '${map.name}' is full (max_entries ${map.maxEntries}): raise maxEntries or delete entries`;
  if (e === 'EINVAL' && map.type === 'prog_array') return 'prog_array values are program fds (u32) of a compatible program type';
  if (e === 'EINVAL' && map.type.includes('array')) return `array index out of range (max_entries ${map.maxEntries}) or unsupported flag`;
  return undefined;
}
