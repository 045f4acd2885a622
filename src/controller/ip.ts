// IP address text <-> bytes, canonical forms, for the controller (validation, map keys).
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface ParsedIp {
  family: Family;
  /** 4 bytes (IPv4) or 16 bytes (IPv6), network order. */
  bytes: Buffer;
  /** Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6. */
  text: string;
}

/** Parses an IPv4 or IPv6 address (no zone id, no prefix length); undefined when it is neither. */
export function parseIp(text: string): ParsedIp | undefined {
  if (isIPv4(text)) {
    const bytes = Buffer.from(text.split('.').map(Number));
    return { family: 4, bytes, text: bytes.join('.') };
  }
  if (isIPv6(text) && !text.includes('%')) {
    const bytes = ipv6Bytes(text);
    return { family: 6, bytes, text: formatIpv6(bytes) };
  }
  return undefined;
}

function ipv6Bytes(text: string): Buffer {
  let s = text.toLowerCase();
  const out = Buffer.alloc(16);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4?.[1] !== undefined) {
    const b = v4[1].split('.').map(Number);
    s = s.slice(0, v4.index) + `${(((b[0] ?? 0) << 8) | (b[1] ?? 0)).toString(16)}:${(((b[2] ?? 0) << 8) | (b[3] ?? 0)).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** RFC 5952: lower case, no leading zeros, the longest run (≥ 2) of zero groups as "::". */
export function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Formats 4 or 16 address bytes as text. */
export function formatIp(bytes: Uint8Array, family: Family): string {
  return family === 4 ? Array.from(bytes.subarray(0, 4)).join('.') : formatIpv6(bytes.subarray(0, 16));
}
