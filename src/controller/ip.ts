// IP address text <-> bytes, canonical forms, for the controller (validation, map keys).
// Validation is node:net's; the byte and text conversions are the packet toolkit's.
import { isIPv4, isIPv6 } from 'node:net';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../packet/addr.ts';

export type Family = 4 | 6;

export interface ParsedIp {
  family: Family;
  /** 4 bytes (IPv4) or 16 bytes (IPv6), network order. */
  bytes: Buffer;
  /** Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6. */
  text: string;
}

/** Validates and canonicalises an IPv4 or IPv6 address text (no zone id, no prefix length); undefined when it is neither. (The packet toolkit's parseIp turns text into bytes and throws.) */
export function canonicalIp(text: string): ParsedIp | undefined {
  if (isIPv4(text)) {
    const bytes = Buffer.from(parseIpv4(text));
    return { family: 4, bytes, text: formatIpv4(bytes) };
  }
  if (isIPv6(text) && !text.includes('%')) {
    const bytes = Buffer.from(parseIpv6(text));
    return { family: 6, bytes, text: formatIpv6(bytes) };
  }
  return undefined;
}

/** Formats 4 or 16 address bytes as text. */
export function formatIp(bytes: Uint8Array, family: Family): string {
  return family === 4 ? formatIpv4(bytes) : formatIpv6(bytes);
}
