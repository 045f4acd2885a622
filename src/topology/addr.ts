// Address arithmetic for topology declarations: "the N-th host of 198.18.1.0/24" and the same for
// IPv6 (host N is written so that it reads like the IPv4 one: host 11 -> fd00:18:1::11).
// Prefix arithmetic is done on bigints; text <-> bytes is the packet toolkit's.
import { isIPv4, isIPv6 } from 'node:net';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../packet/addr.ts';

export interface Prefix {
  family: 4 | 6;
  /** Network address as a bigint (32 or 128 bits). */
  network: bigint;
  length: number;
  text: string;
}

function bytesToBig(b: Uint8Array): bigint {
  return b.reduce((acc, o) => (acc << 8n) | BigInt(o), 0n);
}

function bigToBytes(n: bigint, len: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => Number((n >> BigInt(8 * (len - 1 - i))) & 255n));
}

const v4ToBig = (a: string): bigint => bytesToBig(parseIpv4(a));
const bigToV4 = (n: bigint): string => formatIpv4(bigToBytes(n, 4));
const v6ToBig = (a: string): bigint => bytesToBig(parseIpv6(a));
/** RFC 5952 text (lower case, longest zero run compressed). */
const bigToV6 = (n: bigint): string => formatIpv6(bigToBytes(n, 16));

export function parsePrefix(text: string): Prefix {
  const [addr = '', len, extra] = text.split('/');
  const bad = (why: string): Error => new Error(`bad prefix '${text}': ${why} (write e.g. 198.18.1.0/24 or fd00:18:1::/64)`);
  if (len === undefined || extra !== undefined || !/^\d{1,3}$/.test(len)) throw bad('expected ADDRESS/LENGTH');
  const length = Number(len);
  if (isIPv4(addr)) {
    if (length > 32) throw bad('IPv4 prefix length is 0-32');
    const mask = length === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - length)) - 1n);
    return { family: 4, network: v4ToBig(addr) & mask, length, text };
  }
  if (isIPv6(addr) && !addr.includes('.')) {
    if (length > 128) throw bad('IPv6 prefix length is 0-128');
    const mask = length === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - length)) - 1n);
    return { family: 6, network: v6ToBig(addr) & mask, length, text };
  }
  throw bad(`'${addr}' is not an IPv4 or IPv6 address`);
}

/** The address of host number `host` in the prefix (IPv6: the digits of `host` read as hex). */
export function hostAddress(p: Prefix, host: number): string {
  const hostBits = BigInt((p.family === 4 ? 32 : 128) - p.length);
  const n = p.family === 4 ? BigInt(host) : BigInt(parseInt(String(host), 16));
  if (host < 1 || n >= (1n << hostBits) - (p.family === 4 ? 1n : 0n)) {
    throw new Error(`host ${host} does not fit in ${p.text}: use a host number between 1 and the prefix's size`);
  }
  return p.family === 4 ? bigToV4(p.network + n) : bigToV6(p.network + n);
}

export function prefixText(p: Prefix): string {
  return `${p.family === 4 ? bigToV4(p.network) : bigToV6(p.network)}/${p.length}`;
}

/** True when `addr` lies in the prefix. */
export function contains(p: Prefix, addr: string): boolean {
  const fam = isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : 0;
  if (fam !== p.family) return false;
  const bits = p.family === 4 ? 32 : 128;
  const a = p.family === 4 ? v4ToBig(addr) : v6ToBig(addr);
  return a >> BigInt(bits - p.length) === p.network >> BigInt(bits - p.length);
}

export function familyOf(addr: string): 4 | 6 {
  if (isIPv4(addr)) return 4;
  if (isIPv6(addr)) return 6;
  throw new Error(`'${addr}' is not an IPv4 or IPv6 address`);
}
