// Transport layer decoding: TCP, UDP, ICMP, ICMPv6, with checksum verdicts.

import { fold, onesEqual, partialChecksum, pseudoHeaderSum, sumWords } from './checksum.ts';
import {
  ICMP4_ERROR_TYPES,
  ICMP4_TYPE_NAMES,
  ICMP6_ERROR_TYPES,
  ICMP6_TYPE_NAMES,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
} from './constants.ts';
import type { ChecksumCheck, DecodedFrame, DecodeError, IcmpHeader, TcpHeader, UdpHeader } from './decoded.ts';
import { read16 } from './decode-link.ts';
import { formatTcpFlags, readTcpOptions, readU32 } from './tcp.ts';

export interface L4Context {
  b: Uint8Array;
  off: number;
  /** End of the IP packet within b. */
  end: number;
  family: 4 | 6;
  protocol: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** All bytes the checksum covers are present (no truncation, not a fragment). */
  complete: boolean;
  /** The bytes end before the IP length says (quoted ICMP packet, snaplen cut). */
  truncated: boolean;
  /** Decodes an ICMP error's quoted packet; undefined past the nesting bound (quote left undecoded). */
  decodeQuoted: ((bytes: Uint8Array) => DecodedFrame) | undefined;
}

export interface L4Result {
  header?: TcpHeader | UdpHeader | IcmpHeader;
  payloadOffset?: number;
  payloadEnd?: number;
  error?: DecodeError;
}

/**
 * Verdict for a checksum field at `field` covering b[start, end) plus an optional pseudo-header.
 * `udp4` makes a 0 field mean "no checksum".
 */
function verdict(c: L4Context, start: number, end: number, field: number, pseudo: boolean, udp: boolean): ChecksumCheck {
  const b = c.b;
  const value = read16(b, field);
  if (udp && c.family === 4 && value === 0) return { value, verdict: 'zero' };
  if (!c.complete || end > b.length) return { value, verdict: 'unverifiable' };
  const length = end - start;
  const acc = sumWords(b, start, end, pseudo ? pseudoHeaderSum(c.src, c.dst, c.protocol, length) : 0);
  let expected = ~fold(acc - value) & 0xffff;
  if (udp && expected === 0) expected = 0xffff;
  if (fold(acc) === 0xffff && !(udp && value === 0)) return { value, expected, verdict: 'ok' };
  if (pseudo && onesEqual(value, partialChecksum(c.src, c.dst, c.protocol, length))) return { value, expected, verdict: 'partial' };
  return { value, expected, verdict: 'bad' };
}

function truncated(layer: DecodeError['layer'], c: L4Context, need: number): DecodeError {
  const limit = Math.min(c.end, c.b.length);
  return { layer, offset: limit, reason: `truncated: ${limit - c.off} of ${need} header bytes` };
}

/** The fields of a TCP header cut short in a truncated packet; absent fields read as 0. */
function cutTcpHeader(b: Uint8Array, off: number, end: number): TcpHeader {
  const at = (o: number, n: number): number =>
    off + o + n <= end ? (n === 2 ? read16(b, off + o) : n === 4 ? readU32(b, off + o) : b[off + o]!) : 0;
  const dataOffset = at(12, 1) >> 4;
  const flags = at(13, 1);
  return {
    proto: 'tcp',
    offset: off,
    sport: read16(b, off),
    dport: read16(b, off + 2),
    seq: readU32(b, off + 4),
    ack: at(8, 4),
    dataOffset,
    headerLength: dataOffset * 4,
    flags,
    flagString: formatTcpFlags(flags),
    window: at(14, 2),
    urgent: at(18, 2),
    checksum: { value: at(16, 2), verdict: 'unverifiable' },
    options: [],
  };
}

function decodeTcp(c: L4Context): L4Result {
  const { b, off, end } = c;
  if (end - off < 20) {
    // An ICMP error quotes at least 8 bytes of the offending TCP header (RFC 792): ports and seq.
    if (c.truncated && end - off >= 8) return { header: cutTcpHeader(b, off, end) };
    return { error: truncated('tcp', c, 20) };
  }
  const dataOffset = b[off + 12]! >> 4;
  const flags = b[off + 13]!;
  const h: TcpHeader = {
    proto: 'tcp',
    offset: off,
    sport: read16(b, off),
    dport: read16(b, off + 2),
    seq: readU32(b, off + 4),
    ack: readU32(b, off + 8),
    dataOffset,
    headerLength: dataOffset * 4,
    flags,
    flagString: formatTcpFlags(flags),
    window: read16(b, off + 14),
    urgent: read16(b, off + 18),
    checksum: verdict(c, off, end, off + 16, true, false),
    options: [],
  };
  if (dataOffset < 5) return { header: h, error: { layer: 'tcp', offset: off + 12, reason: `data offset ${dataOffset} < 5` } };
  if (off + h.headerLength > end) {
    if (c.truncated) {
      // Cut inside the options (snaplen, ICMP quote): keep the whole options that are present.
      h.options = readTcpOptions(b, off + 20, end).options;
      return { header: h };
    }
    return {
      header: h,
      error: {
        layer: 'tcp',
        offset: off + 12,
        reason: `data offset ${dataOffset} (${h.headerLength} bytes) runs past the segment end (${end - off} bytes)`,
      },
    };
  }
  const opts = readTcpOptions(b, off + 20, off + h.headerLength);
  h.options = opts.options;
  const r: L4Result = { header: h, payloadOffset: off + h.headerLength, payloadEnd: end };
  if (opts.error !== undefined) r.error = { layer: 'tcp', ...opts.error };
  return r;
}

function decodeUdp(c: L4Context): L4Result {
  const { b, off, end } = c;
  if (end - off < 8) return { error: truncated('udp', c, 8) };
  const length = read16(b, off + 4);
  const h: UdpHeader = {
    proto: 'udp',
    offset: off,
    sport: read16(b, off),
    dport: read16(b, off + 2),
    length,
    checksum: { value: read16(b, off + 6), verdict: 'unverifiable' },
  };
  if (length < 8) return { header: h, error: { layer: 'udp', offset: off + 4, reason: `length ${length} < 8` } };
  if (off + length > end && c.complete) {
    return {
      header: h,
      error: { layer: 'udp', offset: off + 4, reason: `length ${length} runs past the IP payload (${end - off} bytes)` },
    };
  }
  h.checksum = verdict(c, off, off + length, off + 6, true, true);
  return { header: h, payloadOffset: off + 8, payloadEnd: Math.min(off + length, end) };
}

function decodeIcmp(c: L4Context): L4Result {
  const { b, off, end } = c;
  const proto = c.protocol === IPPROTO_ICMP ? 'icmp' : 'icmp6';
  if (end - off < 8) return { error: truncated(proto, c, 8) };
  const type = b[off]!;
  const names = proto === 'icmp' ? ICMP4_TYPE_NAMES : ICMP6_TYPE_NAMES;
  const h: IcmpHeader = {
    proto,
    offset: off,
    type,
    code: b[off + 1]!,
    typeName: names[type] ?? `type ${type}`,
    checksum: verdict(c, off, end, off + 2, proto === 'icmp6', false),
  };
  if (h.typeName === 'echo-request' || h.typeName === 'echo-reply') {
    h.id = read16(b, off + 4);
    h.seq = read16(b, off + 6);
  } else if (proto === 'icmp' && type === 3 && h.code === 4) h.mtu = read16(b, off + 6);
  else if (proto === 'icmp6' && type === 2) h.mtu = readU32(b, off + 4);
  const errors = proto === 'icmp' ? ICMP4_ERROR_TYPES : ICMP6_ERROR_TYPES;
  if (errors.has(type) && end > off + 8 && c.decodeQuoted !== undefined) h.inner = c.decodeQuoted(b.subarray(off + 8, end));
  return { header: h, payloadOffset: off + 8, payloadEnd: end };
}

/** Decodes the upper layer if it is one we know; otherwise returns {} (no header, no error). */
export function decodeTransport(c: L4Context): L4Result {
  switch (c.protocol) {
    case IPPROTO_TCP:
      return decodeTcp(c);
    case IPPROTO_UDP:
      return decodeUdp(c);
    case IPPROTO_ICMP:
      return c.family === 4 ? decodeIcmp(c) : {};
    case IPPROTO_ICMPV6:
      return c.family === 6 ? decodeIcmp(c) : {};
    default:
      return {};
  }
}
