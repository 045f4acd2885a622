// BTF layout check: compares the struct codecs (codec.ts) with the structs of a compiled BPF
// object, so that a C change TypeScript does not follow fails the tests (and the agent can
// refuse to run with drifted layouts).
//
// BTF is read through the libbpf addon (btf__parse), not `bpftool btf dump -j`: the agent must
// not shell out to bpftool at run time, the addon call takes about a millisecond instead of a
// process spawn, and libbpf already resolves member sizes through typedefs and modifiers.
import { native } from '../bpf/native.ts';
import type { NativeBtfStruct } from '../bpf/native.ts';
import { fromNative } from '../bpf/errors.ts';
import type { StructCodec } from './codec.ts';

export type BtfStruct = NativeBtfStruct;

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
    throw new Error(`struct layouts of ${objectPath} differ from the TypeScript codecs (update src/schema to follow bpf/include):\n  ${problems.join('\n  ')}`);
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
