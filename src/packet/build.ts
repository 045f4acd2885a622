// The packet builder: FrameSpec / IpPacketSpec -> bytes, with lengths, protocol numbers and
// checksums filled in (unless forced otherwise for a negative test). Builder input is trusted
// test code, so a spec that cannot be encoded throws an Error that says what to change.

import { familyOf, parseIpv4Shared, parseIpv6Shared, parseMacShared, type IpFamily } from './addr.ts';
import { internetChecksum, partialChecksum, pseudoHeaderSum } from './checksum.ts';
import {
  ETH_P_8021AD,
  ETH_P_8021Q,
  ETH_P_IPV4,
  ETH_P_IPV6,
  ICMP4_MAX_ERROR_LEN,
  ICMP4_TYPES,
  ICMP4_UNREACH_CODES,
  ICMP6_MAX_ERROR_LEN,
  ICMP6_TYPES,
  ICMP6_UNREACH_CODES,
  IPPROTO_DSTOPTS,
  IPPROTO_FRAGMENT,
  IPPROTO_HOPOPTS,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_NONE,
  IPPROTO_ROUTING,
  IPPROTO_TCP,
  IPPROTO_UDP,
} from './constants.ts';
import type {
  ChecksumSpec,
  FrameSpec,
  IcmpSpec,
  IpOptionSpec,
  IpPacketSpec,
  IpSpec,
  Ipv6ExtensionSpec,
  PayloadSpec,
  VlanSpec,
} from './spec.ts';
import { routingFinalDestination } from './ipv6-routing.ts';
import { parseTcpFlags, tcpOptionsLength, writeTcpOptions, writeU32 } from './tcp.ts';

export const DEFAULT_SRC_MAC = '02:00:00:00:00:01';
export const DEFAULT_DST_MAC = '02:00:00:00:00:02';

function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function checkRange(what: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new Error(`${what} ${v} is out of range: give an integer 0-${max}`);
  return v;
}

/** 0x00, 0x01, … 0xff, 0x00, …: the bytes of a numeric payload (shared, read-only by convention). */
const PATTERN = Uint8Array.from({ length: 0xffff }, (_, i) => i & 0xff);

/** The bytes of a payload spec (a numeric payload is a view of a shared pattern: copy before modifying). */
export function payloadBytes(p: PayloadSpec | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  if (typeof p === 'string') return Buffer.from(p, 'utf8');
  if (typeof p === 'number') return PATTERN.subarray(0, checkRange('payload length', p, 0xffff));
  return p;
}

function ipv4OptionBytes(options: IpOptionSpec[] | Uint8Array | undefined): Uint8Array {
  if (options === undefined) return new Uint8Array(0);
  let raw: Uint8Array;
  if (options instanceof Uint8Array) raw = options;
  else {
    const parts: number[] = [];
    for (const o of options) {
      checkRange('IPv4 option type', o.type, 255);
      if (o.type === 0 || o.type === 1) {
        parts.push(o.type);
        continue;
      }
      const data = o.data ?? new Uint8Array(0);
      parts.push(o.type, 2 + data.length, ...data);
    }
    raw = Uint8Array.from(parts);
  }
  const padded = (raw.length + 3) & ~3;
  if (padded > 40) throw new Error(`IPv4 options take ${padded} bytes; at most 40 fit (IHL max 15)`);
  const out = new Uint8Array(padded);
  out.set(raw);
  return out;
}

const EXT_NUMBERS: Record<Ipv6ExtensionSpec['type'], number> = {
  'hop-by-hop': IPPROTO_HOPOPTS,
  routing: IPPROTO_ROUTING,
  fragment: IPPROTO_FRAGMENT,
  'dest-opts': IPPROTO_DSTOPTS,
};

/** Encodes the extension chain; the next-header bytes are patched by the caller. */
function ipv6ExtensionBytes(exts: Ipv6ExtensionSpec[]): Uint8Array[] {
  return exts.map((e) => {
    if (e.type === 'fragment') {
      const b = new Uint8Array(8);
      const off = e.offset ?? 0;
      if (off % 8 !== 0) throw new Error(`IPv6 fragment offset ${off} is not a multiple of 8 bytes`);
      checkRange('IPv6 fragment offset', off, 0xfff8);
      writeU16(b, 2, off | (e.more === true ? 1 : 0));
      writeU32(b, 4, e.id ?? 0);
      return b;
    }
    if (e.type === 'routing') {
      const data = e.data ?? new Uint8Array(4);
      const len = Math.max(8, (4 + data.length + 7) & ~7);
      const b = new Uint8Array(len);
      b[1] = len / 8 - 1;
      b[2] = e.routingType ?? 0;
      b[3] = e.segmentsLeft ?? 0;
      b.set(data, 4);
      return b;
    }
    const opts = e.options ?? new Uint8Array(0);
    const len = (2 + opts.length + 7) & ~7;
    const b = new Uint8Array(len);
    b[1] = len / 8 - 1;
    b.set(opts, 2);
    const pad = len - 2 - opts.length;
    if (pad === 1)
      b[2 + opts.length] = 0; // Pad1
    else if (pad >= 2) {
      b[2 + opts.length] = 1; // PadN
      b[3 + opts.length] = pad - 2;
    }
    return b;
  });
}

function fillChecksum(spec: ChecksumSpec | undefined, correct: number, partial: number | undefined, layer: string): number {
  if (spec === undefined) return correct;
  if (typeof spec === 'number') return checkRange(`${layer} checksum`, spec, 0xffff);
  switch (spec) {
    case 'bad':
      return correct ^ 1;
    case 'zero':
      return 0;
    case 'partial':
      if (partial === undefined) throw new Error(`${layer} checksum 'partial' needs a pseudo-header (TCP, UDP or ICMPv6)`);
      return partial;
  }
}

interface Resolved {
  family: IpFamily;
  src: Uint8Array;
  /** The destination for the L4 pseudo-header (the final one behind a routing header). */
  dst: Uint8Array;
  ipHeader: Uint8Array;
  l4Protocol: number;
  l4Length: number;
  quote?: Uint8Array;
  payload: Uint8Array;
}

const V4_ONLY: Array<keyof IpSpec> = ['id', 'df', 'mf', 'fragOffset', 'options', 'ihl', 'totalLength', 'checksum'];
const V6_ONLY: Array<keyof IpSpec> = ['flowLabel', 'extensions', 'payloadLength'];

function l4Of(spec: IpPacketSpec): 'tcp' | 'udp' | 'icmp' | undefined {
  const present = (['tcp', 'udp', 'icmp'] as const).filter((k) => spec[k] !== undefined);
  if (present.length > 1) throw new Error(`a packet has one transport layer; got ${present.join(' and ')}`);
  return present[0];
}

function icmpTypeCode(icmp: IcmpSpec, family: IpFamily): { type: number; code: number } {
  const types = family === 4 ? ICMP4_TYPES : ICMP6_TYPES;
  if (typeof icmp.type === 'number')
    return { type: checkRange('ICMP type', icmp.type, 255), code: checkRange('ICMP code', icmp.code ?? 0, 255) };
  const type = types[icmp.type];
  if (type === undefined) {
    throw new Error(
      `ICMP type '${icmp.type}' does not exist for IPv${family}${icmp.type === 'packet-too-big' ? ' (IPv4 uses dest-unreachable with code frag-needed)' : ''}`,
    );
  }
  let code = 0;
  if (icmp.type === 'dest-unreachable' && icmp.code !== undefined) {
    if (typeof icmp.code === 'number') code = checkRange('ICMP code', icmp.code, 255);
    else {
      const codes = family === 4 ? ICMP4_UNREACH_CODES : ICMP6_UNREACH_CODES;
      const c = codes[icmp.code];
      if (c === undefined)
        throw new Error(
          `dest-unreachable code '${icmp.code}' does not exist for IPv${family}: use one of ${Object.keys(codes).join(', ')}`,
        );
      code = c;
    }
  } else if (icmp.type === 'time-exceeded') code = checkRange('ICMP code', icmp.code ?? 0, 255);
  return { type, code };
}

function quoteOf(icmp: IcmpSpec, family: IpFamily, ipHeaderLength: number): Uint8Array | undefined {
  if (!('inner' in icmp) || icmp.inner === undefined) return undefined;
  const inner = icmp.inner instanceof Uint8Array ? icmp.inner : buildIpPacket(icmp.inner);
  const max = (family === 4 ? ICMP4_MAX_ERROR_LEN : ICMP6_MAX_ERROR_LEN) - ipHeaderLength - 8;
  const n = Math.min(inner.length, icmp.quoteLength ?? max);
  return inner.subarray(0, n);
}

/** Writes the IP packet described by `spec` at b[off]; `b` must have room for packetLength(spec). */
function writeIpPacket(spec: IpPacketSpec, r: Resolved, b: Uint8Array, off: number): void {
  const ip = spec.ip;
  const hdrLen = r.ipHeader.length;
  b.set(r.ipHeader, off);
  const l4 = off + hdrLen;
  const kind = l4Of(spec);
  let body = l4;
  if (kind === 'tcp' && spec.tcp !== undefined) {
    const t = spec.tcp;
    const optLen = t.options === undefined ? 0 : tcpOptionsLength(t.options);
    if (optLen > 40) throw new Error(`TCP options take ${optLen} bytes; at most 40 fit (data offset max 15)`);
    writeU16(b, l4, checkRange('TCP sport', t.sport, 0xffff));
    writeU16(b, l4 + 2, checkRange('TCP dport', t.dport, 0xffff));
    writeU32(b, l4 + 4, t.seq ?? 0);
    writeU32(b, l4 + 8, t.ack ?? 0);
    const doff = t.dataOffset ?? (20 + optLen) / 4;
    b[l4 + 12] = checkRange('TCP data offset', doff, 15) << 4;
    b[l4 + 13] = parseTcpFlags(t.flags ?? 'S');
    writeU16(b, l4 + 14, checkRange('TCP window', t.window ?? 65535, 0xffff));
    writeU16(b, l4 + 18, checkRange('TCP urgent pointer', t.urgent ?? 0, 0xffff));
    if (t.options !== undefined) writeTcpOptions(b, l4 + 20, t.options);
    body = l4 + 20 + optLen;
  } else if (kind === 'udp' && spec.udp !== undefined) {
    const u = spec.udp;
    writeU16(b, l4, checkRange('UDP sport', u.sport, 0xffff));
    writeU16(b, l4 + 2, checkRange('UDP dport', u.dport, 0xffff));
    writeU16(b, l4 + 4, checkRange('UDP length', u.length ?? r.l4Length, 0xffff));
    body = l4 + 8;
  } else if (kind === 'icmp' && spec.icmp !== undefined) {
    const c = spec.icmp;
    const { type, code } = icmpTypeCode(c, r.family);
    b[l4] = type;
    b[l4 + 1] = code;
    if (c.type === 'echo-request' || c.type === 'echo-reply') {
      writeU16(b, l4 + 4, checkRange('ICMP echo id', c.id ?? 0, 0xffff));
      writeU16(b, l4 + 6, checkRange('ICMP echo seq', c.seq ?? 0, 0xffff));
    } else if (c.type === 'packet-too-big') {
      writeU32(b, l4 + 4, c.mtu);
    } else if (c.type === 'dest-unreachable' && c.mtu !== undefined) {
      if (r.family === 6) throw new Error(`IPv6 reports the MTU with 'packet-too-big', not dest-unreachable`);
      writeU16(b, l4 + 6, checkRange('ICMP next-hop MTU', c.mtu, 0xffff));
    } else if (typeof c.type === 'number' && c.rest !== undefined) {
      if (c.rest.length !== 4) throw new Error(`ICMP 'rest' must be exactly 4 bytes, got ${c.rest.length}`);
      b.set(c.rest, l4 + 4);
    }
    body = l4 + 8;
    if (r.quote !== undefined) {
      b.set(r.quote, body);
      body += r.quote.length;
    }
  }
  b.set(r.payload, body);
  const end = l4 + r.l4Length;

  // Checksums: L4 first (it does not cover the IP header), then the IPv4 header.
  if (kind === 'tcp' || kind === 'udp' || (kind === 'icmp' && r.family === 6)) {
    const pseudo = pseudoHeaderSum(r.src, r.dst, r.l4Protocol, r.l4Length);
    let correct = internetChecksum(b, l4, end, pseudo);
    if (kind === 'udp' && correct === 0) correct = 0xffff; // RFC 768: a computed 0 is sent as all ones
    const field = kind === 'tcp' ? 16 : kind === 'udp' ? 6 : 2;
    const layer = kind === 'icmp' ? 'ICMPv6' : kind.toUpperCase();
    const cs = kind === 'tcp' ? spec.tcp?.checksum : kind === 'udp' ? spec.udp?.checksum : spec.icmp?.checksum;
    writeU16(b, l4 + field, fillChecksum(cs, correct, partialChecksum(r.src, r.dst, r.l4Protocol, r.l4Length), layer));
  } else if (kind === 'icmp') {
    const correct = internetChecksum(b, l4, end);
    writeU16(b, l4 + 2, fillChecksum(spec.icmp?.checksum, correct, undefined, 'ICMP'));
  }
  if (r.family === 4) {
    const correct = internetChecksum(b, off, off + hdrLen);
    writeU16(b, off + 10, fillChecksum(ip.checksum, correct, undefined, 'IPv4 header'));
  }
}

function resolve(spec: IpPacketSpec): Resolved {
  const ip = spec.ip;
  const family = familyOf(ip.src);
  if (familyOf(ip.dst) !== family) throw new Error(`IP src ${ip.src} and dst ${ip.dst} are of different families`);
  const foreign = (family === 4 ? V6_ONLY : V4_ONLY).filter((k) => ip[k] !== undefined);
  if (foreign.length > 0)
    throw new Error(`IP field(s) ${foreign.join(', ')} do not exist in IPv${family} (addresses ${ip.src} > ${ip.dst})`);
  const src = family === 4 ? parseIpv4Shared(ip.src) : parseIpv6Shared(ip.src);
  const dst = family === 4 ? parseIpv4Shared(ip.dst) : parseIpv6Shared(ip.dst);
  const kind = l4Of(spec);
  const l4Protocol =
    ip.protocol ??
    (kind === 'tcp'
      ? IPPROTO_TCP
      : kind === 'udp'
        ? IPPROTO_UDP
        : kind === 'icmp'
          ? family === 4
            ? IPPROTO_ICMP
            : IPPROTO_ICMPV6
          : family === 6
            ? IPPROTO_NONE
            : 0xff);
  const payload = payloadBytes(spec.payload);

  let ipHeader: Uint8Array;
  if (family === 4) {
    const opts = ipv4OptionBytes(ip.options);
    ipHeader = new Uint8Array(20 + opts.length);
    ipHeader.set(opts, 20);
  } else {
    const exts = ipv6ExtensionBytes(ip.extensions ?? []);
    const extLen = exts.reduce((a, e) => a + e.length, 0);
    ipHeader = new Uint8Array(40 + extLen);
    let p = 40;
    exts.forEach((e, i) => {
      ipHeader.set(e, p);
      const nextSpec = ip.extensions?.[i + 1];
      ipHeader[p] = nextSpec !== undefined ? EXT_NUMBERS[nextSpec.type] : l4Protocol;
      p += e.length;
    });
  }
  const quote = kind === 'icmp' && spec.icmp !== undefined ? quoteOf(spec.icmp, family, family === 4 ? ipHeader.length : 40) : undefined;
  if (quote !== undefined && payload.length > 0)
    throw new Error(`an ICMP error carries the quoted 'inner' packet; drop 'payload' or 'inner'`);
  const l4Header =
    kind === 'tcp' ? 20 + (spec.tcp?.options === undefined ? 0 : tcpOptionsLength(spec.tcp.options)) : kind === undefined ? 0 : 8;
  const l4Length = l4Header + (quote?.length ?? 0) + payload.length;

  // Fixed header fields (checksum later).
  const h = ipHeader;
  if (family === 4) {
    const total = 20 + (h.length - 20) + l4Length;
    if (total > 0xffff && ip.totalLength === undefined) throw new Error(`IPv4 packet of ${total} bytes exceeds 65535`);
    h[0] = 0x40 | checkRange('IPv4 IHL', ip.ihl ?? h.length / 4, 15);
    h[1] = checkRange('IPv4 TOS', ip.tos ?? 0, 255);
    writeU16(h, 2, checkRange('IPv4 total length', ip.totalLength ?? total, 0xffff));
    writeU16(h, 4, checkRange('IPv4 id', ip.id ?? 0, 0xffff));
    const frag = ip.fragOffset ?? 0;
    if (frag % 8 !== 0) throw new Error(`IPv4 fragment offset ${frag} is not a multiple of 8 bytes`);
    writeU16(h, 6, (ip.df === true ? 0x4000 : 0) | (ip.mf === true ? 0x2000 : 0) | checkRange('IPv4 fragment offset/8', frag / 8, 0x1fff));
    h[8] = checkRange('IPv4 TTL', ip.ttl ?? 64, 255);
    h[9] = checkRange('IPv4 protocol', l4Protocol, 255);
    h.set(src, 12);
    h.set(dst, 16);
  } else {
    const tc = checkRange('IPv6 traffic class', ip.tos ?? 0, 255);
    const fl = checkRange('IPv6 flow label', ip.flowLabel ?? 0, 0xfffff);
    writeU32(h, 0, ((6 << 28) | (tc << 20) | fl) >>> 0);
    const plen = h.length - 40 + l4Length;
    if (plen > 0xffff && ip.payloadLength === undefined)
      throw new Error(`IPv6 payload of ${plen} bytes exceeds 65535 (jumbograms are not supported)`);
    writeU16(h, 4, checkRange('IPv6 payload length', ip.payloadLength ?? plen, 0xffff));
    const first = ip.extensions?.[0];
    h[6] = first !== undefined ? EXT_NUMBERS[first.type] : checkRange('IPv6 next header', l4Protocol, 255);
    h[7] = checkRange('IPv6 hop limit', ip.ttl ?? 64, 255);
    h.set(src, 8);
    h.set(dst, 24);
  }
  // The L4 pseudo-header uses the final destination of a routing header with segments left.
  let pseudoDst = dst;
  for (const e of ip.extensions ?? []) {
    if (e.type !== 'routing' || e.data === undefined) continue;
    const final = routingFinalDestination(e.routingType ?? 0, e.segmentsLeft ?? 0, e.data.subarray(4));
    if (final !== undefined) pseudoDst = final;
  }
  const r: Resolved = { family, src, dst: pseudoDst, ipHeader, l4Protocol, l4Length, payload };
  if (quote !== undefined) r.quote = quote;
  return r;
}

/** An IP packet without a link header (what LINKTYPE_RAW and ICMP quotes hold). */
export function buildIpPacket(spec: IpPacketSpec): Buffer {
  const r = resolve(spec);
  const b = Buffer.alloc(r.ipHeader.length + r.l4Length);
  writeIpPacket(spec, r, b, 0);
  return b;
}

function vlanList(v: FrameSpec['vlan']): VlanSpec[] {
  if (v === undefined) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.map((x) => (typeof x === 'number' ? { id: x } : x));
}

/**
 * An Ethernet frame (no FCS), e.g.
 * `buildFrame({ ip: { src: '198.18.0.1', dst: '198.18.1.1' }, tcp: { sport: 40000, dport: 80, flags: 'S' } })`.
 * With two VLAN tags and no explicit TPID, the outer one gets 0x88a8 (802.1ad).
 */
export function buildFrame(spec: FrameSpec): Buffer {
  const vlans = vlanList(spec.vlan);
  const r = spec.ip !== undefined ? resolve({ ...spec, ip: spec.ip }) : undefined;
  if (r === undefined && (spec.tcp !== undefined || spec.udp !== undefined || spec.icmp !== undefined)) {
    throw new Error('a TCP/UDP/ICMP layer needs an ip: { src, dst } layer');
  }
  const payload = r === undefined ? payloadBytes(spec.payload) : new Uint8Array(0);
  const l2 = 14 + 4 * vlans.length;
  const l3 = r === undefined ? payload.length : r.ipHeader.length + r.l4Length;
  const b = Buffer.alloc(Math.max(l2 + l3, spec.padTo ?? 0));
  b.set(parseMacShared(spec.eth?.dst ?? DEFAULT_DST_MAC), 0);
  b.set(parseMacShared(spec.eth?.src ?? DEFAULT_SRC_MAC), 6);
  const etherType = spec.eth?.type ?? (r === undefined ? undefined : r.family === 4 ? ETH_P_IPV4 : ETH_P_IPV6);
  if (etherType === undefined) throw new Error('a frame without an ip layer needs eth.type (e.g. 0x0806 for ARP)');
  let off = 12;
  vlans.forEach((v, i) => {
    const tpid = v.tpid ?? (vlans.length > 1 && i === 0 ? ETH_P_8021AD : ETH_P_8021Q);
    writeU16(b, off, checkRange('VLAN TPID', tpid, 0xffff));
    const tci = (checkRange('VLAN PCP', v.pcp ?? 0, 7) << 13) | (v.dei === true ? 0x1000 : 0) | checkRange('VLAN id', v.id, 4095);
    writeU16(b, off + 2, tci);
    off += 4;
  });
  writeU16(b, off, checkRange('EtherType', etherType, 0xffff));
  if (r !== undefined && spec.ip !== undefined) writeIpPacket({ ...spec, ip: spec.ip }, r, b, l2);
  else b.set(payload, l2);
  return b;
}
