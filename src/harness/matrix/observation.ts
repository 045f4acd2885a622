// A result's observations in a form that compares across kernels: small, deterministic, no
// timing. Built from the differential digest (src/harness/differential.ts), which already leaves
// out what may legitimately differ between runs (timestamps, durations): sha256 digests of its
// strict and semantic views, one digest per strict part (so a difference names its part: links,
// reasons, conntrack…), and the few values a reader wants beside it (counters, final conntrack
// states, traffic outcome). Stored in every result of summary.json (`observation`).
import { createHash } from 'node:crypto';
import type { Digest } from '../differential.ts';

export interface ObservationRecord {
  /** Digest of the strict view: every frame on every link, counters, conntrack, trace, traffic. */
  strict: string;
  /** Digest of the semantic view: what a real kernel's TCP stack leaves stable (lab). */
  semantic: string;
  /** Digest of each part of the strict view. */
  parts: Record<string, string>;
  /** The semantic view itself (connections ok/failed per traffic call, final CT states, new flows, drops) and the counters. */
  values: Record<string, unknown>;
  /**
   * Why this result's strict view varies from run to run even on one kernel with one seed (the
   * scenario's `observationVaries`, e.g. a kernel random source): kernels are then compared on
   * the semantic view only, as lab results are.
   */
  varies?: string;
}

/** JSON with sorted object keys: the same value always gives the same text. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return x.toString();
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
    const o = x as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  });
}

export function shortHash(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);
}

export function observationRecord(d: Digest, varies?: string): ObservationRecord {
  const parts: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.strict)) parts[k] = shortHash(v);
  return {
    strict: shortHash(d.strict),
    semantic: shortHash(d.semantic),
    parts,
    values: { ...d.semantic, reasons: d.strict.reasons, fwd: d.strict.fwd },
    ...(varies === undefined ? {} : { varies }),
  };
}
