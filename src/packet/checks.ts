// Checksum helpers over decoded frames: list every verdict, or repair the checksums in place.

import { decodeFrame, type DecodeOptions } from './decode.ts';
import type { ChecksumCheck, DecodedFrame, LinkType } from './decoded.ts';

export interface ChecksumEntry extends ChecksumCheck {
  layer: 'ipv4' | 'tcp' | 'udp' | 'icmp' | 'icmp6';
  /** Byte offset of the checksum field in the decoded buffer. */
  fieldOffset: number;
}

/** The IPv4 header and L4 checksums of a frame (outer packet only; ICMP quotes are not included). */
export function checksumsOf(frame: DecodedFrame): ChecksumEntry[] {
  const out: ChecksumEntry[] = [];
  if (frame.ip?.version === 4) out.push({ layer: 'ipv4', fieldOffset: frame.ip.offset + 10, ...frame.ip.checksum });
  const l4 = frame.l4;
  if (l4 !== undefined) {
    const field = l4.proto === 'tcp' ? 16 : l4.proto === 'udp' ? 6 : 2;
    out.push({ layer: l4.proto, fieldOffset: l4.offset + field, ...l4.checksum });
  }
  return out;
}

/** Checksums that are neither 'ok' nor 'zero' (UDP/IPv4 "no checksum"), as "tcp bad 0x1234 (want 0x1235)". */
export function checksumProblems(frame: DecodedFrame): string[] {
  const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;
  return checksumsOf(frame)
    .filter((c) => c.verdict !== 'ok' && c.verdict !== 'zero')
    .map((c) => `${c.layer} ${c.verdict} ${hex(c.value)}${c.expected !== undefined ? ` (want ${hex(c.expected)})` : ''}`);
}

export interface FixChecksumsOptions extends DecodeOptions {
  /** Leave 'partial' L4 checksums alone (they are what a CHECKSUM_PARTIAL sender really emits). */
  keepPartial?: boolean;
}

/**
 * Writes the correct IPv4 header and L4 checksums into `bytes` (in place) wherever they can be
 * computed and are wrong, e.g. after a test edited an address or port. Returns the re-decoded frame.
 * Lengths are not touched; a frame that does not decode up to the checksummed layer is left as is.
 */
export function fixChecksums(bytes: Uint8Array, linkType: LinkType = 'ethernet', options: FixChecksumsOptions = {}): DecodedFrame {
  const frame = decodeFrame(bytes, linkType, options);
  let changed = false;
  for (const c of checksumsOf(frame)) {
    if (c.expected === undefined || c.verdict === 'ok' || c.verdict === 'zero' || c.verdict === 'unverifiable') continue;
    if (c.verdict === 'partial' && options.keepPartial === true) continue;
    bytes[c.fieldOffset] = c.expected >> 8;
    bytes[c.fieldOffset + 1] = c.expected & 0xff;
    changed = true;
  }
  return changed ? decodeFrame(bytes, linkType, options) : frame;
}
