// Two sides fed the same steps, compared as the differential test (src/model/differential.test.ts)
// compares them: per packet the verdict, reason, forwarding result, output bytes and trace
// event; at checkpoints the whole conntrack table (timestamps exactly),
// the reason and forwarding counters, the endpoint counters and the least-connection counts.
// The per-packet comparison is field by field (no JSON per packet: this runs 10^5–10^7 times);
// a readable view is built only for a disagreement.
import type { DatapathUnderTest, FrameResult, Hook } from '../../datapath/packet-datapath.ts';
import { decodeFrame, describe } from '../../packet/index.ts';
import { FWD_RESULT, REASON } from '../../schema/maps.ts';
import type { FuzzStep } from './steps.ts';
import { stepText } from './steps.ts';
import { ECHO_SERVICES, applyControl, openSide } from './world.ts';
import type { Side, SideKind } from './world.ts';

export interface Disagreement {
  /** Index of the step in its sequence. */
  step: number;
  kind: 'packet' | 'state' | 'delete' | 'control';
  /** What differs, short and stable (used to tell one disagreement from another while shrinking). */
  signature: string;
  /** Both sides' views, readable. */
  detail: string;
}

// Timestamps are compared exactly: prog runs with XLB_CFG_F_VIRTUAL_CLOCK (the programs' clock is
// the virtual time alone), and the model's clock starts at 0 as prog's virtual time does.

function describeFrame(hex: string): string {
  try {
    return describe(decodeFrame(Buffer.from(hex, 'hex')));
  } catch (e) {
    return `(undecodable: ${(e as Error).message})`;
  }
}

function packetView(r: FrameResult): Record<string, unknown> {
  const { timeNs, ...trace } = r.trace;
  return {
    verdict: r.verdict,
    reason: r.reason,
    fwd: r.fwd ?? '-',
    frame: r.verdict === 'drop' ? '(input)' : r.frame.toString('hex'),
    trace: { ...trace, timeNs: `${timeNs}` },
  };
}

/** The first field where two results differ, or undefined. */
function packetDiff(a: FrameResult, b: FrameResult, timeOk: (a: bigint, b: bigint) => boolean): string | undefined {
  if (a.verdict !== b.verdict) return `verdict ${a.verdict}≠${b.verdict}`;
  if (a.reason !== b.reason) return `reason ${a.reason}≠${b.reason}`;
  if ((a.fwd ?? '-') !== (b.fwd ?? '-')) return `fwd ${a.fwd ?? '-'}≠${b.fwd ?? '-'}`;
  if (a.verdict !== 'drop' && !a.frame.equals(b.frame)) return 'output bytes';
  const x = a.trace;
  const y = b.trace;
  for (const k of ['serviceId', 'ifindex', 'reason', 'endpointSlot', 'verdict', 'ctBefore', 'ctAfter', 'length'] as const) {
    if (x[k] !== y[k]) return `trace ${k} ${x[k]}≠${y[k]}`;
  }
  const s = x.tuple;
  const t = y.tuple;
  if (s.family !== t.family || s.proto !== t.proto || s.src !== t.src || s.dst !== t.dst || s.sport !== t.sport || s.dport !== t.dport)
    return 'trace tuple';
  if (!timeOk(x.timeNs, y.timeNs)) return 'trace time';
  return undefined;
}

const SERVICE_IDS_SLOTS = (ids: number[]): Array<[number, number]> =>
  ids.flatMap((id) => [0, 1, 2, 3].map((slot): [number, number] => [id, slot]));

/** The state the packet interface shows, comparable (timestamps separately). */
function stateOf(d: DatapathUnderTest, ids: number[]): { view: Record<string, string[]>; times: Map<string, [bigint, bigint]> } {
  const ct = d.packets.conntrack();
  const times = new Map<string, [bigint, bigint]>();
  const lines: string[] = [];
  for (const e of ct) {
    const { createdNs, lastSeenNs, ...rest } = e;
    const k = e.key;
    const key = `${e.reply ? 'R' : 'F'} ${k.proto} ${k.src}:${k.sport}>${k.dst}:${k.dport}`;
    times.set(key, [createdNs, lastSeenNs]);
    lines.push(`${key} ${JSON.stringify({ ...rest, key: undefined })}`);
  }
  lines.sort();
  const reasons = d.packets.reasons();
  const fwd = d.packets.fwdResults();
  const counters = d.control.counters();
  const slots = SERVICE_IDS_SLOTS(ids);
  return {
    view: {
      conntrack: lines,
      reasons: REASON.map((r) => `${r}=${reasons.get(r) ?? 0}`).filter((x) => !x.endsWith('=0')),
      fwd: FWD_RESULT.map((r) => `${r}=${fwd.get(r) ?? 0}`).filter((x) => !x.endsWith('=0')),
      endpoints: slots.map(([id, slot]) => `${id}/${slot}=${JSON.stringify(counters.endpoints.get(id)?.get(slot) ?? null)}`),
      conns: slots.map(([id, slot]) => `${id}/${slot}=${d.packets.endpointConnections(id, slot)}`),
    },
    times,
  };
}

/** The first lines where two lists differ (both sides), at most `n`. */
function listDiff(a: string[], b: string[], n = 4): string[] {
  const sa = new Set(a);
  const sb = new Set(b);
  const onlyA = a
    .filter((x) => !sb.has(x))
    .slice(0, n)
    .map((x) => `  reference: ${x}`);
  const onlyB = b
    .filter((x) => !sa.has(x))
    .slice(0, n)
    .map((x) => `  other:     ${x}`);
  return [...onlyA, ...onlyB];
}

export interface ApplyResult {
  disagreement?: Disagreement;
  /** The reference side's answer (a packet step that ran). */
  ref?: FrameResult;
  /** The frame reached no program (TC test runs refuse frames without a whole IP header). */
  skipped?: boolean;
}

/** A reference side (the model) and another side, fed the same steps. */
export class Pair {
  readonly a: Side;
  readonly b: Side;
  private readonly timeOk = (a: bigint, b: bigint): boolean => a === b;
  private ids: number[] | undefined;

  constructor(
    readonly hook: Hook,
    readonly ref: SideKind,
    readonly other: SideKind,
  ) {
    this.a = openSide(ref, hook);
    try {
      this.b = openSide(other, hook);
    } catch (e) {
      this.a.dut.close();
      throw e;
    }
  }

  close(): void {
    try {
      this.b.dut.close();
    } finally {
      this.a.dut.close();
    }
  }

  apply(step: FuzzStep, i: number): ApplyResult {
    if ('p' in step) return this.packet(step, i);
    if ('clock' in step) {
      this.a.dut.packets.advance(step.clock);
      this.b.dut.packets.advance(step.clock);
      return {};
    }
    if ('del' in step) {
      const x = this.a.dut.packets.deleteConntrack(step.del);
      const y = this.b.dut.packets.deleteConntrack(step.del);
      if (x === y) return {};
      return {
        disagreement: {
          step: i,
          kind: 'delete',
          signature: `delete existed ${x}≠${y}`,
          detail: `${stepText(step)}: the entry existed on the reference side: ${x}, on the other: ${y}`,
        },
      };
    }
    const x = applyControl(this.a, step.ctl);
    const y = applyControl(this.b, step.ctl);
    this.ids = undefined;
    if (x === y) return {};
    return {
      disagreement: { step: i, kind: 'control', signature: `control ${x}≠${y}`, detail: `${stepText(step)}: reference ${x}, other ${y}` },
    };
  }

  private packet(step: { p: string; n: string }, i: number): ApplyResult {
    const frame = Buffer.from(step.p, 'hex');
    let b: FrameResult;
    try {
      b = this.b.dut.packets.process(frame, 1);
    } catch (e) {
      // BPF_PROG_TEST_RUN at TC refuses a frame whose IP header is not all there (shorter than
      // 14 + 20 for IPv4, 14 + 40 for IPv6): it reached no program. Neither side runs it, so
      // both stay in step.
      if (this.hook !== 'tc' || this.other.kind !== 'prog' || frame.length >= 54) throw e;
      return { skipped: true };
    }
    const a = this.a.dut.packets.process(frame, 1);
    const what = packetDiff(a, b, this.timeOk);
    if (what === undefined) return { ref: a };
    const detail = [
      `step ${i}: ${step.n}`,
      `  input:     ${describeFrame(step.p)}`,
      `  reference (${this.a.name}): ${JSON.stringify(packetView(a))}${a.verdict !== 'drop' ? `\n             ${describeFrame(a.frame.toString('hex'))}` : ''}`,
      `  other     (${this.b.name}): ${JSON.stringify(packetView(b))}${b.verdict !== 'drop' ? `\n             ${describeFrame(b.frame.toString('hex'))}` : ''}`,
    ].join('\n');
    return { ref: a, disagreement: { step: i, kind: 'packet', signature: `packet ${what}`, detail } };
  }

  /** Compares the whole state of both sides. */
  checkState(i: number): Disagreement | undefined {
    if (this.ids === undefined)
      this.ids = [...new Set([...this.a.dut.control.listServices().map((s) => s.id), ...ECHO_SERVICES.map((e) => e.id)])].sort(
        (x, y) => x - y,
      );
    const x = stateOf(this.a.dut, this.ids);
    const y = stateOf(this.b.dut, this.ids);
    for (const part of Object.keys(x.view)) {
      const p = x.view[part]!;
      const q = y.view[part]!;
      if (p.length === q.length && p.every((v, j) => v === q[j])) continue;
      return {
        step: i,
        kind: 'state',
        signature: `state ${part}`,
        detail: [`state after step ${i}: ${part} differs`, ...listDiff(p, q)].join('\n'),
      };
    }
    for (const [key, [c, s]] of x.times) {
      const [kc, ks] = y.times.get(key) ?? [-1n, -1n];
      if (!this.timeOk(c, kc) || !this.timeOk(s, ks))
        return {
          step: i,
          kind: 'state',
          signature: 'state conntrack timestamps',
          detail: `state after step ${i}: timestamps of ${key}: reference ${c}/${s}, other ${kc}/${ks}`,
        };
    }
    return undefined;
  }
}

/** Replays steps on a fresh pair; the first disagreement (checking the state every `checkEvery` steps and at the end). */
export function replay(
  hook: Hook,
  ref: SideKind,
  other: SideKind,
  steps: readonly FuzzStep[],
  checkEvery = 1000,
): Disagreement | undefined {
  const pair = new Pair(hook, ref, other);
  try {
    for (let i = 0; i < steps.length; i++) {
      const r = pair.apply(steps[i]!, i);
      if (r.disagreement !== undefined) return r.disagreement;
      if ((i + 1) % checkEvery === 0) {
        const d = pair.checkState(i);
        if (d !== undefined) return d;
      }
    }
    return pair.checkState(steps.length - 1);
  } finally {
    pair.close();
  }
}
