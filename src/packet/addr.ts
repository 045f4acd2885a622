// Address text <-> bytes for MAC, IPv4 and IPv6. Parsing is for trusted test input and throws a
// clear error; formatting never throws (it is used by the decoder on untrusted bytes).

export type IpFamily = 4 | 6;

const HEX = '0123456789abcdef';

/** "02:00:00:00:00:01" (or with '-') -> 6 bytes. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`bad MAC address '${text}': write six hex bytes separated by ':' (e.g. 02:00:00:00:00:01)`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function formatMac(b: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    const v = b[off + i] ?? 0;
    s += (i > 0 ? ':' : '') + HEX[v >> 4] + HEX[v & 15];
  }
  return s;
}

/** "198.18.0.1" -> 4 bytes. */
export function parseIpv4(text: string): Uint8Array {
  const parts = text.split('.');
  const out = new Uint8Array(4);
  if (parts.length !== 4) throw new Error(`bad IPv4 address '${text}': write four decimal octets (e.g. 198.18.0.1)`);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? '';
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) {
      throw new Error(`bad IPv4 address '${text}': octet '${p}' is not a number 0-255`);
    }
    out[i] = Number(p);
  }
  return out;
}

export function formatIpv4(b: Uint8Array, off = 0): string {
  return `${b[off] ?? 0}.${b[off + 1] ?? 0}.${b[off + 2] ?? 0}.${b[off + 3] ?? 0}`;
}

/** "fd00::1", "fd00:0:0::198.18.0.1" -> 16 bytes. */
export function parseIpv6(text: string): Uint8Array {
  const bad = (why: string): Error => new Error(`bad IPv6 address '${text}': ${why} (write e.g. fd00::1)`);
  let s = text;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    // Embedded IPv4 in the last 32 bits ("::ffff:198.18.0.1").
    const v4 = parseIpv4(s.slice(lastColon + 1));
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) throw bad("'::' appears more than once");
  const words = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').map((w) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw bad(`group '${w}' is not 1-4 hex digits`);
      return parseInt(w, 16);
    });
  };
  const head = words(halves[0] ?? '');
  const rest = halves.length === 2 ? words(halves[1] ?? '') : [];
  const total = head.length + rest.length + tail.length;
  let all: number[];
  if (halves.length === 2) {
    if (total > 7) throw bad('too many groups around ::');
    all = [...head, ...new Array<number>(8 - total).fill(0), ...rest, ...tail];
  } else {
    if (total !== 8) throw bad(`${total} groups instead of 8`);
    all = [...head, ...tail];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >> 8;
    out[2 * i + 1] = all[i]! & 0xff;
  }
  return out;
}

/** RFC 5952 text: lower case, longest run (>= 2) of zero groups as '::'. */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(((b[off + 2 * i] ?? 0) << 8) | (b[off + 2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += w[i]!.toString(16);
    if (i < 7) out += ':';
  }
  return out;
}

/** Which family an address string belongs to (by the presence of ':'). */
export function familyOf(text: string): IpFamily {
  return text.includes(':') ? 6 : 4;
}

/** IPv4 or IPv6 text -> 4 or 16 bytes. */
export function parseIp(text: string): Uint8Array {
  return familyOf(text) === 6 ? parseIpv6(text) : parseIpv4(text);
}

/**
 * Memoized parse for hot paths (the builder): returns a shared array that callers must not
 * modify. The cache is cleared when it reaches `limit` entries, so it stays bounded.
 */
function memo(parse: (text: string) => Uint8Array, limit = 8192): (text: string) => Uint8Array {
  const cache = new Map<string, Uint8Array>();
  return (text) => {
    let v = cache.get(text);
    if (v === undefined) {
      v = parse(text);
      if (cache.size >= limit) cache.clear();
      cache.set(text, v);
    }
    return v;
  };
}

export const parseMacShared = memo(parseMac);
export const parseIpv4Shared = memo(parseIpv4);
export const parseIpv6Shared = memo(parseIpv6);
