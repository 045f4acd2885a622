// The fault points in the BPF sources: `#ifdef XLB_FAULT_<NAME>` (the fault's code, then `#else`
// and the correct code) or `#ifndef XLB_FAULT_<NAME>` (the correct code the fault removes, maybe
// an `#else` with the fault's code). Read by the mutation test to check the fault list against
// the sources, and to build the sources with every point resolved to its default branch (the
// default build must not change).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface FaultPoint {
  name: string;
  file: string;
  line: number;
  /** The directive line itself (its comment says what the fault breaks). */
  text: string;
  /** #ifndef (the fault removes the body) rather than #ifdef (the fault's code first). */
  negated: boolean;
  /** The block has an #else at its own level. */
  hasElse: boolean;
}

const POINT = /^\s*#\s*if(n?)def\s+XLB_FAULT_([A-Z0-9_]+)\b/;
const IF = /^\s*#\s*if/;
const ELSE = /^\s*#\s*(else|elif)\b/;
const ENDIF = /^\s*#\s*endif\b/;

/** Every fault point in the .h and .c files of dir (not recursive). */
export function findFaultPoints(dir: string): FaultPoint[] {
  const out: FaultPoint[] = [];
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.h') || x.endsWith('.c'))
    .sort()) {
    const lines = readFileSync(path.join(dir, f), 'utf8').split('\n');
    lines.forEach((text, i) => {
      const m = POINT.exec(text);
      if (m === null) return;
      let depth = 0;
      let hasElse = false;
      for (let j = i + 1; j < lines.length; j++) {
        const l = lines[j] as string;
        if (IF.test(l)) depth++;
        else if (ENDIF.test(l)) {
          if (depth === 0) break;
          depth--;
        } else if (depth === 0 && ELSE.test(l)) hasElse = true;
      }
      out.push({ name: m[2] as string, file: f, line: i + 1, text, negated: m[1] === 'n', hasElse });
    });
  }
  return out;
}

/**
 * The source as the default build sees it: each fault point replaced by its default branch (the
 * body of an #ifndef, the #else part of an #ifdef). Other preprocessor blocks are kept as they
 * are. Throws on an unterminated point or an #elif in one.
 */
export function resolveFaultPoints(source: string, file = 'source'): string {
  // a point inside another point's kept branch is kept verbatim by one pass: pass again
  let text = source;
  for (let pass = 0; pass < 8; pass++) {
    const next = resolveOnce(text, file);
    if (next === text) return text;
    text = next;
  }
  throw new Error(`${file}: fault points nested more than 8 deep`);
}

function resolveOnce(source: string, file: string): string {
  const lines = source.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = POINT.exec(lines[i] as string);
    if (m === null) {
      out.push(lines[i] as string);
      continue;
    }
    const keepFirst = m[1] === 'n';
    let depth = 0;
    let inFirst = true;
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j] as string;
      if (IF.test(l)) depth++;
      else if (ENDIF.test(l)) {
        if (depth === 0) break;
        depth--;
      } else if (depth === 0 && ELSE.test(l)) {
        if (!/^\s*#\s*else\b/.test(l)) throw new Error(`${file}:${j + 1}: #elif in the fault point XLB_FAULT_${m[2] ?? ''}: use #else`);
        inFirst = false;
        continue;
      }
      if (inFirst === keepFirst) out.push(l);
    }
    if (j >= lines.length) throw new Error(`${file}:${i + 1}: the fault point XLB_FAULT_${m[2] ?? ''} has no #endif`);
    i = j;
  }
  return out.join('\n');
}
