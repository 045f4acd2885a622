// The decoder: bytes -> DecodedFrame. Never throws on any input: it returns every header it
// could parse plus `error` saying which layer stopped it, at which byte offset, and why.
// Views (payload, trailer, option data) share memory with the input; copy them to keep them.

import { ETH_P_IPV4, ETH_P_IPV6 } from './constants.ts';
import type { DecodedFrame, LinkType } from './decoded.ts';
import { decodeIpv4, decodeIpv6, type IpResult } from './decode-ip.ts';
import { decodeTransport } from './decode-l4.ts';
import { decodeCooked, decodeEthernet, type LinkResult } from './decode-link.ts';

export interface DecodeOptions {
  /**
   * Bytes that end before the IP length says are expected (a capture cut by snaplen): mark the
   * frame `truncated` and give checksums 'unverifiable' instead of reporting an error.
   */
  allowTruncation?: boolean;
}

/**
 * ICMP errors quoted inside ICMP errors are decoded this many levels deep (hosts never send an
 * error about an error, RFC 1122; the bound keeps hostile nesting from exhausting the stack).
 */
export const MAX_QUOTE_DEPTH = 2;

/** decodeQuoted[d] decodes a quote found at nesting depth d (0 = the outer packet's ICMP error). */
const decodeQuoted: Array<(bytes: Uint8Array) => DecodedFrame> = Array.from({ length: MAX_QUOTE_DEPTH }, (_, d) => {
  const options: DecodeOptions & Internal = { allowTruncation: true, quoteDepth: d + 1 };
  return (bytes: Uint8Array): DecodedFrame => decodeFrame(bytes, 'raw-ip', options);
});

/** Not part of the public options: how deep in ICMP quotes this decode is. */
interface Internal {
  quoteDepth?: number;
}

function decodeIp(b: Uint8Array, off: number, version: 4 | 6, f: DecodedFrame, allowTruncation: boolean, depth: number): void {
  const r: IpResult<DecodedFrame['ip']> = version === 4 ? decodeIpv4(b, off, allowTruncation) : decodeIpv6(b, off, allowTruncation);
  if (r.header !== undefined) f.ip = r.header;
  if (r.end < b.length && r.header !== undefined) f.trailer = b.subarray(r.end);
  if (r.error !== undefined) {
    f.error = r.error;
    return;
  }
  if (r.truncated) f.truncated = true;
  if (r.laterFragment || r.src === undefined || r.dst === undefined) {
    f.payload = b.subarray(r.l4Offset, r.end);
    f.payloadOffset = r.l4Offset;
    return;
  }
  const l4 = decodeTransport({
    b,
    off: r.l4Offset,
    end: r.end,
    family: version,
    protocol: r.protocol,
    src: r.src,
    dst: r.dst,
    complete: !r.truncated && !r.fragment,
    truncated: r.truncated,
    decodeQuoted: decodeQuoted[depth],
  });
  const h = l4.header;
  if (h !== undefined) {
    f.l4 = h;
    if (h.proto === 'tcp') f.tcp = h;
    else if (h.proto === 'udp') f.udp = h;
    else f.icmp = h;
  }
  if (l4.error !== undefined) f.error = l4.error;
  if (h === undefined && l4.error === undefined) {
    // An upper layer we do not decode (GRE, SCTP, ESP, no-next-header, …).
    f.payload = b.subarray(r.l4Offset, r.end);
    f.payloadOffset = r.l4Offset;
  } else if (l4.payloadOffset !== undefined && l4.payloadEnd !== undefined) {
    f.payload = b.subarray(l4.payloadOffset, l4.payloadEnd);
    f.payloadOffset = l4.payloadOffset;
  }
}

/**
 * Decodes one frame. `linkType` says how the bytes start: 'ethernet' (default), 'raw-ip' (an IP
 * header, version from the first nibble), 'sll' / 'sll2' (Linux cooked, from `tcpdump -i any`).
 */
export function decodeFrame(bytes: Uint8Array, linkType: LinkType = 'ethernet', options: DecodeOptions = {}): DecodedFrame {
  const f: DecodedFrame = { linkType, length: bytes.length, vlans: [] };
  const allowTruncation = options.allowTruncation === true;
  let off = 0;
  let version: 4 | 6;
  if (linkType === 'raw-ip') {
    if (bytes.length === 0) {
      f.error = { layer: 'ip', offset: 0, reason: 'no bytes' };
      return f;
    }
    const v = bytes[0]! >> 4;
    if (v !== 4 && v !== 6) {
      f.error = { layer: 'ip', offset: 0, reason: `version ${v} is neither 4 nor 6` };
      return f;
    }
    version = v;
  } else {
    let link: LinkResult;
    if (linkType === 'ethernet') link = decodeEthernet(bytes, f);
    else if (linkType === 'sll' || linkType === 'sll2') link = decodeCooked(bytes, linkType, f);
    else {
      f.error = { layer: 'ethernet', offset: 0, reason: `unknown link type '${String(linkType)}': use ethernet, raw-ip, sll or sll2` };
      return f;
    }
    if (link.error !== undefined) {
      f.error = link.error;
      return f;
    }
    f.etherType = link.etherType;
    off = link.offset;
    if (link.etherType === ETH_P_IPV4) version = 4;
    else if (link.etherType === ETH_P_IPV6) version = 6;
    else {
      // ARP, LLDP, …: not ours to decode.
      f.payload = bytes.subarray(off);
      f.payloadOffset = off;
      return f;
    }
  }
  decodeIp(bytes, off, version, f, allowTruncation, (options as Internal).quoteDepth ?? 0);
  return f;
}

/** An IP packet without link header (same as decodeFrame(bytes, 'raw-ip')). */
export function decodeIpPacket(bytes: Uint8Array, options: DecodeOptions = {}): DecodedFrame {
  return decodeFrame(bytes, 'raw-ip', options);
}
