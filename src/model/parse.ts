// Stage 1 of docs/datapath.md ("Parsing"): one Ethernet frame -> the parsed packet, or why it is
// not balanced. The datapath's own rules decide, not the packet toolkit's decoder: the toolkit is
// stricter in places (it rejects bad options, checks checksums) and more lenient in others (it
// walks 16 extension headers), and neither may leak into a verdict.
import { IPPROTO, MAX_L4_OFF, MAX_OFF, zeroKey } from './types.ts';
import type { CtKey } from './types.ts';

export type ParseResult = 'ok' | 'not_ip' | 'malformed' | 'fragment' | 'other';

export const TCPF = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10 } as const;

export interface ParsedPacket {
  /** The tuple as in the packet (ICMP echo: identifier as a port); what parsing reached when it stopped. */
  key: CtKey;
  /** ICMP error: the embedded packet's tuple, as embedded. */
  inner: CtKey;
  l3Off: number;
  l4Off: number;
  /** Frame length (what the byte counters count). */
  len: number;
  /** L4 header + payload, from the IP header. */
  l4Len: number;
  seq: number;
  ack: number;
  /** TCP payload bytes. */
  payload: number;
  win: number;
  tcpFlags: number;
  icmpType: number;
  icmpErr: boolean;
  innerL3Off: number;
  innerL4Off: number;
  vlans: number;
  ttl: number;
  /** An IPv4 / IPv6 fragment of TCP / UDP the slow path may translate (docs/datapath.md "Fragments"): 1 first, 2 later, else 0. */
  frag: 0 | 1 | 2;
  /** Its identification (IPv4: 16 bits, IPv6 Fragment header: 32 bits). */
  fragId: number;
}

export const FRAG_FIRST = 1;
export const FRAG_LATER = 2;

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;

/** ICMP echo: whether the type is an echo at all, and whether a request. */
export function icmpEcho(family: number, type: number): { echo: boolean; request: boolean } {
  if (family === 4) return { echo: type === 8 || type === 0, request: type === 8 };
  return { echo: type === 128 || type === 129, request: type === 128 };
}

function icmpError(family: number, type: number): boolean {
  if (family === 4) return type === 3 || type === 11 || type === 12;
  return type === 1 || type === 2 || type === 3 || type === 4;
}

/**
 * Ports (or the echo identifier) of the L4 header at off; 8 bytes must lie in the frame. A
 * protocol not tracked (not TCP, UDP or the family's ICMP) is 'other' before the length check.
 */
function l4Ports(d: Buffer, off: number, k: CtKey): ParseResult {
  const tracked =
    k.proto === IPPROTO.tcp ||
    k.proto === IPPROTO.udp ||
    (k.proto === IPPROTO.icmp && k.family === 4) ||
    (k.proto === IPPROTO.icmp6 && k.family === 6);
  if (!tracked) return 'other';
  if (off > MAX_OFF || off + 8 > d.length) return 'malformed';
  if (k.proto === IPPROTO.tcp || k.proto === IPPROTO.udp) {
    k.sport = d.readUInt16BE(off);
    k.dport = d.readUInt16BE(off + 2);
    return 'ok';
  }
  if ((k.proto === IPPROTO.icmp && k.family === 4) || (k.proto === IPPROTO.icmp6 && k.family === 6)) {
    const { echo, request } = icmpEcho(k.family, d[off] ?? 0);
    if (!echo) return 'other';
    const id = d.readUInt16BE(off + 4);
    k.sport = request ? id : 0;
    k.dport = request ? 0 : id;
    return 'ok';
  }
  return 'other';
}

/**
 * A fragment ("Fragments"), its protocol, L4 offset and length already in p: a TCP / UDP one
 * with L4 offset <= 200 is marked for the slow path; the first needs its header up to the
 * checksum field in the frame and the L4 length (UDP 8 bytes, TCP 18), a later one nothing.
 */
function fragment(d: Buffer, p: ParsedPacket, later: boolean, id: number): ParseResult {
  const k = p.key;
  if ((k.proto !== IPPROTO.tcp && k.proto !== IPPROTO.udp) || p.l4Off > MAX_L4_OFF) return 'fragment';
  p.fragId = id;
  if (later) {
    p.frag = FRAG_LATER;
    return 'fragment';
  }
  const need = k.proto === IPPROTO.tcp ? 18 : 8;
  if (p.l4Off + need <= d.length && p.l4Len >= need) {
    k.sport = d.readUInt16BE(p.l4Off);
    k.dport = d.readUInt16BE(p.l4Off + 2);
    p.frag = FRAG_FIRST;
  }
  return 'fragment';
}

function parseIp(d: Buffer, off: number, etherType: number, p: ParsedPacket): ParseResult {
  const k = p.key;
  const end = d.length;
  if (etherType === ETH_P_IP) {
    if (off + 20 > end) return 'malformed';
    const b0 = d[off] ?? 0;
    const ihl = b0 & 0x0f;
    if (b0 >> 4 !== 4 || ihl < 5) return 'malformed';
    const hlen = ihl * 4;
    const tot = d.readUInt16BE(off + 2);
    if (tot < hlen || off + hlen > end || off + tot > p.len) return 'malformed';
    k.family = 4;
    k.proto = d[off + 9] ?? 0;
    p.ttl = d[off + 8] ?? 0;
    d.copy(k.saddr, 0, off + 12, off + 16);
    d.copy(k.daddr, 0, off + 16, off + 20);
    p.l4Off = off + hlen;
    p.l4Len = tot - hlen;
    const fo = d.readUInt16BE(off + 6);
    if ((fo & 0x3fff) !== 0) return fragment(d, p, (fo & 0x1fff) !== 0, d.readUInt16BE(off + 4));
    return 'ok';
  }
  if (off + 40 > end || (d[off] ?? 0) >> 4 !== 6) return 'malformed';
  const plen = d.readUInt16BE(off + 4);
  if (off + 40 + plen > p.len) return 'malformed';
  k.family = 6;
  p.ttl = d[off + 7] ?? 0;
  d.copy(k.saddr, 0, off + 8, off + 24);
  d.copy(k.daddr, 0, off + 24, off + 40);
  let nh = d[off + 6] ?? 0;
  let noff = off + 40;
  let used = 0;
  const isExt = (n: number): boolean => n === IPPROTO.hopopts || n === IPPROTO.routing || n === IPPROTO.dstopts;
  for (let i = 0; i < 4; i++) {
    if (nh === IPPROTO.fragment) {
      // a Fragment header ends the walk; beyond offset 192 its L4 offset would be beyond 200
      k.proto = nh;
      if (noff > MAX_L4_OFF - 8) return 'fragment';
      if (noff + 8 > end || used + 8 > plen) return 'malformed';
      k.proto = d[noff] ?? 0;
      p.l4Off = noff + 8;
      p.l4Len = plen - used - 8;
      return fragment(d, p, (d.readUInt16BE(noff + 2) & 0xfff8) !== 0, d.readUInt32BE(noff + 4));
    }
    if (!isExt(nh)) break;
    if (noff > MAX_L4_OFF) return 'other';
    if (noff + 2 > end) return 'malformed';
    const elen = ((d[noff + 1] ?? 0) + 1) * 8;
    used += elen;
    if (used > plen) return 'malformed';
    // a routing header with segments left: a waypoint, not the final destination (whose
    // address the L4 pseudo-header holds): not balanced
    if (nh === IPPROTO.routing) {
      if (noff + 4 > end) return 'malformed';
      if ((d[noff + 3] ?? 0) !== 0) return 'other';
    }
    nh = d[noff] ?? 0;
    noff += elen;
  }
  if (isExt(nh)) return 'other';
  k.proto = nh;
  p.l4Off = noff;
  p.l4Len = plen - used;
  return 'ok';
}

function parseIcmp(d: Buffer, p: ParsedPacket): ParseResult {
  const k = p.key;
  const l4 = p.l4Off;
  if ((k.proto === IPPROTO.icmp) !== (k.family === 4)) return 'other';
  if (l4 + 8 > d.length || p.l4Len < 8) return 'malformed';
  p.icmpType = d[l4] ?? 0;
  if (!icmpError(k.family, p.icmpType)) return l4Ports(d, l4, k);
  const ioff = l4 + 8;
  if (ioff > MAX_L4_OFF) return 'other';
  const inner = p.inner;
  let il4: number;
  if (k.family === 4) {
    const b0 = d[ioff] ?? 0;
    if (ioff + 20 > d.length || b0 >> 4 !== 4 || (b0 & 0x0f) < 5) return 'malformed';
    inner.family = 4;
    inner.proto = d[ioff + 9] ?? 0;
    d.copy(inner.saddr, 0, ioff + 12, ioff + 16);
    d.copy(inner.daddr, 0, ioff + 16, ioff + 20);
    il4 = ioff + (b0 & 0x0f) * 4;
  } else {
    if (ioff + 40 > d.length || (d[ioff] ?? 0) >> 4 !== 6) return 'malformed';
    inner.family = 6;
    inner.proto = d[ioff + 6] ?? 0;
    d.copy(inner.saddr, 0, ioff + 8, ioff + 24);
    d.copy(inner.daddr, 0, ioff + 24, ioff + 40);
    il4 = ioff + 40;
  }
  const rc = l4Ports(d, il4, inner);
  if (rc !== 'ok') return rc;
  p.innerL3Off = ioff;
  p.innerL4Off = il4;
  p.icmpErr = true;
  return 'ok';
}

/** Parses a frame; `p` holds whatever was reached, also when the result is not 'ok'. */
export function parseFrame(d: Buffer): { rc: ParseResult; p: ParsedPacket } {
  const p: ParsedPacket = {
    key: zeroKey(),
    inner: zeroKey(),
    l3Off: 0,
    l4Off: 0,
    len: d.length,
    l4Len: 0,
    seq: 0,
    ack: 0,
    payload: 0,
    win: 0,
    tcpFlags: 0,
    icmpType: 0,
    icmpErr: false,
    innerL3Off: 0,
    innerL4Off: 0,
    vlans: 0,
    ttl: 0,
    frag: 0,
    fragId: 0,
  };
  const done = (rc: ParseResult): { rc: ParseResult; p: ParsedPacket } => ({ rc, p });
  if (d.length < 14) return done('malformed');
  let off = 14;
  let proto = d.readUInt16BE(12);
  for (let i = 0; i < 2; i++) {
    if (proto !== ETH_P_8021Q && proto !== ETH_P_8021AD) break;
    if (off + 4 > d.length) return done('malformed');
    proto = d.readUInt16BE(off + 2);
    off += 4;
    p.vlans++;
  }
  if (proto !== ETH_P_IP && proto !== ETH_P_IPV6) return done('not_ip');
  p.l3Off = off;
  const rc = parseIp(d, off, proto, p);
  if (rc !== 'ok') return done(rc);
  if (p.l4Off > MAX_L4_OFF) return done('other');
  const l4 = p.l4Off;
  const k = p.key;
  if (k.proto === IPPROTO.tcp) {
    if (l4 + 20 > d.length || p.l4Len < 20) return done('malformed');
    const doff = ((d[l4 + 12] ?? 0) >> 4) * 4;
    if (doff < 20 || doff > p.l4Len) return done('malformed');
    k.sport = d.readUInt16BE(l4);
    k.dport = d.readUInt16BE(l4 + 2);
    p.seq = d.readUInt32BE(l4 + 4);
    p.ack = d.readUInt32BE(l4 + 8);
    p.win = d.readUInt16BE(l4 + 14);
    p.tcpFlags = d[l4 + 13] ?? 0;
    p.payload = p.l4Len - doff;
    return done('ok');
  }
  if (k.proto === IPPROTO.udp) {
    if (l4 + 8 > d.length || p.l4Len < 8) return done('malformed');
    const ulen = d.readUInt16BE(l4 + 4);
    if (ulen < 8 || ulen > p.l4Len) return done('malformed');
    k.sport = d.readUInt16BE(l4);
    k.dport = d.readUInt16BE(l4 + 2);
    return done('ok');
  }
  if (k.proto === IPPROTO.icmp || k.proto === IPPROTO.icmp6) return done(parseIcmp(d, p));
  return done('other');
}
