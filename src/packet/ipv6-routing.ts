// RFC 8200 §8.1: with a routing header that still has segments left, the upper-layer checksum's
// pseudo-header uses the FINAL destination, not the IPv6 header's current one.

/**
 * The final destination named by a routing header, or undefined when the IPv6 destination is
 * final (no segments left, or a routing type that carries no plain address list).
 * `addresses` are the header's bytes from offset 8 on (after the 4 type-specific bytes).
 */
export function routingFinalDestination(routingType: number, segmentsLeft: number, addresses: Uint8Array): Uint8Array | undefined {
  if (segmentsLeft === 0) return undefined;
  const n = Math.floor(addresses.length / 16);
  if (n === 0) return undefined;
  switch (routingType) {
    case 0: // RH0 (deprecated): addresses in visiting order, the last is final
      return addresses.subarray(16 * (n - 1), 16 * n);
    case 2: // Mobile IPv6 type 2: the home address
      return addresses.subarray(0, 16);
    case 4: // SRH: the segment list is stored in reverse, Segment List[0] is final
      return addresses.subarray(0, 16);
    default:
      return undefined;
  }
}
