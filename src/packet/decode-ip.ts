// Network layer decoding: IPv4 (with options) and IPv6 (with extension headers).

import { formatIpv4, formatIpv6 } from './addr.ts';
import { fold, sumWords } from './checksum.ts';
import { IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPV4_OPTION_NAMES } from './constants.ts';
import type { ChecksumCheck, DecodeError, Ipv4Header, Ipv4Option, Ipv6Extension, Ipv6Header } from './decoded.ts';
import { read16 } from './decode-link.ts';
import { routingFinalDestination } from './ipv6-routing.ts';
import { readU32 } from './tcp.ts';

/** At most this many IPv6 extension headers are walked (loop bound for hostile input). */
export const MAX_IPV6_EXTENSIONS = 16;

export interface IpResult<H> {
  header?: H;
  /** Start of the upper layer and end of the IP packet within the bytes. */
  l4Offset: number;
  end: number;
  protocol: number;
  /** Raw address bytes for pseudo-header sums. */
  src?: Uint8Array;
  dst?: Uint8Array;
  /** The bytes end before the length field says (only without error when truncation is allowed). */
  truncated: boolean;
  /** A fragment: the L4 checksum covers bytes not in this packet. */
  fragment: boolean;
  /** A non-first fragment: no L4 header here. */
  laterFragment: boolean;
  error?: DecodeError;
}

function ipv4Options(b: Uint8Array, start: number, end: number): { options: Ipv4Option[]; error?: DecodeError } {
  const options: Ipv4Option[] = [];
  let off = start;
  while (off < end) {
    const type = b[off]!;
    const name = IPV4_OPTION_NAMES[type] ?? 'unknown';
    if (type === 0) break; // EOL: the rest is padding
    if (type === 1) {
      options.push({ offset: off, type, name, data: b.subarray(off + 1, off + 1) });
      off++;
      continue;
    }
    if (off + 1 >= end)
      return {
        options,
        error: { layer: 'ipv4', offset: off, reason: `option ${type} (${name}) at the end of the header has no length byte` },
      };
    const len = b[off + 1]!;
    if (len < 2) return { options, error: { layer: 'ipv4', offset: off + 1, reason: `option ${type} (${name}) length ${len} < 2` } };
    if (off + len > end) {
      return {
        options,
        error: {
          layer: 'ipv4',
          offset: off + 1,
          reason: `option ${type} (${name}) length ${len} runs past the header end (${end - off} bytes left)`,
        },
      };
    }
    options.push({ offset: off, type, name, data: b.subarray(off + 2, off + len) });
    off += len;
  }
  return { options };
}

export function decodeIpv4(b: Uint8Array, off: number, allowTruncation: boolean): IpResult<Ipv4Header> {
  const r: IpResult<Ipv4Header> = { l4Offset: off, end: b.length, protocol: -1, truncated: false, fragment: false, laterFragment: false };
  const avail = b.length - off;
  if (avail < 20) return { ...r, error: { layer: 'ipv4', offset: b.length, reason: `truncated: ${avail} of 20 header bytes` } };
  const version = b[off]! >> 4;
  if (version !== 4) return { ...r, error: { layer: 'ipv4', offset: off, reason: `version ${version} where IPv4 (4) was expected` } };
  const ihl = b[off]! & 15;
  if (ihl < 5) return { ...r, error: { layer: 'ipv4', offset: off, reason: `IHL ${ihl} < 5` } };
  const hl = ihl * 4;
  if (hl > avail)
    return { ...r, error: { layer: 'ipv4', offset: b.length, reason: `truncated: IHL ${ihl} says ${hl} header bytes, ${avail} present` } };
  const totalLength = read16(b, off + 2);
  const fragField = read16(b, off + 6);
  const value = read16(b, off + 10);
  const sum = fold(sumWords(b, off, off + hl));
  const expected = ~fold(sumWords(b, off, off + hl) - value) & 0xffff;
  const checksum: ChecksumCheck = { value, expected, verdict: sum === 0xffff ? 'ok' : 'bad' };
  const src = b.subarray(off + 12, off + 16);
  const dst = b.subarray(off + 16, off + 20);
  const h: Ipv4Header = {
    version: 4,
    offset: off,
    ihl,
    headerLength: hl,
    tos: b[off + 1]!,
    totalLength,
    id: read16(b, off + 4),
    df: (fragField & 0x4000) !== 0,
    mf: (fragField & 0x2000) !== 0,
    fragOffset: (fragField & 0x1fff) * 8,
    ttl: b[off + 8]!,
    protocol: b[off + 9]!,
    checksum,
    src: formatIpv4(src),
    dst: formatIpv4(dst),
    options: [],
  };
  r.header = h;
  r.src = src;
  r.dst = dst;
  r.protocol = h.protocol;
  r.l4Offset = off + hl;
  r.fragment = h.mf || h.fragOffset > 0;
  r.laterFragment = h.fragOffset > 0;
  const opts = ipv4Options(b, off + 20, off + hl);
  h.options = opts.options;
  if (opts.error !== undefined) return { ...r, error: opts.error };
  if (totalLength < hl) {
    return {
      ...r,
      error: {
        layer: 'ipv4',
        offset: off + 2,
        reason:
          totalLength === 0
            ? `total length 0 (< header length ${hl}; a GSO/BIG TCP capture?)`
            : `total length ${totalLength} < header length ${hl}`,
      },
    };
  }
  if (totalLength > avail) {
    if (!allowTruncation)
      return {
        ...r,
        error: {
          layer: 'ipv4',
          offset: off + 2,
          reason: `total length ${totalLength} runs past the end of the bytes (${avail} from offset ${off})`,
        },
      };
    r.truncated = true;
    r.end = b.length;
  } else r.end = off + totalLength;
  return r;
}

const EXT_NAMES: Record<number, Ipv6Extension['name']> = {
  [IPPROTO_HOPOPTS]: 'hop-by-hop',
  [IPPROTO_ROUTING]: 'routing',
  [IPPROTO_FRAGMENT]: 'fragment',
  [IPPROTO_DSTOPTS]: 'dest-opts',
  [IPPROTO_AH]: 'auth',
};

export function decodeIpv6(b: Uint8Array, off: number, allowTruncation: boolean): IpResult<Ipv6Header> {
  const r: IpResult<Ipv6Header> = { l4Offset: off, end: b.length, protocol: -1, truncated: false, fragment: false, laterFragment: false };
  const avail = b.length - off;
  if (avail < 40) return { ...r, error: { layer: 'ipv6', offset: b.length, reason: `truncated: ${avail} of 40 header bytes` } };
  const version = b[off]! >> 4;
  if (version !== 6) return { ...r, error: { layer: 'ipv6', offset: off, reason: `version ${version} where IPv6 (6) was expected` } };
  const word0 = readU32(b, off);
  const src = b.subarray(off + 8, off + 24);
  const dst = b.subarray(off + 24, off + 40);
  const payloadLength = read16(b, off + 4);
  const h: Ipv6Header = {
    version: 6,
    offset: off,
    trafficClass: (word0 >>> 20) & 0xff,
    flowLabel: word0 & 0xfffff,
    payloadLength,
    nextHeader: b[off + 6]!,
    hopLimit: b[off + 7]!,
    src: formatIpv6(src),
    dst: formatIpv6(dst),
    extensions: [],
    protocol: b[off + 6]!,
    headerLength: 40,
  };
  r.header = h;
  r.src = src;
  r.dst = dst;
  r.protocol = h.protocol;
  r.l4Offset = off + 40;
  if (payloadLength > avail - 40) {
    if (!allowTruncation) {
      return {
        ...r,
        error: {
          layer: 'ipv6',
          offset: off + 4,
          reason: `payload length ${payloadLength} runs past the end of the bytes (${avail - 40} after the header at offset ${off})`,
        },
      };
    }
    r.truncated = true;
    r.end = b.length;
  } else r.end = off + 40 + payloadLength;

  let nh = h.nextHeader;
  let p = off + 40;
  while (EXT_NAMES[nh] !== undefined) {
    const name = EXT_NAMES[nh]!;
    if (h.extensions.length >= MAX_IPV6_EXTENSIONS)
      return { ...r, error: { layer: 'ipv6-ext', offset: p, reason: `more than ${MAX_IPV6_EXTENSIONS} extension headers` } };
    if (nh === IPPROTO_HOPOPTS && h.extensions.length > 0)
      return { ...r, error: { layer: 'ipv6-ext', offset: p, reason: 'hop-by-hop header not directly after the IPv6 header' } };
    const need = nh === IPPROTO_FRAGMENT ? 8 : 2;
    if (p + need > r.end)
      return {
        ...r,
        error: { layer: 'ipv6-ext', offset: r.end, reason: `truncated: ${name} header needs ${need} bytes, ${r.end - p} present` },
      };
    const len = nh === IPPROTO_FRAGMENT ? 8 : nh === IPPROTO_AH ? (b[p + 1]! + 2) * 4 : (b[p + 1]! + 1) * 8;
    if (p + len > r.end)
      return {
        ...r,
        error: {
          layer: 'ipv6-ext',
          offset: p + 1,
          reason: `${name} header length ${len} runs past the packet end (${r.end - p} bytes left)`,
        },
      };
    const ext: Ipv6Extension = { offset: p, type: nh, name, nextHeader: b[p]!, length: len, data: b.subarray(p + 2, p + len) };
    if (nh === IPPROTO_ROUTING) {
      ext.routingType = b[p + 2]!;
      ext.segmentsLeft = b[p + 3]!;
      const final = routingFinalDestination(ext.routingType, ext.segmentsLeft, b.subarray(p + 8, p + len));
      if (final !== undefined) {
        r.dst = final;
        h.finalDst = formatIpv6(final);
      }
    } else if (nh === IPPROTO_FRAGMENT) {
      const fo = read16(b, p + 2);
      ext.fragOffset = fo & 0xfff8;
      ext.more = (fo & 1) !== 0;
      ext.id = readU32(b, p + 4);
      h.fragment = { offset: ext.fragOffset, more: ext.more, id: ext.id };
      r.fragment = true;
      r.laterFragment = ext.fragOffset > 0;
    }
    h.extensions.push(ext);
    nh = ext.nextHeader;
    p += len;
    if (r.laterFragment) break;
  }
  h.protocol = nh;
  h.headerLength = p - off;
  r.protocol = nh;
  r.l4Offset = p;
  return r;
}
