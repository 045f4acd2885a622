// What a reproducer file (DIR/repro-*.ts, written by run.ts) calls: replays its steps through
// both sides on fresh datapaths and prints the disagreement, or that there is none any more.
import type { Hook } from '../../datapath/packet-datapath.ts';
import { replay } from './compare.ts';
import type { FuzzStep } from './steps.ts';
import { describeSide } from './world.ts';
import type { SideKind } from './world.ts';

export interface ReproHeader {
  hook: Hook;
  ref: SideKind;
  other: SideKind;
  /** The disagreement it was shrunk for. */
  signature: string;
}

/** 1 when the sides still disagree (printed), 0 when they agree. */
export function runRepro(h: ReproHeader, steps: FuzzStep[], log: (s: string) => void = (s) => console.log(s)): number {
  if (h.other.kind === 'prog' && process.getuid?.() !== 0) {
    log('this reproducer runs the BPF programs (BPF_PROG_TEST_RUN): run it as root');
    return 2;
  }
  const d = replay(h.hook, h.ref, h.other, steps, Math.max(1, steps.length));
  if (d === undefined) {
    log(`${describeSide(h.ref)} and ${describeSide(h.other)} agree at ${h.hook} on these ${steps.length} steps (it was: ${h.signature})`);
    return 0;
  }
  log(
    `${describeSide(h.ref)} and ${describeSide(h.other)} disagree at ${h.hook}: ${d.signature}${d.signature === h.signature ? '' : ` (shrunk for: ${h.signature})`}\n${d.detail}`,
  );
  return 1;
}
