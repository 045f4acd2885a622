// Declarative codecs for the C structs shared with the datapath (bpf/include/).
//
// A struct is declared once, field by field, in C order; the layout (offsets, padding, size) is
// computed with the C ABI rules clang uses for -target bpf (natural alignment, size rounded up
// to the largest member alignment). The declared layout is what the BTF layout test compares
// against the compiled objects, so a C change that TypeScript does not follow fails the tests.
//
// Hand-written rather than a library: no maintained npm codec computes C layouts *and* exposes
// them for a BTF cross-check, and the whole thing is small.

/** One field type: how many bytes, which alignment, how to read and write it. */
export interface FieldType<T> {
  /** C spelling, for messages and for the BTF check (e.g. "__u32", "__u8[16]"). */
  readonly cType: string;
  readonly size: number;
  readonly align: number;
  read(view: DataView, offset: number): T;
  write(view: DataView, offset: number, value: T): void;
}

/** A field that only takes space (explicit C padding); encoded as zeros, not decoded. */
export interface PadType extends FieldType<undefined> {
  readonly pad: true;
}

export type AnyField = FieldType<never> | FieldType<unknown>;
export type FieldValue<F> = F extends FieldType<infer T> ? T : never;

/** The TypeScript value of a struct: every non-pad field. */
export type StructValue<S extends Record<string, FieldType<unknown>>> = {
  [K in keyof S as S[K] extends PadType ? never : K]: FieldValue<S[K]>;
};

export interface FieldLayout {
  name: string;
  cType: string;
  offset: number;
  size: number;
}

export interface StructCodec<T> extends FieldType<T> {
  /** The C struct name (without `struct`), as it appears in BTF. */
  readonly name: string;
  readonly fields: readonly FieldLayout[];
  encode(value: T): Buffer;
  decode(bytes: Uint8Array): T;
}

function scalar<T>(
  cType: string,
  size: number,
  read: (v: DataView, o: number) => T,
  write: (v: DataView, o: number, x: T) => void,
): FieldType<T> {
  return { cType, size, align: size, read, write };
}

function checkInt(value: number, bits: number, signed: boolean, cType: string): void {
  const min = signed ? -(2 ** (bits - 1)) : 0;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${cType}: ${value} is not an integer in [${min}, ${max}]`);
  }
}

/** Host byte order (little-endian on every target xlb supports). */
export const u8 = scalar<number>(
  '__u8',
  1,
  (v, o) => v.getUint8(o),
  (v, o, x) => (checkInt(x, 8, false, '__u8'), v.setUint8(o, x)),
);
export const u16 = scalar<number>(
  '__u16',
  2,
  (v, o) => v.getUint16(o, true),
  (v, o, x) => (checkInt(x, 16, false, '__u16'), v.setUint16(o, x, true)),
);
export const u32 = scalar<number>(
  '__u32',
  4,
  (v, o) => v.getUint32(o, true),
  (v, o, x) => (checkInt(x, 32, false, '__u32'), v.setUint32(o, x, true)),
);
export const s32 = scalar<number>(
  '__s32',
  4,
  (v, o) => v.getInt32(o, true),
  (v, o, x) => (checkInt(x, 32, true, '__s32'), v.setInt32(o, x, true)),
);
export const u64 = scalar<bigint>(
  '__u64',
  8,
  (v, o) => v.getBigUint64(o, true),
  (v, o, x) => v.setBigUint64(o, BigInt.asUintN(64, x), true),
);
export const s64 = scalar<bigint>(
  '__s64',
  8,
  (v, o) => v.getBigInt64(o, true),
  (v, o, x) => v.setBigInt64(o, BigInt.asIntN(64, x), true),
);
/** Network byte order, as the datapath keeps ports and addresses (`__be16`, `__be32`). */
export const be16 = scalar<number>(
  '__be16',
  2,
  (v, o) => v.getUint16(o, false),
  (v, o, x) => (checkInt(x, 16, false, '__be16'), v.setUint16(o, x, false)),
);
export const be32 = scalar<number>(
  '__be32',
  4,
  (v, o) => v.getUint32(o, false),
  (v, o, x) => (checkInt(x, 32, false, '__be32'), v.setUint32(o, x, false)),
);

/** A fixed-size byte array (`__u8 name[n]`); decodes to a Buffer copy. */
export function bytes(n: number): FieldType<Buffer> {
  return {
    cType: `__u8[${n}]`,
    size: n,
    align: 1,
    read: (v, o) => Buffer.from(v.buffer.slice(v.byteOffset + o, v.byteOffset + o + n)),
    write: (v, o, x) => {
      if (x.length !== n) throw new RangeError(`__u8[${n}]: got ${x.length} bytes`);
      new Uint8Array(v.buffer, v.byteOffset + o, n).set(x);
    },
  };
}

/** Explicit padding (`__u8 pad[n]` in C): written as zeros, left out of decoded values. */
export function pad(n: number): PadType {
  return {
    pad: true,
    cType: `__u8[${n}]`,
    size: n,
    align: 1,
    read: () => undefined,
    write: (v, o) => new Uint8Array(v.buffer, v.byteOffset + o, n).fill(0),
  };
}

/** A fixed-length array of another field type (`T name[n]`). */
export function array<T>(item: FieldType<T>, n: number): FieldType<T[]> {
  return {
    cType: `${item.cType}[${n}]`,
    size: item.size * n,
    align: item.align,
    read: (v, o) => Array.from({ length: n }, (_, i) => item.read(v, o + i * item.size)),
    write: (v, o, xs) => {
      if (xs.length !== n) throw new RangeError(`${item.cType}[${n}]: got ${xs.length} items`);
      xs.forEach((x, i) => item.write(v, o + i * item.size, x));
    },
  };
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * Declares a C struct. Fields are laid out in the order given, as clang lays them out.
 * `opts.size` asserts the expected total size (a guard against forgetting a field).
 */
export function defineStruct<S extends Record<string, FieldType<unknown>>>(
  name: string,
  spec: S,
  opts: { size?: number } = {},
): StructCodec<StructValue<S>> {
  let offset = 0;
  let align = 1;
  const layout: (FieldLayout & { type: FieldType<unknown> })[] = [];
  for (const [fname, type] of Object.entries(spec)) {
    offset = alignUp(offset, type.align);
    layout.push({ name: fname, cType: type.cType, offset, size: type.size, type });
    offset += type.size;
    align = Math.max(align, type.align);
  }
  const size = alignUp(offset, align);
  if (opts.size !== undefined && opts.size !== size) {
    throw new Error(`struct ${name}: declared fields give ${size} bytes, expected ${opts.size}`);
  }
  type T = StructValue<S>;
  const read = (view: DataView, base: number): T => {
    const out: Record<string, unknown> = {};
    for (const f of layout) {
      if ('pad' in f.type) continue;
      out[f.name] = f.type.read(view, base + f.offset);
    }
    return out as T;
  };
  const write = (view: DataView, base: number, value: T): void => {
    const rec = value as Record<string, unknown>;
    for (const f of layout) {
      const v = rec[f.name];
      if (v === undefined && !('pad' in f.type)) throw new TypeError(`struct ${name}: field '${f.name}' is missing`);
      f.type.write(view, base + f.offset, v);
    }
  };
  return {
    name,
    cType: `struct ${name}`,
    size,
    align,
    fields: layout.map(({ name: n, cType, offset: o, size: s }) => ({ name: n, cType, offset: o, size: s })),
    read,
    write,
    encode(value: T): Buffer {
      const buf = Buffer.alloc(size);
      write(new DataView(buf.buffer, buf.byteOffset, size), 0, value);
      return buf;
    },
    decode(input: Uint8Array): T {
      if (input.length < size) throw new RangeError(`struct ${name}: need ${size} bytes, got ${input.length}`);
      return read(new DataView(input.buffer, input.byteOffset, input.length), 0);
    },
  };
}

/** Nests a struct codec as a field of another struct. */
export function struct<T>(codec: StructCodec<T>): FieldType<T> {
  return codec;
}
