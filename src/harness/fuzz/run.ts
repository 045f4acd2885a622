// `xlb run --fuzz`: seeded differential fuzzing of the datapath. Sequences of generated steps
// (generator.ts) run through the reference model and another side (the real programs at TC and
// XDP, or a model with deliberate faults), compared per packet and, every `checkEvery` steps and
// at a sequence's end, in their whole state (compare.ts). A sequence is `batch` packets on one
// pair of datapaths (opening the BPF objects costs ~0.3–0.5 s, so they are reused for a whole
// sequence and reopened only for the next one or after a disagreement). Memory is bounded: only
// the current sequence's steps are kept (for shrinking), whatever --packets says.
//
// On a disagreement: the seed, sequence and step are printed; the prefix is replayed on fresh
// datapaths to confirm it (a disagreement that does not replay, e.g. state one instance leaked
// into the next, is reported as such, not shrunk); then it is shrunk (shrink.ts) and written as
// DIR/repro-<seed>-<hook>-<n>.ts, a script that replays it through both sides, with the command.
// A disagreement with a signature already shrunk in this run is counted, not shrunk again.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../root.ts';
import type { Hook } from '../../datapath/packet-datapath.ts';
import { Pair, replay } from './compare.ts';
import type { Disagreement } from './compare.ts';
import { Generator } from './generator.ts';
import { shrink } from './shrink.ts';
import type { ShrinkBudget } from './shrink.ts';
import type { FuzzStep } from './steps.ts';
import { stepText } from './steps.ts';
import { describeSide } from './world.ts';
import type { SideKind } from './world.ts';

export interface FuzzOptions {
  /** Packets per hook. */
  packets: number;
  seed: number;
  hooks: Hook[];
  /** The reference side (the model) and the side checked against it. */
  ref: SideKind;
  other: SideKind;
  /** Where reproducers go. */
  reportDir: string;
  /** Packets per sequence (one pair of datapaths); default 50,000. */
  batch?: number;
  /** State comparison every this many steps; default 5,000 (a check of ~2,000 entries costs tens of ms). */
  checkEvery?: number;
  /** Disagreements shrunk at most (others are counted); default 3 per hook. */
  maxShrinks?: number;
  /** A hook stops after this many disagreements (each ends its sequence: datapaths reopen); default 50. */
  maxDisagreements?: number;
  shrinkBudget?: ShrinkBudget;
  log?: (line: string) => void;
}

export interface FoundDisagreement {
  hook: Hook;
  seed: number;
  sequence: number;
  /** The sequence's generator seed. */
  sequenceSeed: number;
  step: number;
  signature: string;
  detail: string;
  /** Replayed on fresh datapaths with the same result. */
  reproducible: boolean;
  shrunk?: { steps: number; tests: number; ms: number; exhausted: boolean; detail: string; file: string; command: string };
  /** Same signature as an earlier one of this hook: neither replayed nor shrunk again, detail dropped. */
  duplicateOf?: number;
}

export interface HookReport {
  hook: Hook;
  packets: number;
  /** Packets not comparable (TC refuses frames without a whole IP header). */
  skipped: number;
  steps: number;
  sequences: number;
  /** Wall time of the runs, not counting confirmation and shrinking. */
  seconds: number;
  packetsPerSecond: number;
  disagreements: FoundDisagreement[];
  /** Disagreements by signature. */
  signatures: Record<string, number>;
  /** Set when the hook stopped early (too many disagreements). */
  stopped?: string;
}

export interface FuzzReport {
  seed: number;
  ref: string;
  other: string;
  hooks: HookReport[];
}

/** The generator seed of sequence `n` of a run seeded `seed`. */
export function sequenceSeed(seed: number, n: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(n + 1, 0xc2b2ae35)) >>> 0;
}

const HERE = path.join(ROOT, 'src', 'harness', 'fuzz');

/** Writes a reproducer script; returns the command that runs it. */
export function writeRepro(
  file: string,
  r: { hook: Hook; ref: SideKind; other: SideKind; signature: string; header: string[]; steps: FuzzStep[] },
): string {
  mkdirSync(path.dirname(file), { recursive: true });
  const command = `node --import file://${path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')} ${file}`;
  const lines = [
    ...r.header.map((h) => `// ${h}`),
    `// Re-run (as root when one side is prog): ${command}`,
    '// Exit status 1: the two sides still disagree (printed); 0: they agree now.',
    `import { runRepro } from ${JSON.stringify(path.join(HERE, 'repro.ts'))};`,
    '',
    `process.exitCode = runRepro(${JSON.stringify({ hook: r.hook, ref: r.ref, other: r.other, signature: r.signature })}, [`,
    ...r.steps.map((s) => `  ${JSON.stringify(s)}, // ${stepText(s)}`),
    ']);',
    '',
  ];
  writeFileSync(file, lines.join('\n'));
  return command;
}

export function runFuzz(o: FuzzOptions): FuzzReport {
  const log = o.log ?? ((s: string) => console.log(s));
  const batch = o.batch ?? 50_000;
  const checkEvery = o.checkEvery ?? 5_000;
  const maxShrinks = o.maxShrinks ?? 3;
  const maxDisagreements = o.maxDisagreements ?? 50;
  const budget = o.shrinkBudget ?? { maxTests: 400, maxMs: 120_000 };
  const report: FuzzReport = { seed: o.seed, ref: describeSide(o.ref), other: describeSide(o.other), hooks: [] };
  log(
    `# fuzz: ${report.ref} against ${report.other}, seed ${o.seed}, ${o.packets} packets per hook (${o.hooks.join(', ')}), sequences of ${batch}`,
  );
  for (const hook of o.hooks) {
    const h: HookReport = {
      hook,
      packets: 0,
      skipped: 0,
      steps: 0,
      sequences: 0,
      seconds: 0,
      packetsPerSecond: 0,
      disagreements: [],
      signatures: {},
    };
    report.hooks.push(h);
    const shrunkSignatures = new Map<string, number>();
    let runMs = 0;
    for (let seq = 0; h.packets + h.skipped < o.packets; seq++) {
      const sSeed = sequenceSeed(o.seed, seq);
      const gen = new Generator(sSeed);
      const steps: FuzzStep[] = [];
      const t0 = performance.now();
      const pair = new Pair(hook, o.ref, o.other);
      let found: Disagreement | undefined;
      let inSeq = 0;
      h.sequences++;
      try {
        while (inSeq < batch && h.packets + h.skipped < o.packets) {
          const step = gen.next();
          const i = steps.length;
          steps.push(step);
          const r = pair.apply(step, i);
          gen.feedback(r.ref);
          if ('p' in step) {
            inSeq++;
            if (r.skipped === true) h.skipped++;
            else h.packets++;
          }
          if (r.disagreement !== undefined) {
            found = r.disagreement;
            break;
          }
          if ((i + 1) % checkEvery === 0) {
            found = pair.checkState(i);
            if (found !== undefined) break;
          }
        }
        if (found === undefined) found = pair.checkState(steps.length - 1);
      } finally {
        pair.close();
        h.steps += steps.length;
        runMs += performance.now() - t0;
      }
      // One line a sequence: a long run (millions of packets) shows how far it got if stopped.
      if (o.packets > batch)
        log(
          `# ${hook}: sequence ${seq + 1} done, ${h.packets + h.skipped} of ${o.packets} packets, ${((runMs / 1000) | 0).toString()} s, ${h.disagreements.length + (found === undefined ? 0 : 1)} disagreements`,
        );
      if (found !== undefined) {
        h.signatures[found.signature] = (h.signatures[found.signature] ?? 0) + 1;
        h.disagreements.push(handle(o, log, hook, seq, sSeed, steps, found, shrunkSignatures, maxShrinks, budget, checkEvery));
        if (h.disagreements.length >= maxDisagreements) {
          h.stopped = `stopped after ${maxDisagreements} disagreements`;
          log(`# ${hook}: ${h.stopped} (each one ends its sequence)`);
          break;
        }
      }
    }
    h.seconds = runMs / 1000;
    h.packetsPerSecond = Math.round((h.packets + h.skipped) / Math.max(h.seconds, 1e-9));
    log(
      `# ${hook}: ${h.packets} packets compared (+${h.skipped} not runnable at TC), ${h.steps} steps, ${h.sequences} sequences, ${h.seconds.toFixed(1)} s, ${h.packetsPerSecond} packets/s, ${h.disagreements.length} disagreements`,
    );
  }
  return report;
}

function handle(
  o: FuzzOptions,
  log: (s: string) => void,
  hook: Hook,
  seq: number,
  sSeed: number,
  steps: FuzzStep[],
  d: Disagreement,
  seen: Map<string, number>,
  maxShrinks: number,
  budget: ShrinkBudget,
  checkEvery: number,
): FoundDisagreement {
  const where = `seed ${o.seed}, sequence ${seq} (generator seed ${sSeed}), hook ${hook}, step ${d.step}`;
  const dup = seen.get(d.signature);
  if (dup !== undefined) {
    log(`not ok - disagreement: ${where}: ${d.signature} (as disagreement ${dup}: not replayed nor shrunk again)`);
    return {
      hook,
      seed: o.seed,
      sequence: seq,
      sequenceSeed: sSeed,
      step: d.step,
      signature: d.signature,
      detail: '',
      reproducible: false,
      duplicateOf: dup,
    };
  }
  log(`not ok - disagreement: ${where}: ${d.signature}\n${indent(d.detail)}`);
  const out: FoundDisagreement = {
    hook,
    seed: o.seed,
    sequence: seq,
    sequenceSeed: sSeed,
    step: d.step,
    signature: d.signature,
    detail: d.detail,
    reproducible: false,
  };
  const prefix = steps.slice(0, d.step + 1);
  const again = replay(hook, o.ref, o.other, prefix, checkEvery);
  out.reproducible = again?.signature === d.signature;
  if (!out.reproducible) {
    log(
      `#   replayed on fresh datapaths: ${again === undefined ? 'no disagreement' : `another one (${again.signature})`}: not reproducible from a fresh start (something outside the steps mattered: state left by an earlier instance, real time): not shrunk`,
    );
    return out;
  }
  if (seen.size >= maxShrinks) {
    log(`#   ${maxShrinks} disagreements shrunk already: not shrunk`);
    return out;
  }
  seen.set(d.signature, seen.size);
  log(`#   shrinking ${prefix.length} steps…`);
  const s = shrink(prefix, d, (xs) => replay(hook, o.ref, o.other, xs, checkEvery), budget);
  const file = path.join(o.reportDir, `repro-${o.seed}-${hook}-${seen.size - 1}.ts`);
  const command = writeRepro(file, {
    hook,
    ref: o.ref,
    other: o.other,
    signature: s.disagreement.signature,
    header: [
      `xlb fuzz reproducer: ${describeSide(o.ref)} against ${describeSide(o.other)} at ${hook}: ${s.disagreement.signature}`,
      `Found by: xlb run --fuzz --seed ${o.seed} --hook ${hook} (${where}), shrunk from ${prefix.length} to ${s.steps.length} steps.`,
    ],
    steps: s.steps,
  });
  out.shrunk = { steps: s.steps.length, tests: s.tests, ms: s.ms, exhausted: s.exhausted, detail: s.disagreement.detail, file, command };
  log(
    `#   shrunk to ${s.steps.length} steps (${s.tests} replays, ${(s.ms / 1000).toFixed(1)} s${s.exhausted ? ', budget exhausted: not minimal' : ''}):`,
  );
  for (const st of s.steps) log(`#     ${stepText(st)}`);
  log(`${indent(s.disagreement.detail)}\n#   reproducer: ${file}\n#   re-run: ${command}`);
  return out;
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `#   ${l}`)
    .join('\n');
}
