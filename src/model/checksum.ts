// One's-complement arithmetic of the datapath's incremental checksum updates (docs/datapath.md,
// "Checksum arithmetic"): 32-bit sums with end-around carry, differences of 16-bit words read in
// memory order (little-endian, as the x86 kernel reads them), and the two forms of applying a
// difference to a checksum field: the TC form (the kernel's csum_replace_by_diff, which
// complements the zero-extended 32-bit field) and the XDP form (the datapath's own, which
// complements the 16-bit field). They differ only in the 0x0000 / 0xffff representation.
import type { Hook } from '../datapath/packet-datapath.ts';

export function csumAdd(a: number, b: number): number {
  a >>>= 0;
  b >>>= 0;
  const s = (a + b) >>> 0;
  return (s + (s < b ? 1 : 0)) >>> 0;
}

/** Folds a 32-bit sum to 16 bits and complements it: the checksum field value. */
export function csumFold(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** The difference of one 16-bit word changing from `from` to `to`, added to `seed`. */
export function diffWord(from: number, to: number, seed: number): number {
  return csumAdd(csumAdd(seed, ~from & 0xffff), to & 0xffff);
}

/** Writes `n` bytes of `value` at `off` of `buf`, returning the difference (memory-order words). */
export function writeBytesDiff(buf: Buffer, off: number, value: Uint8Array, n: number, seed: number): number {
  let d = seed;
  for (let i = 0; i < n; i += 2) {
    const from = buf.readUInt16LE(off + i);
    buf[off + i] = value[i] ?? 0;
    buf[off + i + 1] = value[i + 1] ?? 0;
    d = diffWord(from, buf.readUInt16LE(off + i), d);
  }
  return d;
}

/** Writes a network-order 16-bit value at `off`, returning the difference. */
export function writePortDiff(buf: Buffer, off: number, port: number, seed: number): number {
  const from = buf.readUInt16LE(off);
  buf.writeUInt16BE(port & 0xffff, off);
  return diffWord(from, buf.readUInt16LE(off), seed);
}

/** The complement the hook's update starts from (see the header comment). */
function complemented(hook: Hook, field: number): number {
  return hook === 'tc' ? ~field >>> 0 : ~field & 0xffff;
}

/** Applies a difference to the IPv4 header checksum at `off` (the hook's form). */
export function applyL3(hook: Hook, buf: Buffer, off: number, diff: number): void {
  const field = buf.readUInt16LE(off);
  buf.writeUInt16LE(csumFold(csumAdd(diff, complemented(hook, field))), off);
}

/** Applies a difference to an L4 checksum at `off`; udp: 0 stays 0 and a computed 0 becomes 0xffff. */
export function applyL4(hook: Hook, buf: Buffer, off: number, diff: number, udp: boolean): void {
  const field = buf.readUInt16LE(off);
  if (udp && field === 0) return;
  let v = csumFold(csumAdd(diff, complemented(hook, field)));
  if (udp && v === 0) v = 0xffff;
  buf.writeUInt16LE(v, off);
}

/**
 * Updates a checksum inside an ICMP error's quote (always the XDP form: the datapath does it by
 * hand at both hooks); returns the difference of the field itself (the ICMP checksum covers it).
 * A field beyond the quote or past offset 255 is left alone (difference unchanged).
 */
export function applyInner(buf: Buffer, off: number, diff: number, udp: boolean, outer: number): number {
  if (off > 255 || off + 2 > buf.length) return outer;
  const old = buf.readUInt16LE(off);
  if (udp && old === 0) return outer;
  let nw = csumFold(csumAdd(diff, ~old & 0xffff));
  if (udp && nw === 0) nw = 0xffff;
  buf.writeUInt16LE(nw, off);
  return diffWord(old, nw, outer);
}
