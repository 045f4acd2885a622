// One-line text for a decoded frame, in the spirit of tcpdump, for logs and assertion messages:
//   vlan 10 IP 198.18.0.1.40000 > 198.18.1.1.80: tcp [S] seq 1 win 65535 [mss 1460] len 0
// Checksums are mentioned only when not ok; a decode error ends the line with "!! layer@offset: reason".

import type { ChecksumCheck, DecodedFrame } from './decoded.ts';
import { formatTcpOptions } from './tcp.ts';

export interface DescribeOptions {
  /** Prefix Ethernet addresses ("02:00:00:00:00:01 > 02:00:00:00:00:02, "). */
  link?: boolean;
}

function hex16(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

function checksumNote(name: string, c: ChecksumCheck): string {
  // 'unverifiable' goes with "(truncated)" or "frag", which the line already shows.
  if (c.verdict === 'ok' || c.verdict === 'unverifiable') return '';
  if (c.verdict === 'bad') return ` ${name}-cksum bad ${hex16(c.value)}${c.expected !== undefined ? ` (want ${hex16(c.expected)})` : ''}`;
  return ` ${name}-cksum ${c.verdict}`;
}

export function describe(frame: DecodedFrame, options: DescribeOptions = {}): string {
  let s = '';
  if (options.link === true && frame.eth !== undefined) s += `${frame.eth.src} > ${frame.eth.dst}, `;
  if (frame.cooked !== undefined) s += `${frame.cooked.kind}${frame.cooked.ifindex !== undefined ? ` if${frame.cooked.ifindex}` : ''} `;
  for (const v of frame.vlans) s += `vlan ${v.id}${v.pcp !== 0 ? ` p${v.pcp}` : ''} `;
  const ip = frame.ip;
  if (ip === undefined) {
    if (frame.etherType !== undefined && frame.error === undefined)
      s += `ethertype ${hex16(frame.etherType)} len ${frame.payload?.length ?? 0}`;
    else s += `${frame.length} bytes`;
  } else {
    const l4 = frame.l4;
    const ports = l4 !== undefined && (l4.proto === 'tcp' || l4.proto === 'udp') ? l4 : undefined;
    const src = ports !== undefined ? `${ip.src}.${ports.sport}` : ip.src;
    const dst = ports !== undefined ? `${ip.dst}.${ports.dport}` : ip.dst;
    s += `${ip.version === 4 ? 'IP' : 'IP6'} ${src} > ${dst}:`;
    if (ip.version === 4) {
      s += checksumNote('ip', ip.checksum);
      if (ip.mf || ip.fragOffset > 0) s += ` frag id ${ip.id} off ${ip.fragOffset}${ip.mf ? '+' : ''}`;
      if (ip.options.length > 0) s += ` ipopts [${ip.options.map((o) => o.name).join(',')}]`;
    } else {
      if (ip.extensions.length > 0) s += ` ext [${ip.extensions.map((e) => e.name).join(',')}]`;
      if (ip.fragment !== undefined) s += ` frag id ${ip.fragment.id} off ${ip.fragment.offset}${ip.fragment.more ? '+' : ''}`;
    }
    const len = frame.payload?.length ?? 0;
    if (l4 === undefined) {
      if (frame.error === undefined) s += ` proto ${ip.protocol} len ${len}`;
    } else if (l4.proto === 'tcp' && l4.offset + 20 > frame.length) {
      // A header cut short (ICMP quote, snaplen): only ports and seq are known for sure.
      s += ` tcp (header cut at ${frame.length - l4.offset} bytes) seq ${l4.seq}`;
    } else if (l4.proto === 'tcp') {
      s += ` tcp [${l4.flagString}] seq ${l4.seq}`;
      if ((l4.flags & 0x10) !== 0) s += ` ack ${l4.ack}`;
      s += ` win ${l4.window}`;
      if (l4.options.length > 0) s += ` [${formatTcpOptions(l4.options)}]`;
      s += ` len ${len}${checksumNote('tcp', l4.checksum)}`;
    } else if (l4.proto === 'udp') {
      s += ` udp len ${len}${checksumNote('udp', l4.checksum)}`;
    } else {
      s += ` ${l4.proto} ${l4.typeName}`;
      if (l4.typeName !== 'echo-request' && l4.typeName !== 'echo-reply') s += ` code ${l4.code}`;
      if (l4.id !== undefined) s += ` id ${l4.id} seq ${l4.seq ?? 0}`;
      if (l4.mtu !== undefined) s += ` mtu ${l4.mtu}`;
      s += checksumNote(l4.proto, l4.checksum);
      if (l4.inner !== undefined) s += ` {${describe(l4.inner)}}`;
      else s += ` len ${len}`;
    }
  }
  if (frame.truncated === true) s += ' (truncated)';
  if (frame.error !== undefined) s += ` !! ${frame.error.layer}@${frame.error.offset}: ${frame.error.reason}`;
  return s;
}
