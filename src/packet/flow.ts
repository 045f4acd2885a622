// The 5-tuple of a decoded packet, with the datapath's conventions (bpf/include/xlb_maps.h,
// struct xlb_ct_key): ICMP echo request -> sport = identifier, dport = 0; echo reply -> sport = 0,
// dport = identifier, so the reverse of a request's key is its reply's key.

import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from './constants.ts';
import type { DecodedFrame } from './decoded.ts';

export type FlowProto = 'tcp' | 'udp' | 'icmp' | 'icmp6' | 'other';

export interface FlowKey {
  family: 4 | 6;
  /** IP protocol number (6, 17, 1, 58, …). */
  protocol: number;
  proto: FlowProto;
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

const PROTO_NAMES: Record<number, FlowProto> = {
  [IPPROTO_TCP]: 'tcp',
  [IPPROTO_UDP]: 'udp',
  [IPPROTO_ICMP]: 'icmp',
  [IPPROTO_ICMPV6]: 'icmp6',
};

/**
 * The flow of a decoded packet, or undefined without an IP header. Ports are 0 when the
 * transport header is absent (non-first fragment, truncated, unknown protocol, ICMP other than
 * echo). For an ICMP error, the flow is the error packet's own; see `relatedFlowOf` for the
 * quoted one.
 */
export function flowOf(frame: DecodedFrame): FlowKey | undefined {
  const ip = frame.ip;
  if (ip === undefined) return undefined;
  const key: FlowKey = {
    family: ip.version,
    protocol: ip.protocol,
    proto: PROTO_NAMES[ip.protocol] ?? 'other',
    src: ip.src,
    dst: ip.dst,
    sport: 0,
    dport: 0,
  };
  const l4 = frame.l4;
  if (l4 === undefined) return key;
  if (l4.proto === 'tcp' || l4.proto === 'udp') {
    key.sport = l4.sport;
    key.dport = l4.dport;
  } else if (l4.id !== undefined) {
    if (l4.typeName === 'echo-request') key.sport = l4.id;
    else key.dport = l4.id;
  }
  return key;
}

/** The flow quoted inside an ICMP error (as the offending packet had it), if any. */
export function relatedFlowOf(frame: DecodedFrame): FlowKey | undefined {
  const inner = frame.icmp?.inner;
  return inner === undefined ? undefined : flowOf(inner);
}

/** The key of the other direction. */
export function reverseFlow(k: FlowKey): FlowKey {
  return { ...k, src: k.dst, dst: k.src, sport: k.dport, dport: k.sport };
}

/** "tcp 198.18.0.1:40000 > 198.18.1.1:80", "udp [fd00::1]:53 > [fd00::2]:5353". */
export function flowKeyString(k: FlowKey): string {
  const host = (a: string): string => (k.family === 6 ? `[${a}]` : a);
  const proto = k.proto === 'other' ? `proto-${k.protocol}` : k.proto;
  return `${proto} ${host(k.src)}:${k.sport} > ${host(k.dst)}:${k.dport}`;
}

export function sameFlow(a: FlowKey, b: FlowKey): boolean {
  return (
    a.family === b.family && a.protocol === b.protocol && a.src === b.src && a.dst === b.dst && a.sport === b.sport && a.dport === b.dport
  );
}
