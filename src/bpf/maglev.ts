// The Maglev table's permutation fill in C (native/maglev.c): the probe loop of maglevFill
// (src/controller/lookup-tables.ts, the reference, which computes the members) at about 2.5×
// the speed of the JIT-compiled TypeScript. Used by the kernel adapter's MaglevTables; the
// `sim` model keeps the TypeScript builder. maglev.test.ts checks both agree byte for byte.
import { check } from './errors.ts';
import { native } from './native.ts';

/** Largest member count the C side takes (slots are < 64 in xlb; the bound is the addon's). */
export const MAGLEV_NATIVE_MAX_MEMBERS = 256;

/**
 * Fills positions 0..m-1 of `out` (nothing past them) with the Maglev table of k members:
 * `members` holds k × [first position (< m), skip (1..m-1), slot (0..255), weight (> 0)], in
 * turn order, exactly as lookup-tables.ts's maglevMembers writes them. m must be a prime.
 */
export function maglevFillNative(m: number, members: Float64Array, k: number, out: Uint8Array): void {
  if (!Number.isInteger(k) || k < 0 || k > MAGLEV_NATIVE_MAX_MEMBERS || members.length < k * 4)
    throw new RangeError(
      `maglevFillNative: ${k} members (at most ${MAGLEV_NATIVE_MAX_MEMBERS}) in ${members.length} numbers (4 per member)`,
    );
  if (out.length < m) throw new RangeError(`maglevFillNative: a table of ${m} positions, the output holds ${out.length}`);
  const addon = native();
  // An addon built before maglev.c existed (a tree updated without `scripts/build.sh addon`).
  if (typeof addon.maglevFill !== 'function')
    throw new Error("the libbpf addon predates its Maglev fill (src/bpf/native/maglev.c): rebuild it with 'scripts/build.sh addon'");
  check(
    addon.maglevFill(m, members, k, out),
    'maglev fill',
    `table of ${m} positions, ${k} members`,
    undefined,
    'the size must be a prime and each member [first < m, 1 <= skip < m, slot 0..255, weight > 0]',
  );
}
