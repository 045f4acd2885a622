// The differential check: when a scenario ran on several backends (same hook), their
// observations must agree once what may legitimately differ is normalised away.
//
// Two levels, because the backends differ in what they share:
// - strict (sim ↔ prog): the same virtual hosts, links and clock, deterministic for the seed; only
//   the datapath differs. Every frame on every link must be byte-identical, and so must the
//   reason and forwarding counters, the conntrack table (timestamps aside), the trace (timestamps
//   aside) and the traffic reports (timings aside). The model and the real bytecode must agree on
//   everything.
// - semantic (lab ↔ sim/prog): real kernel TCP stacks (their own ISNs, options, delayed ACKs,
//   retransmits) and real time, two CPUs (per-CPU round-robin cursors), ephemeral ports the
//   kernel picks. Compared: per traffic call the number of connections that succeeded and failed,
//   the conntrack states the flows ended in (as a multiset), the number of new flows, and every
//   drop counter.
import type { DpCtEntry, DpTraceEvent } from '../datapath/packet-datapath.ts';
import { CT_STATE, DEFAULT_TIMEOUTS_S } from '../schema/maps.ts';
import type { CtStateName } from '../schema/maps.ts';
import { decodeFrame, describe } from '../packet/index.ts';
import type { ClientReport } from '../traffic/types.ts';
import type { BackendName, LinkCapture, Observation } from './world.ts';

/** What lab is compared on: outcomes a real kernel's TCP stack and clock leave stable. */
export interface SemanticView {
  /** Per traffic call: connections, how many succeeded, how many failed. */
  traffic: { connections: number; ok: number; errors: number }[];
  /** Forward conntrack entries by final state name. */
  finalStates: Record<string, number>;
  newFlows: number;
  /** Every drop counter that moved. */
  drops: Record<string, number>;
}

export interface Digest {
  strict: Record<string, unknown>;
  semantic: SemanticView;
}

function ctView(e: DpCtEntry): string {
  const k = e.key;
  return `${e.reply ? 'R' : 'F'} ${k.proto} ${k.src}:${k.sport}>${k.dst}:${k.dport} ${e.state} svc${e.serviceId}/${e.endpointSlot} nat ${e.nat.src}:${e.nat.sport}>${e.nat.dst}:${e.nat.dport} [${e.flags.join(',')}] ${e.packets}p ${e.bytes}B`;
}

function traceView(ev: DpTraceEvent): string {
  const t = ev.tuple;
  return `${t.proto} ${t.src}:${t.sport}>${t.dst}:${t.dport} ${ev.reason} ${ev.verdict} ${ev.ctBefore}>${ev.ctAfter} svc${ev.serviceId}/${ev.endpointSlot} ${ev.length}B`;
}

function reportView(r: ClientReport): unknown {
  return r.results.map((c) => ({
    i: c.i,
    sport: c.sport,
    backends: c.backends,
    sent: c.bytesSent,
    received: c.bytesReceived,
    error: c.error,
  }));
}

/** Each frame as tcpdump would print it, then its bytes: a difference reads as packets, and bytes still decide. */
function linksView(links: LinkCapture[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const l of links)
    out[`${l.node}/${l.segment}`] = l.packets.map((p) => `${describe(decodeFrame(p.frame), { link: true })} | ${p.frame.toString('hex')}`);
  return out;
}

export function digestOf(obs: Observation, links: LinkCapture[], reports: ClientReport[]): Digest {
  const sorted = (xs: string[]): string[] => [...xs].sort();
  const drops = Object.fromEntries([...obs.reasons].filter(([r, n]) => r.startsWith('drop_') && n > 0));
  const finalStates: Record<string, number> = {};
  for (const e of obs.conntrack) if (!e.reply) finalStates[e.state] = (finalStates[e.state] ?? 0) + 1;
  return {
    strict: {
      links: linksView(links),
      reasons: Object.fromEntries([...obs.reasons].filter(([, n]) => n > 0)),
      fwd: Object.fromEntries([...obs.fwd].filter(([, n]) => n > 0)),
      conntrack: sorted(obs.conntrack.map(ctView)),
      trace: obs.trace.map(traceView),
      traffic: reports.map(reportView),
    },
    semantic: {
      traffic: reports.map((r) => ({ connections: r.results.length, ok: r.summary.ok, errors: r.summary.errors })),
      finalStates,
      newFlows: obs.reasons.get('new_flow') ?? 0,
      drops,
    },
  };
}

/** Paths where two JSON-like values differ (at most `limit`), each with both sides. */
export function diffValues(a: unknown, b: unknown, path = '', limit = 8, out: string[] = []): string[] {
  if (out.length >= limit) return out;
  if (JSON.stringify(a) === JSON.stringify(b)) return out;
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n && out.length < limit; i++) {
      if (i >= a.length || i >= b.length) {
        out.push(`${path}: lengths ${a.length} vs ${b.length} (first extra at [${i}]: ${short(i < a.length ? a[i] : b[i])})`);
        break;
      }
      diffValues(a[i], b[i], `${path}[${i}]`, limit, out);
    }
    return out;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    // In the digest's own order: links first, the most telling difference (the first packet that differs).
    for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)]))
      diffValues(ao[k], bo[k], path === '' ? k : `${path}.${k}`, limit, out);
    return out;
  }
  out.push(`${path}: ${short(a)} vs ${short(b)}`);
  return out;
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > 240 ? `${s.slice(0, 240)}…` : s;
}

export interface DifferentialOutcome {
  pair: [BackendName, BackendName];
  level: 'strict' | 'semantic';
  differences: string[];
}

/** Compares every pair of backends' digests at the level the pair allows. */
export function compareDigests(digests: Partial<Record<BackendName, Digest>>): DifferentialOutcome[] {
  const out: DifferentialOutcome[] = [];
  const sim = digests.sim;
  const prog = digests.prog;
  const lab = digests.lab;
  if (sim !== undefined && prog !== undefined)
    out.push({ pair: ['sim', 'prog'], level: 'strict', differences: diffValues(sim.strict, prog.strict) });
  const ref = prog !== undefined ? (['prog', prog] as const) : sim !== undefined ? (['sim', sim] as const) : undefined;
  if (lab !== undefined && ref !== undefined)
    out.push({ pair: [ref[0], 'lab'], level: 'semantic', differences: diffValues(ref[1].semantic, lab.semantic) });
  return out;
}

/**
 * Why a lab result's final conntrack states may differ from prog's without a datapath bug: the
 * lab's clock is real time, prog's moves only with `advance`, so a lab result that ran longer
 * than a state's timeout had flows in that state expire (and the agent's sweep remove them)
 * where prog kept them. One line per state with fewer flows on the lab than in `ref` whose
 * timeout (the scenario's, else the default) is shorter than the lab's run, or none.
 */
export function expiryHints(
  ref: Record<string, number>,
  lab: Record<string, number>,
  labDurationMs: number,
  timeoutsS: Partial<Record<CtStateName, number>>,
): string[] {
  const out: string[] = [];
  for (const state of CT_STATE) {
    const want = ref[state] ?? 0;
    const got = lab[state] ?? 0;
    const secs = timeoutsS[state] ?? DEFAULT_TIMEOUTS_S[CT_STATE.indexOf(state)];
    if (got >= want || secs === undefined || secs <= 0 || labDurationMs <= secs * 1000) continue;
    out.push(
      `the lab result ran ${(labDurationMs / 1000).toFixed(1)} s, longer than the ${state} timeout (${secs} s): ${want - got} flow(s) may have expired on the lab's real clock that the virtual clock kept; if expiry is not what the scenario checks, give it timeoutsS: { ${state}: … } longer than its run`,
    );
  }
  return out;
}
