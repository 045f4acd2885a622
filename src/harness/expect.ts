// Expectations of a scenario. Soft: every check is recorded (passed or failed, with a message
// that says what was expected and what happened), the scenario goes on, and the result fails
// when any check failed. The same calls mean the same on every backend.
import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';
import type { DpCtEntry, DpTraceEvent } from '../datapath/packet-datapath.ts';
import type { CtStateName, ReasonName } from '../schema/maps.ts';
import type { ClientReport } from '../traffic/types.ts';
import { describeMiss, findPackets, linkName, requiredFields } from './packet-match.ts';
import type { PacketPattern } from './packet-match.ts';
import type { LinkCapture, Observation } from './world.ts';

export interface CheckRecord {
  name: string;
  ok: boolean;
  /** On failure: what was expected, what happened. */
  message?: string;
  /** A spread check's numbers (the report draws them): observed counts and each backend's accepted band. */
  spread?: SpreadDetail;
}

export interface SpreadDetail {
  method: 'exact' | 'round-robin' | 'chi-square';
  observed: Record<string, number>;
  /**
   * Per backend: the expected count and the band accepted. Exact and round-robin: the check's own
   * bounds. Chi-square is a joint test, so its band is the per-backend binomial interval at the same
   * false-failure rate (mean ± z·σ): a guide for the eye, not the check itself.
   */
  expected: Record<string, { mean: number; lo: number; hi: number }>;
}

/** z with P(|N(0,1)| > z) = rate: the square root of the 1-dof chi-square quantile (bisection). */
function zForRate(rate: number): number {
  let lo = 0;
  let hi = 100;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (1 - chisquareCdf(mid, 1) > rate) lo = mid;
    else hi = mid;
  }
  return Math.sqrt((lo + hi) / 2);
}

/** The default false-failure rate of statistical checks: one run in 10,000 fails by chance. */
export const DEFAULT_FALSE_FAILURE_RATE = 1e-4;

export type SpreadSpec =
  /** Exactly these counts. */
  | { exact: Record<string, number> }
  /**
   * Round-robin over these backends: each CPU keeps its own cursor (docs/datapath.md), so with C
   * CPUs each backend's count is within C of n/k — exact shares on sim and prog (one CPU).
   */
  | { roundRobin: string[] }
  /** Uniform over these backends, chi-square goodness of fit. */
  | { uniform: string[]; falseFailureRate?: number }
  /** In proportion to these weights, chi-square goodness of fit. */
  | { weights: Record<string, number>; falseFailureRate?: number };

/** Which conntrack flow a check is about: the client's side of it. */
export interface FlowSelector {
  clientIp: string;
  clientPort: number;
}

export interface PacketExpectation {
  /** The node that must receive/send it (its captured interfaces). */
  on: string;
  pattern: PacketPattern;
  /** How many (default: at least one). */
  count?: number;
  /**
   * The packet must be on no other node's links either (default true). The LB's and routers'
   * links are not "other": the packet crosses them on its way.
   */
  nowhereElse?: boolean;
}

export interface NoPacketExpectation {
  on: string | string[];
  pattern: PacketPattern;
  /**
   * The sanity half: the same pattern (or this one) must match on these links, so the check
   * cannot pass because the pattern matches nothing at all.
   */
  sanity: { on: string | string[]; pattern?: PacketPattern };
}

function pct(n: number, of: number): string {
  return of === 0 ? '0%' : `${((100 * n) / of).toFixed(1)}%`;
}

export class Expect {
  readonly checks: CheckRecord[] = [];
  /** Nodes whose links a packet crosses in transit (not "elsewhere"). */
  private readonly transit: Set<string>;

  /** CPUs the datapath runs on (per-CPU round-robin cursors): 1 on sim and prog. */
  private readonly cpus: number;

  constructor(transitNodes: string[], cpus: number) {
    this.transit = new Set(transitNodes);
    this.cpus = cpus;
  }

  get failed(): CheckRecord[] {
    return this.checks.filter((c) => !c.ok);
  }

  private record(name: string, ok: boolean, message?: string, spread?: SpreadDetail): boolean {
    const c: CheckRecord = ok || message === undefined ? { name, ok } : { name, ok, message };
    if (spread !== undefined) c.spread = spread;
    this.checks.push(c);
    return ok;
  }

  ok(cond: boolean, name: string, message = 'was false'): boolean {
    return this.record(name, cond, message);
  }

  equal<T>(actual: T, expected: T, name: string): boolean {
    const a = JSON.stringify(actual);
    const e = JSON.stringify(expected);
    return this.record(name, a === e, `expected ${e}, got ${a}`);
  }

  /** Every connection of the report got its answers, none failed. */
  allConnected(r: ClientReport, name = 'every connection succeeded'): boolean {
    const bad = r.results.filter((c) => c.error !== null || c.backends.some((b) => b === null));
    const first = bad.slice(0, 3).map((c) => `#${c.i} (sport ${c.sport ?? '?'}): ${c.error ?? 'no answer in some round'}`);
    return this.record(
      name,
      bad.length === 0 && r.results.length === r.options.count,
      `${bad.length} of ${r.options.count} failed (${r.results.length} reported): ${first.join('; ')}`,
    );
  }

  /** Every round of every connection was answered by the same backend (a flow keeps its endpoint). */
  sameBackendPerConnection(r: ClientReport, name = 'each connection kept its backend'): boolean {
    const moved = r.results.filter((c) => new Set(c.backends.filter((b) => b !== null)).size > 1);
    return this.record(
      name,
      moved.length === 0,
      `${moved.length} connection(s) changed backend: ${moved
        .slice(0, 3)
        .map((c) => `#${c.i} ${c.backends.join('→')}`)
        .join('; ')}`,
    );
  }

  /** The spread of connections over backends. */
  spread(r: ClientReport, spec: SpreadSpec, name = 'spread over backends'): boolean {
    const got = r.summary.byBackend;
    const total = Object.values(got).reduce((a, b) => a + b, 0);
    if ('exact' in spec) {
      const keys = new Set([...Object.keys(spec.exact), ...Object.keys(got)]);
      const wrong = [...keys].filter((k) => (got[k] ?? 0) !== (spec.exact[k] ?? 0));
      const expected = Object.fromEntries(Object.entries(spec.exact).map(([k, v]) => [k, { mean: v, lo: v, hi: v }]));
      return this.record(name, wrong.length === 0, `expected exactly ${JSON.stringify(spec.exact)}, got ${JSON.stringify(got)}`, {
        method: 'exact',
        observed: { ...got },
        expected,
      });
    }
    if ('roundRobin' in spec) {
      const k = spec.roundRobin.length;
      const lo = Math.max(0, Math.floor(total / k) - (this.cpus - 1));
      const hi = Math.ceil(total / k) + (this.cpus - 1);
      const bad = spec.roundRobin.filter((b) => (got[b] ?? 0) < lo || (got[b] ?? 0) > hi);
      const stranger = Object.keys(got).filter((b) => !spec.roundRobin.includes(b));
      const expected = Object.fromEntries(spec.roundRobin.map((b) => [b, { mean: total / k, lo, hi }]));
      return this.record(
        `${name} (round-robin, ${this.cpus} CPU${this.cpus === 1 ? '' : 's'}: each backend ${lo === hi ? lo : `${lo}..${hi}`})`,
        bad.length === 0 && stranger.length === 0 && total === r.results.length,
        `got ${JSON.stringify(got)} over ${r.results.length} connections`,
        { method: 'round-robin', observed: { ...got }, expected },
      );
    }
    const weights: Record<string, number> = 'uniform' in spec ? Object.fromEntries(spec.uniform.map((b) => [b, 1])) : spec.weights;
    const rate = spec.falseFailureRate ?? DEFAULT_FALSE_FAILURE_RATE;
    const wsum = Object.values(weights).reduce((a, b) => a + b, 0);
    const stranger = Object.keys(got).filter((k) => !(k in weights) && (got[k] ?? 0) > 0);
    const z = zForRate(rate);
    const expected = Object.fromEntries(
      Object.entries(weights).map(([b, w]) => {
        const p = wsum === 0 ? 0 : w / wsum;
        const sd = Math.sqrt(total * p * (1 - p));
        return [b, { mean: total * p, lo: Math.max(0, total * p - z * sd), hi: total * p + z * sd }];
      }),
    );
    const detail: SpreadDetail = { method: 'chi-square', observed: { ...got }, expected };
    if (stranger.length > 0)
      return this.record(
        name,
        false,
        `connections reached backends outside the expected set: ${stranger.join(', ')} (${JSON.stringify(got)})`,
        detail,
      );
    let chi2 = 0;
    for (const [b, w] of Object.entries(weights)) {
      const e = (total * w) / wsum;
      const o = got[b] ?? 0;
      if (e > 0) chi2 += ((o - e) * (o - e)) / e;
    }
    const dof = Object.keys(weights).length - 1;
    const p = dof <= 0 ? 1 : 1 - chisquareCdf(chi2, dof);
    const shares = Object.keys(weights).map((b) => `${b} ${got[b] ?? 0} (${pct(got[b] ?? 0, total)}, want ${pct(weights[b] ?? 0, wsum)})`);
    return this.record(
      `${name} (chi-square, false-failure rate ${rate})`,
      p >= rate,
      `p = ${p.toExponential(2)} < ${rate}: ${shares.join(', ')}`,
      detail,
    );
  }

  /** Exact packet counts of the named reasons (unnamed reasons are not checked). */
  reasons(obs: Observation, want: Partial<Record<ReasonName, number>>, name = 'reason counters'): boolean {
    const wrong = Object.entries(want).filter(([k, v]) => (obs.reasons.get(k as ReasonName) ?? 0) !== v);
    const got = Object.fromEntries(Object.keys(want).map((k) => [k, obs.reasons.get(k as ReasonName) ?? 0]));
    return this.record(name, wrong.length === 0, `expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }

  /** The conntrack state sequence of one flow, from the trace (both directions). */
  ctTransitions(obs: Observation, flow: FlowSelector, want: CtStateName[], name = 'conntrack transitions'): boolean {
    const events = flowEvents(obs, flow);
    const seq = stateSequence(events);
    return this.record(
      `${name} of ${flow.clientIp}:${flow.clientPort}`,
      JSON.stringify(seq) === JSON.stringify(want),
      `expected ${want.join(' → ')}, got ${seq.length === 0 ? '(no trace events for this flow)' : seq.join(' → ')}`,
    );
  }

  /** A conntrack entry pair of the flow exists, both entries in `state`. */
  ctState(obs: Observation, flow: FlowSelector, state: CtStateName, name = 'conntrack state'): boolean {
    const pair = flowEntries(obs, flow);
    const states = pair.map((e) => `${e.reply ? 'reply' : 'forward'} ${e.state}`);
    return this.record(
      `${name} of ${flow.clientIp}:${flow.clientPort}`,
      pair.length === 2 && pair.every((e) => e.state === state),
      `expected both entries ${state}, got ${states.length === 0 ? 'no entry' : states.join(', ')}`,
    );
  }

  /** A packet on a node's links, and (by default) on no other node's. */
  packet(links: LinkCapture[], x: PacketExpectation, name?: string): boolean {
    const want = requiredFields(x.pattern);
    const label = name ?? `packet on ${x.on}`;
    const mine = links.filter((l) => l.node === x.on);
    if (mine.length === 0)
      return this.record(
        label,
        false,
        `no captured link belongs to node '${x.on}' (nodes: ${[...new Set(links.map((l) => l.node))].join(', ')})`,
      );
    const hits = findPackets(mine, want);
    const countOk = x.count === undefined ? hits.length > 0 : hits.length === x.count;
    if (!countOk) {
      const detail =
        hits.length === 0
          ? describeMiss(want, mine)
          : `matching packets at ${hits
              .slice(0, 12)
              .map((h) => `${h.packet.timeMs.toFixed(1)} ms`)
              .join(', ')}${hits.length > 12 ? ', …' : ''}`;
      return this.record(
        label,
        false,
        `${x.count === undefined ? 'at least one' : x.count} matching packet(s) wanted on ${x.on}, ${hits.length} seen\n${detail}`,
      );
    }
    if (x.nowhereElse !== false) {
      const others = links.filter((l) => l.node !== x.on && !this.transit.has(l.node));
      const stray = findPackets(others, want);
      if (stray.length > 0)
        return this.record(
          label,
          false,
          `the packet also reached ${[...new Set(stray.map((h) => linkName(h.link)))].join(', ')} (expected only on ${x.on})`,
        );
    }
    return this.record(label, true);
  }

  /** No matching packet on the links, and the sanity half proves the pattern matches something. */
  noPacket(links: LinkCapture[], x: NoPacketExpectation, name?: string): boolean {
    const on = new Set(Array.isArray(x.on) ? x.on : [x.on]);
    const want = requiredFields(x.pattern);
    const label = name ?? `no such packet on ${[...on].join(', ')}`;
    const sanityOn = new Set(Array.isArray(x.sanity.on) ? x.sanity.on : [x.sanity.on]);
    const sanityWant = x.sanity.pattern === undefined ? want : requiredFields(x.sanity.pattern);
    const sane = findPackets(
      links.filter((l) => sanityOn.has(l.node)),
      sanityWant,
    );
    if (sane.length === 0)
      return this.record(
        label,
        false,
        `vacuous: the sanity pattern matched nothing on ${[...sanityOn].join(', ')}, so the absence proves nothing`,
      );
    const hits = findPackets(
      links.filter((l) => on.has(l.node)),
      want,
    );
    return this.record(
      label,
      hits.length === 0,
      `${hits.length} matching packet(s) seen, first on ${hits[0] === undefined ? '' : linkName(hits[0].link)} at ${hits[0]?.packet.timeMs.toFixed(1) ?? ''} ms`,
    );
  }
}

/** The two conntrack entries of a flow: the forward entry keyed by the client's tuple, and its peer. */
export function flowEntries(obs: Pick<Observation, 'conntrack'>, flow: FlowSelector): DpCtEntry[] {
  const fwd = obs.conntrack.find((e) => !e.reply && e.key.src === flow.clientIp && e.key.sport === flow.clientPort);
  if (fwd === undefined) return [];
  const rep = obs.conntrack.find(
    (e) =>
      e.reply && e.key.src === fwd.nat.dst && e.key.dst === fwd.nat.src && e.key.sport === fwd.nat.dport && e.key.dport === fwd.nat.sport,
  );
  return rep === undefined ? [fwd] : [fwd, rep];
}

/** Trace events of a flow: its forward tuple, and the reply tuple when conntrack still names it. */
export function flowEvents(obs: Pick<Observation, 'conntrack' | 'trace'>, flow: FlowSelector): DpTraceEvent[] {
  const pair = flowEntries(obs, flow);
  const fwd = pair.find((e) => !e.reply);
  const rep = pair.find((e) => e.reply);
  return obs.trace.filter((ev) => {
    const t = ev.tuple;
    if (
      t.src === flow.clientIp &&
      t.sport === flow.clientPort &&
      (fwd === undefined || (t.dst === fwd.key.dst && t.dport === fwd.key.dport))
    )
      return true;
    return rep !== undefined && t.src === rep.key.src && t.dst === rep.key.dst && t.sport === rep.key.sport && t.dport === rep.key.dport;
  });
}

/** The states a flow went through: every ctAfter that differs from the state before it. */
export function stateSequence(events: DpTraceEvent[]): CtStateName[] {
  const out: CtStateName[] = [];
  for (const ev of events) {
    if (ev.ctAfter !== 'NONE' && ev.ctAfter !== (out[out.length - 1] ?? 'NONE')) out.push(ev.ctAfter);
  }
  return out;
}
