// Packet expectations, PTF-style: a packet is a flat record of named fields ('ip.src',
// 'tcp.flags', 'udp.checksum', …) decoded by the packet toolkit; an expectation names the fields
// it cares about and every other field is don't-care. An expected packet can also be given whole
// (a FrameSpec built like any packet) with named don't-care fields, as PTF's Mask does. A miss
// is reported with the nearest packets that did arrive, field by field.
import { buildFrame, decodeFrame } from '../packet/index.ts';
import type { DecodedFrame, FrameSpec } from '../packet/index.ts';
import type { CapturedPacket, LinkCapture } from './world.ts';

export type FieldValue = string | number | boolean;
export type Fields = Record<string, FieldValue>;

/** The field names a packet can have (one list: the flattening below and the docs use it). */
export const FIELD_NAMES = [
  'eth.src',
  'eth.dst',
  'eth.type',
  'vlan.ids',
  'ip.version',
  'ip.src',
  'ip.dst',
  'ip.ttl',
  'ip.id',
  'ip.proto',
  'ip.length',
  'ip.checksum',
  'ip.df',
  'ip.options',
  'tcp.sport',
  'tcp.dport',
  'tcp.seq',
  'tcp.ack',
  'tcp.flags',
  'tcp.window',
  'tcp.checksum',
  'tcp.options',
  'udp.sport',
  'udp.dport',
  'udp.length',
  'udp.checksum',
  'icmp.type',
  'icmp.code',
  'icmp.id',
  'icmp.seq',
  'icmp.checksum',
  'icmp.mtu',
  'inner.ip.src',
  'inner.ip.dst',
  'inner.sport',
  'inner.dport',
  'inner.proto',
  'payload',
  'payload.length',
  'checksums',
] as const;

function hex(b: Uint8Array | undefined): string {
  return b === undefined ? '' : Buffer.from(b).toString('hex');
}

/** Flattens a decoded frame into named fields (absent layers have no fields). */
export function fieldsOf(d: DecodedFrame): Fields {
  const f: Fields = {};
  if (d.eth !== undefined) {
    f['eth.src'] = d.eth.src;
    f['eth.dst'] = d.eth.dst;
  }
  if (d.etherType !== undefined) f['eth.type'] = d.etherType;
  if (d.vlans.length > 0) f['vlan.ids'] = d.vlans.map((v) => v.id).join(',');
  const ip = d.ip;
  if (ip !== undefined) {
    f['ip.version'] = ip.version;
    f['ip.src'] = ip.src;
    f['ip.dst'] = ip.dst;
    if (ip.version === 4) {
      f['ip.ttl'] = ip.ttl;
      f['ip.id'] = ip.id;
      f['ip.proto'] = ip.protocol;
      f['ip.length'] = ip.totalLength;
      f['ip.checksum'] = ip.checksum.verdict;
      f['ip.df'] = ip.df;
      f['ip.options'] = ip.options.length;
    } else {
      f['ip.ttl'] = ip.hopLimit;
      // a Fragment header's identification (32 bits) plays the IPv4 one
      if (ip.fragment !== undefined) f['ip.id'] = ip.fragment.id;
      f['ip.proto'] = ip.protocol;
      f['ip.length'] = ip.payloadLength + 40;
    }
  }
  if (d.tcp !== undefined) {
    f['tcp.sport'] = d.tcp.sport;
    f['tcp.dport'] = d.tcp.dport;
    f['tcp.seq'] = d.tcp.seq;
    f['tcp.ack'] = d.tcp.ack;
    f['tcp.flags'] = d.tcp.flagString;
    f['tcp.window'] = d.tcp.window;
    f['tcp.checksum'] = d.tcp.checksum.verdict;
    f['tcp.options'] = d.tcp.options.length;
  }
  if (d.udp !== undefined) {
    f['udp.sport'] = d.udp.sport;
    f['udp.dport'] = d.udp.dport;
    f['udp.length'] = d.udp.length;
    f['udp.checksum'] = d.udp.checksum.verdict;
  }
  if (d.icmp !== undefined) {
    f['icmp.type'] = d.icmp.typeName;
    f['icmp.code'] = d.icmp.code;
    if (d.icmp.id !== undefined) f['icmp.id'] = d.icmp.id;
    if (d.icmp.seq !== undefined) f['icmp.seq'] = d.icmp.seq;
    if (d.icmp.mtu !== undefined) f['icmp.mtu'] = d.icmp.mtu;
    f['icmp.checksum'] = d.icmp.checksum.verdict;
    const inner = d.icmp.inner;
    if (inner?.ip !== undefined) {
      f['inner.ip.src'] = inner.ip.src;
      f['inner.ip.dst'] = inner.ip.dst;
      f['inner.proto'] = inner.l4?.proto ?? 'none';
      if (inner.tcp !== undefined || inner.udp !== undefined) {
        const l4 = inner.tcp ?? inner.udp;
        f['inner.sport'] = l4?.sport ?? 0;
        f['inner.dport'] = l4?.dport ?? 0;
      }
    }
  }
  if (d.payload !== undefined) {
    f.payload = hex(d.payload);
    f['payload.length'] = d.payload.length;
  }
  const bad: string[] = [];
  if (d.ip?.version === 4 && d.ip.checksum.verdict === 'bad') bad.push('ip');
  for (const l of [d.tcp, d.udp, d.icmp]) if (l !== undefined && l.checksum.verdict === 'bad') bad.push(l.proto);
  f.checksums = bad.length === 0 ? 'ok' : `bad:${bad.join(',')}`;
  return f;
}

export function decodeFields(frame: Uint8Array): Fields {
  return fieldsOf(decodeFrame(frame));
}

/** An expected packet: the fields that matter, or a whole frame minus named don't-care fields. */
export type PacketPattern = { fields: Fields } | { frame: FrameSpec; dontCare: string[] };

/** The fields a pattern requires (a whole frame: every field it has, less the don't-cares). */
export function requiredFields(p: PacketPattern): Fields {
  if ('fields' in p) {
    for (const k of Object.keys(p.fields)) {
      if (!(FIELD_NAMES as readonly string[]).includes(k))
        throw new Error(`packet pattern: unknown field '${k}' (fields: ${FIELD_NAMES.join(', ')})`);
    }
    return p.fields;
  }
  const all = decodeFields(buildFrame(p.frame));
  for (const k of p.dontCare) {
    if (!(FIELD_NAMES as readonly string[]).includes(k))
      throw new Error(`packet pattern: unknown don't-care field '${k}' (fields: ${FIELD_NAMES.join(', ')})`);
    delete all[k];
  }
  return all;
}

export interface FieldDiff {
  field: string;
  expected: FieldValue;
  actual: FieldValue | undefined;
}

export function diffFields(want: Fields, got: Fields): FieldDiff[] {
  const out: FieldDiff[] = [];
  for (const [k, v] of Object.entries(want)) if (got[k] !== v) out.push({ field: k, expected: v, actual: got[k] });
  return out;
}

export interface PacketHit {
  link: LinkCapture;
  packet: CapturedPacket;
  fields: Fields;
}

/** Every packet on the given links whose fields include `want`. */
export function findPackets(links: LinkCapture[], want: Fields): PacketHit[] {
  const out: PacketHit[] = [];
  for (const link of links) {
    for (const packet of link.packets) {
      const fields = decodeFields(packet.frame);
      if (diffFields(want, fields).length === 0) out.push({ link, packet, fields });
    }
  }
  return out;
}

/** The packets closest to `want` (fewest differing fields), for a failure message. */
export function nearestPackets(links: LinkCapture[], want: Fields, n = 3): { hit: PacketHit; diff: FieldDiff[] }[] {
  const scored: { hit: PacketHit; diff: FieldDiff[] }[] = [];
  for (const link of links) {
    for (const packet of link.packets) {
      const fields = decodeFields(packet.frame);
      scored.push({ hit: { link, packet, fields }, diff: diffFields(want, fields) });
    }
  }
  return scored.sort((a, b) => a.diff.length - b.diff.length || a.hit.packet.timeMs - b.hit.packet.timeMs).slice(0, n);
}

export function linkName(l: Pick<LinkCapture, 'node' | 'ifname' | 'segment'>): string {
  return `${l.node}/${l.segment}`;
}

/** "expected … on b1/backends; nearest: …" with the differing fields of each near miss. */
export function describeMiss(want: Fields, links: LinkCapture[]): string {
  const lines = [
    `expected: ${Object.entries(want)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')}`,
  ];
  const near = nearestPackets(links, want);
  if (near.length === 0) lines.push('no packet at all was captured there');
  for (const { hit, diff } of near) {
    lines.push(
      `nearest on ${linkName(hit.link)} at ${hit.packet.timeMs.toFixed(1)} ms: ${diff.map((d) => `${d.field} expected ${String(d.expected)}, got ${String(d.actual ?? '(absent)')}`).join('; ')}`,
    );
  }
  return lines.join('\n');
}
