// Reading the LB's pinned maps from a test or scenario: a generic reader over the libbpf binding
// (src/bpf) and the struct codecs (src/schema). The datapath-specific readers (conntrack, stats)
// are thin layers over these with the datapath's codecs.
import { BpfMap } from '../src/bpf/index.ts';
import type { FieldType } from '../src/schema/codec.ts';

/** Anything that turns a key or value buffer into a value: a StructCodec or a scalar FieldType. */
export type MapCodec<T> = { decode(bytes: Uint8Array): T } | FieldType<T>;

export interface PinnedEntry<K, V> {
  key: K;
  value: V;
}

export interface PinnedPerCpuEntry<K, V> {
  key: K;
  /** One value per possible CPU. */
  values: V[];
}

function decode<T>(codec: MapCodec<T>, bytes: Uint8Array): T {
  if ('decode' in codec) return codec.decode(bytes);
  if (bytes.length < codec.size) throw new RangeError(`${codec.cType}: need ${codec.size} bytes, got ${bytes.length}`);
  return codec.read(new DataView(bytes.buffer, bytes.byteOffset, bytes.length), 0);
}

function withPinned<R>(path: string, fn: (m: BpfMap) => R): R {
  const m = BpfMap.openPinned(path);
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

/** Every entry of a pinned (non per-CPU) map, decoded. */
export function readPinnedMap<K, V>(path: string, keyCodec: MapCodec<K>, valueCodec: MapCodec<V>): PinnedEntry<K, V>[] {
  return withPinned(path, (m) => {
    if (m.perCpu) throw new Error(`${path} is a ${m.type} map: read it with readPinnedPerCpuMap()`);
    return m.lookupBatch().map(([k, v]) => ({ key: decode(keyCodec, k), value: decode(valueCodec, v) }));
  });
}

/** Every entry of a pinned per-CPU map, one decoded value per CPU. */
export function readPinnedPerCpuMap<K, V>(path: string, keyCodec: MapCodec<K>, valueCodec: MapCodec<V>): PinnedPerCpuEntry<K, V>[] {
  return withPinned(path, (m) => {
    if (!m.perCpu) throw new Error(`${path} is a ${m.type} map, not per-CPU: read it with readPinnedMap()`);
    const out: PinnedPerCpuEntry<K, V>[] = [];
    for (const k of m.keys()) {
      const vals = m.lookupPerCpu(k);
      if (vals !== undefined) out.push({ key: decode(keyCodec, k), values: vals.map((v) => decode(valueCodec, v)) });
    }
    return out;
  });
}
