// TCP flags and options: encode for the builder, decode (never throwing) for the decoder.

import type { TcpOption } from './spec.ts';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

const LETTER_BITS: Record<string, number> = {
  F: TCP_FIN,
  S: TCP_SYN,
  R: TCP_RST,
  P: TCP_PSH,
  A: TCP_ACK,
  '.': TCP_ACK,
  U: TCP_URG,
  E: TCP_ECE,
  C: TCP_CWR,
  W: TCP_CWR,
};

/** 'SA' -> SYN|ACK. Letters F S R P A(or .) U E C(or W), any order. */
export function parseTcpFlags(flags: string | number): number {
  if (typeof flags === 'number') {
    if (!Number.isInteger(flags) || flags < 0 || flags > 0xff)
      throw new Error(`bad TCP flags ${flags}: give a byte 0-255 or letters like 'SA'`);
    return flags;
  }
  let bits = 0;
  for (const ch of flags.toUpperCase()) {
    const bit = LETTER_BITS[ch];
    if (bit === undefined) throw new Error(`bad TCP flag letter '${ch}' in '${flags}': use F S R P A U E C (e.g. 'SA' for SYN+ACK)`);
    bits |= bit;
  }
  return bits;
}

const TCPDUMP_ORDER: Array<[number, string]> = [
  [TCP_FIN, 'F'],
  [TCP_SYN, 'S'],
  [TCP_RST, 'R'],
  [TCP_PSH, 'P'],
  [TCP_ACK, '.'],
  [TCP_URG, 'U'],
  [TCP_ECE, 'E'],
  [TCP_CWR, 'W'],
];

/** tcpdump's notation: SYN|ACK -> 'S.', FIN|PSH|ACK -> 'FP.', nothing -> 'none'. */
export function formatTcpFlags(bits: number): string {
  let s = '';
  for (const [bit, ch] of TCPDUMP_ORDER) if ((bits & bit) !== 0) s += ch;
  return s === '' ? 'none' : s;
}

function optionLength(o: TcpOption): number {
  switch (o.kind) {
    case 'mss':
      return 4;
    case 'wscale':
      return 3;
    case 'sack-permitted':
      return 2;
    case 'sack':
      return 2 + 8 * o.blocks.length;
    case 'timestamp':
      return 10;
    case 'nop':
    case 'eol':
      return 1;
    case 'raw':
      return 2 + o.data.length;
  }
}

/** Encoded length of the options, padded to a multiple of 4. */
export function tcpOptionsLength(options: TcpOption[] | Uint8Array): number {
  const n = options instanceof Uint8Array ? options.length : options.reduce((a, o) => a + optionLength(o), 0);
  return (n + 3) & ~3;
}

/** Writes the options at b[off] (padding with EOL up to a 4-byte boundary); returns the bytes written. */
export function writeTcpOptions(b: Uint8Array, off: number, options: TcpOption[] | Uint8Array): number {
  const start = off;
  if (options instanceof Uint8Array) {
    b.set(options, off);
    off += options.length;
  } else {
    for (const o of options) {
      switch (o.kind) {
        case 'mss':
          b[off] = 2;
          b[off + 1] = 4;
          b[off + 2] = (o.value >> 8) & 0xff;
          b[off + 3] = o.value & 0xff;
          break;
        case 'wscale':
          b[off] = 3;
          b[off + 1] = 3;
          b[off + 2] = o.shift;
          break;
        case 'sack-permitted':
          b[off] = 4;
          b[off + 1] = 2;
          break;
        case 'sack':
          b[off] = 5;
          b[off + 1] = 2 + 8 * o.blocks.length;
          o.blocks.forEach(([l, r], i) => {
            writeU32(b, off + 2 + 8 * i, l);
            writeU32(b, off + 6 + 8 * i, r);
          });
          break;
        case 'timestamp':
          b[off] = 8;
          b[off + 1] = 10;
          writeU32(b, off + 2, o.value);
          writeU32(b, off + 6, o.echo);
          break;
        case 'nop':
          b[off] = 1;
          break;
        case 'eol':
          b[off] = 0;
          break;
        case 'raw':
          if (o.data.length > 38)
            throw new Error(`TCP raw option ${o.type}: ${o.data.length} data bytes do not fit the 40-byte option space`);
          b[off] = o.type;
          b[off + 1] = 2 + o.data.length;
          b.set(o.data, off + 2);
          break;
      }
      off += optionLength(o);
    }
  }
  while ((off - start) % 4 !== 0) b[off++] = 0;
  return off - start;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export interface TcpOptionsResult {
  options: TcpOption[];
  /** Set when an option's length is malformed; options before it are returned. */
  error?: { offset: number; reason: string };
}

/**
 * Decodes b[start, end). Stops at EOL (not recorded). A known option with an unusual length is
 * returned as { kind: 'raw' } (the kernel ignores those too); a length < 2 or past the header
 * end is an error.
 */
export function readTcpOptions(b: Uint8Array, start: number, end: number): TcpOptionsResult {
  const options: TcpOption[] = [];
  let off = start;
  while (off < end) {
    const kind = b[off]!;
    if (kind === 0) break;
    if (kind === 1) {
      options.push({ kind: 'nop' });
      off++;
      continue;
    }
    if (off + 1 >= end) return { options, error: { offset: off, reason: `option ${kind} at the end of the header has no length byte` } };
    const len = b[off + 1]!;
    if (len < 2) return { options, error: { offset: off + 1, reason: `option ${kind} length ${len} < 2` } };
    if (off + len > end) {
      return {
        options,
        error: { offset: off + 1, reason: `option ${kind} length ${len} runs past the header end (${end - off} bytes left)` },
      };
    }
    if (kind === 2 && len === 4) options.push({ kind: 'mss', value: (b[off + 2]! << 8) | b[off + 3]! });
    else if (kind === 3 && len === 3) options.push({ kind: 'wscale', shift: b[off + 2]! });
    else if (kind === 4 && len === 2) options.push({ kind: 'sack-permitted' });
    else if (kind === 5 && len >= 10 && (len - 2) % 8 === 0) {
      const blocks: Array<[number, number]> = [];
      for (let p = off + 2; p < off + len; p += 8) blocks.push([readU32(b, p), readU32(b, p + 4)]);
      options.push({ kind: 'sack', blocks });
    } else if (kind === 8 && len === 10) options.push({ kind: 'timestamp', value: readU32(b, off + 2), echo: readU32(b, off + 6) });
    else options.push({ kind: 'raw', type: kind, data: new Uint8Array(b.subarray(off + 2, off + len)) });
    off += len;
  }
  return { options };
}

/** tcpdump-like text: "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7". */
export function formatTcpOptions(options: TcpOption[]): string {
  return options
    .map((o) => {
      switch (o.kind) {
        case 'mss':
          return `mss ${o.value}`;
        case 'wscale':
          return `wscale ${o.shift}`;
        case 'sack-permitted':
          return 'sackOK';
        case 'sack':
          return `sack ${o.blocks.length} ${o.blocks.map(([l, r]) => `{${l}:${r}}`).join('')}`;
        case 'timestamp':
          return `TS val ${o.value} ecr ${o.echo}`;
        case 'nop':
          return 'nop';
        case 'eol':
          return 'eol';
        case 'raw':
          return `opt-${o.type}:${Buffer.from(o.data).toString('hex')}`;
      }
    })
    .join(',');
}
