// Internet checksum (RFC 1071) and the TCP/UDP/ICMPv6 pseudo-header sums (RFC 793, 768, 8200).
//
// Sums are kept unfolded in a JS number (exact up to 2^53, i.e. far beyond 64 KiB packets) and
// folded once at the end.

/** Adds the 16-bit big-endian words of b[start, end) to acc; an odd last byte is padded with 0. */
export function sumWords(b: Uint8Array, start: number, end: number, acc = 0): number {
  let i = start;
  const last = end - 1;
  for (; i < last; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if (i < end) acc += b[i]! << 8;
  return acc;
}

/** Folds an unfolded sum to 16 bits with end-around carry. */
export function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** The checksum field value for b[start, end) (the field itself must be zero in b, or passed in `initial` as its complement). */
export function internetChecksum(b: Uint8Array, start: number, end: number, initial = 0): number {
  return ~fold(sumWords(b, start, end, initial)) & 0xffff;
}

/** Unfolded pseudo-header sum: addresses (4 or 16 bytes each), protocol, upper-layer length. */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let acc = sumWords(src, 0, src.length) + sumWords(dst, 0, dst.length) + protocol;
  // IPv6 uses a 32-bit length; IPv4's fits in 16 bits, and the split sum is the same.
  acc += Math.floor(length / 0x10000) + (length & 0xffff);
  return acc;
}

/**
 * The value a sender's stack leaves in the TCP/UDP checksum field under CHECKSUM_PARTIAL (the
 * NIC, or the veth peer's "checksum unnecessary", finishes it): the folded pseudo-header sum,
 * not complemented. A capture on the sending side of a veth with tx offload on shows this.
 */
export function partialChecksum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  return fold(pseudoHeaderSum(src, dst, protocol, length));
}

/** Ones' complement equality: 0x0000 and 0xffff are both zero. */
export function onesEqual(a: number, b: number): boolean {
  return (a === 0xffff ? 0 : a) === (b === 0xffff ? 0 : b);
}

/** RFC 1624 incremental update: the new checksum after a 16-bit word changes from `old` to `now`. */
export function updateChecksum16(check: number, old: number, now: number): number {
  // HC' = ~(~HC + ~m + m')
  return ~fold((~check & 0xffff) + (~old & 0xffff) + now) & 0xffff;
}
