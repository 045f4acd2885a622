// BTF layout check: compares the struct codecs (codec.ts) with the structs of a compiled BPF
// object, and the TypeScript constant sets with the C enums they mirror (names and values), so
// that a C change TypeScript does not follow fails the tests (and the agent can refuse to run
// with drifted layouts).
//
// BTF is read through the libbpf addon (btf__parse), not `bpftool btf dump -j`: the agent must
// not shell out to bpftool at run time, the addon call takes about a millisecond instead of a
// process spawn, and libbpf already resolves member sizes through typedefs and modifiers.
import { native } from '../bpf/native.ts';
import type { NativeBtfEnum, NativeBtfStruct } from '../bpf/native.ts';
import { fromNative } from '../bpf/errors.ts';
import type { StructCodec } from './codec.ts';
import type { EnumMirror } from './maps.ts';

export type BtfStruct = NativeBtfStruct;
export type BtfEnum = NativeBtfEnum;

/** Every named enum in the object's BTF, enumerators in declaration order (values as BigInt). */
export function readBtfEnums(objectPath: string): BtfEnum[] {
  try {
    return native().btfEnums(objectPath);
  } catch (e) {
    throw fromNative(e);
  }
}

/** finClient → FIN_CLIENT, drop_no_endpoint → DROP_NO_ENDPOINT, SYN_SENT → SYN_SENT, v4 → V4. */
export function upperSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/**
 * Mismatches between TypeScript constant sets and the C enums they mirror, one precise message
 * each (the name and both values); empty when every enumerator has its TS name with the same
 * value, every TS name its enumerator, and each counting enumerator (XLB_R_MAX) counts the TS names.
 */
export function checkEnumMirrors(objectPath: string, mirrors: readonly EnumMirror[]): string[] {
  const enums = new Map(readBtfEnums(objectPath).map((e) => [e.name, e]));
  const problems: string[] = [];
  for (const m of mirrors) {
    const e = enums.get(m.cEnum);
    if (e === undefined) {
      const known = [...enums.keys()].sort().join(', ');
      problems.push(
        `enum ${m.cEnum} (mirrored by ${m.tsName}): not in the BTF of ${objectPath} (its enums: ${known === '' ? 'none' : known}); rebuild the objects (./scripts/build.sh bpf), and keep the enum named in struct xlb_schema_enums of bpf/include/xlb_maps.h`,
      );
      continue;
    }
    const c = new Map(e.values.map((v) => [v.name, v.value]));
    const tsByC = new Map(Object.entries(m.values).map(([n, v]) => [`${m.prefix}${upperSnake(n)}`, { ts: n, value: v }]));
    for (const [cName, cValue] of c) {
      if (cName === m.count) {
        const n = Object.keys(m.values).length;
        if (cValue !== BigInt(n))
          problems.push(`enum ${m.cEnum}: ${cName} = ${cValue} in C, but ${m.tsName} has ${n} names (src/schema/maps.ts)`);
        continue;
      }
      const ts = tsByC.get(cName);
      if (ts === undefined) {
        const want = cName.startsWith(m.prefix) ? cName.slice(m.prefix.length) : cName;
        problems.push(
          `enum ${m.cEnum}: ${cName} = ${cValue} in C has no name in ${m.tsName} (src/schema/maps.ts; expected '${want.toLowerCase()}' or '${want}' as spelled there)`,
        );
      } else if (BigInt(ts.value) !== cValue) {
        problems.push(`enum ${m.cEnum}: ${cName} = ${cValue} in C, but ${m.tsName} '${ts.ts}' = ${ts.value}`);
      }
    }
    if (m.count !== undefined && !c.has(m.count)) problems.push(`enum ${m.cEnum}: no ${m.count} in C to count ${m.tsName}`);
    for (const [cName, ts] of tsByC) {
      if (!c.has(cName))
        problems.push(
          `${m.tsName} '${ts.ts}' = ${ts.value} (src/schema/maps.ts): enum ${m.cEnum} has no ${cName} (C enumerators: ${[...c.keys()].join(', ')})`,
        );
    }
  }
  return problems;
}

/** Like checkEnumMirrors, but throws one Error listing every mismatch. */
export function assertEnumMirrors(objectPath: string, mirrors: readonly EnumMirror[]): void {
  const problems = checkEnumMirrors(objectPath, mirrors);
  if (problems.length > 0) {
    throw new Error(
      `enums of ${objectPath} differ from the TypeScript constants (update src/schema/maps.ts to follow bpf/include/xlb_maps.h):\n  ${problems.join('\n  ')}`,
    );
  }
}

/** Every named struct and union in the object's BTF (anonymous members flattened). */
export function readBtfStructs(objectPath: string): BtfStruct[] {
  try {
    return native().btfStructs(objectPath);
  } catch (e) {
    throw fromNative(e);
  }
}

/**
 * Mismatches between the codecs and the object's BTF, one precise message each; empty when
 * every struct size and every field offset and size agree, and no field is missing on either side.
 */
export function checkStructLayouts(objectPath: string, codecs: StructCodec<unknown>[]): string[] {
  const structs = new Map<string, BtfStruct>();
  for (const s of readBtfStructs(objectPath)) if (s.kind === 'struct') structs.set(s.name, s);
  const problems: string[] = [];
  for (const codec of codecs) {
    const c = structs.get(codec.name);
    if (c === undefined) {
      const known = [...structs.keys()].sort().join(', ');
      problems.push(`struct ${codec.name}: not found in the BTF of ${objectPath} (its structs: ${known === '' ? 'none' : known})`);
      continue;
    }
    problems.push(...compareStruct(c, codec));
  }
  return problems;
}

/** Like checkStructLayouts, but throws one Error listing every mismatch. */
export function assertStructLayouts(objectPath: string, codecs: StructCodec<unknown>[]): void {
  const problems = checkStructLayouts(objectPath, codecs);
  if (problems.length > 0) {
    throw new Error(
      `struct layouts of ${objectPath} differ from the TypeScript codecs (update src/schema to follow bpf/include):\n  ${problems.join('\n  ')}`,
    );
  }
}

function compareStruct(c: BtfStruct, codec: StructCodec<unknown>): string[] {
  const out: string[] = [];
  const name = `struct ${codec.name}`;
  if (c.size !== codec.size) out.push(`${name}: size is ${c.size} bytes in C, ${codec.size} in the codec`);
  const members = new Map(c.members.map((m) => [m.name, m]));
  const seen = new Set<string>();
  for (const f of codec.fields) {
    seen.add(f.name);
    const m = members.get(f.name);
    if (m === undefined) {
      out.push(`${name}.${f.name}: not a member in C (C members: ${c.members.map((x) => x.name).join(', ')})`);
      continue;
    }
    if (m.bitSize !== 0) {
      out.push(`${name}.${f.name}: is a ${m.bitSize}-bit bitfield in C; codecs cannot describe bitfields`);
      continue;
    }
    if (m.offset !== f.offset) out.push(`${name}.${f.name}: offset is ${m.offset} in C, ${f.offset} in the codec`);
    if (m.size !== f.size) out.push(`${name}.${f.name}: size is ${m.size} bytes in C (${m.type}), ${f.size} in the codec (${f.cType})`);
  }
  for (const m of c.members) {
    if (!seen.has(m.name)) out.push(`${name}.${m.name}: in C (offset ${m.offset}, ${m.size} bytes, ${m.type}) but not in the codec`);
  }
  return out;
}
