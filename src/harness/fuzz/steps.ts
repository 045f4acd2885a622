// One step of a fuzz sequence, in a form a reproducer file can hold as plain data: a frame (hex),
// a clock move, a conntrack entry deleted on both sides, an endpoint change through the
// controller. The generator produces them; the comparer applies them to both sides.
import type { DpTuple } from '../../datapath/packet-datapath.ts';
import type { ControlStep } from './world.ts';

export type FuzzStep =
  /** A frame arriving on ifindex 1; `n`: what it is (the generator's note, with its flow tag). */
  { p: string; n: string } | { clock: number } | { del: DpTuple } | { ctl: ControlStep };

export function stepText(s: FuzzStep): string {
  if ('p' in s) return `packet ${s.n} (${s.p.length / 2} bytes)`;
  if ('clock' in s) return `clock +${s.clock} ms`;
  if ('del' in s) return `delete conntrack ${s.del.proto} ${s.del.src}:${s.del.sport} > ${s.del.dst}:${s.del.dport}`;
  const c = s.ctl;
  return c.op === 'health'
    ? `health ${c.svc} ${c.ip}:${c.port} ${c.up ? 'up' : 'down'}`
    : `put ${c.svc} endpoints ${c.endpoints.map((e) => `${e.ip}:${e.port}`).join(' ')}`;
}

/** The flow tag of a packet step ("f12" in "f12 client SYN"), for slicing a sequence by flow. */
export function flowTag(s: FuzzStep): string | undefined {
  if (!('p' in s)) return undefined;
  const m = /^(f\d+)\b/.exec(s.n);
  return m?.[1];
}
