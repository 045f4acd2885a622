// Shrinking a disagreeing sequence to a small reproducer: cut after the step that disagreed, try
// the failing packet's own flow alone (with every clock move, endpoint change and deletion kept),
// then delta debugging (Zeller's ddmin: remove chunks, halving their size when no chunk can go)
// while the same disagreement (same signature) remains. Each try replays on fresh datapaths.
import type { Disagreement } from './compare.ts';
import type { FuzzStep } from './steps.ts';
import { flowTag } from './steps.ts';

export interface ShrinkBudget {
  /** Replays at most. */
  maxTests: number;
  /** Wall-clock limit, ms. */
  maxMs: number;
}

export interface ShrinkResult {
  steps: FuzzStep[];
  disagreement: Disagreement;
  tests: number;
  ms: number;
  /** The budget ran out before the result was 1-minimal (every single step needed). */
  exhausted: boolean;
}

export function shrink(
  steps: readonly FuzzStep[],
  found: Disagreement,
  run: (steps: FuzzStep[]) => Disagreement | undefined,
  budget: ShrinkBudget,
): ShrinkResult {
  const t0 = Date.now();
  let tests = 0;
  let best = found;
  const exhausted = (): boolean => tests >= budget.maxTests || Date.now() - t0 > budget.maxMs;
  const fails = (xs: FuzzStep[]): boolean => {
    tests++;
    const d = run(xs);
    if (d === undefined || d.signature !== found.signature) return false;
    best = d;
    return true;
  };

  let cur = steps.slice(0, found.step + 1);
  const tag = flowTag(cur[cur.length - 1]!);
  if (tag !== undefined) {
    const slice = cur.filter((s) => !('p' in s) || flowTag(s) === tag);
    if (slice.length < cur.length && fails(slice)) cur = slice;
    const packetsOnly = cur.filter((s) => 'p' in s || 'clock' in s);
    if (packetsOnly.length < cur.length && fails(packetsOnly)) cur = packetsOnly;
  }

  let n = 2;
  while (cur.length >= 2 && !exhausted()) {
    const chunk = Math.ceil(cur.length / n);
    let reduced = false;
    for (let start = 0; start < cur.length && !exhausted(); start += chunk) {
      const complement = [...cur.slice(0, start), ...cur.slice(start + chunk)];
      if (complement.length > 0 && fails(complement)) {
        cur = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  // best came from the last failing run, which was of `cur` (a reduction is kept only when it fails)
  return { steps: cur, disagreement: best, tests, ms: Date.now() - t0, exhausted: exhausted() };
}
