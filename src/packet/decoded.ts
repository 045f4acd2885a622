// What the decoder returns. Every header records the byte offset it starts at (from the start
// of the decoded buffer) so assertions and error messages can point at bytes.

import type { TcpOption } from './spec.ts';

/** How the bytes start: Ethernet, raw IP (no link header), Linux cooked v1/v2 (tcpdump -i any). */
export type LinkType = 'ethernet' | 'raw-ip' | 'sll' | 'sll2';

export type LayerName = 'ip' | 'ethernet' | 'vlan' | 'sll' | 'sll2' | 'ipv4' | 'ipv6' | 'ipv6-ext' | 'tcp' | 'udp' | 'icmp' | 'icmp6';

/** Where and why decoding stopped. Everything before `offset` is in the result. */
export interface DecodeError {
  layer: LayerName;
  /** Byte offset of the problem (the field, or the end of the bytes for truncation). */
  offset: number;
  reason: string;
}

/**
 * - ok: the checksum verifies.
 * - bad: it does not (see `expected`).
 * - zero: UDP over IPv4 with checksum 0, i.e. "no checksum" (legal).
 * - partial: the field holds the folded pseudo-header sum, i.e. the packet was captured before
 *   checksum offload (CHECKSUM_PARTIAL) filled it in: a sending-side capture on veth/NIC with tx
 *   checksumming on. Not an error of the sender; the bytes on the wire after offload are fine.
 * - unverifiable: the covered bytes are not all present (snaplen cut, quoted ICMP inner packet,
 *   or a fragment), so no verdict.
 */
export type ChecksumVerdict = 'ok' | 'bad' | 'zero' | 'partial' | 'unverifiable';

export interface ChecksumCheck {
  /** The field as found. */
  value: number;
  /** The correct value, when it can be computed. */
  expected?: number;
  verdict: ChecksumVerdict;
}

export interface EthernetHeader {
  offset: number;
  src: string;
  dst: string;
  /** EtherType/TPID right after the addresses. */
  type: number;
}

export interface VlanTag {
  offset: number;
  tpid: number;
  pcp: number;
  dei: boolean;
  id: number;
  /** The EtherType that follows this tag. */
  type: number;
}

/** Linux cooked capture header (LINKTYPE_LINUX_SLL 113 / LINUX_SLL2 276). */
export interface CookedHeader {
  kind: 'sll' | 'sll2';
  offset: number;
  /** 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us. */
  packetType: number;
  arphrdType: number;
  /** Link-layer address (hex bytes joined by ':'). */
  address: string;
  protocol: number;
  /** SLL2 only. */
  ifindex?: number;
}

export interface Ipv4Option {
  offset: number;
  type: number;
  /** eol, nop, rr, timestamp, lsrr, ssrr, router-alert, … or 'unknown'. */
  name: string;
  data: Uint8Array;
}

export interface Ipv4Header {
  version: 4;
  offset: number;
  /** The header-length field (words); headerLength = ihl * 4. */
  ihl: number;
  headerLength: number;
  tos: number;
  totalLength: number;
  id: number;
  df: boolean;
  mf: boolean;
  /** In bytes. */
  fragOffset: number;
  ttl: number;
  protocol: number;
  checksum: ChecksumCheck;
  src: string;
  dst: string;
  options: Ipv4Option[];
}

export interface Ipv6Extension {
  offset: number;
  /** The header type number: 0 hop-by-hop, 43 routing, 44 fragment, 60 dest-opts, 51 AH. */
  type: number;
  name: 'hop-by-hop' | 'routing' | 'fragment' | 'dest-opts' | 'auth';
  nextHeader: number;
  length: number;
  /** Routing: routing type and segments left. */
  routingType?: number;
  segmentsLeft?: number;
  /** Fragment: offset in bytes, more-fragments flag, identification. */
  fragOffset?: number;
  more?: boolean;
  id?: number;
  /** The bytes after the first two (options, routing data, …). */
  data: Uint8Array;
}

export interface Ipv6Header {
  version: 6;
  offset: number;
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  /** The next-header field of the fixed header. */
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
  extensions: Ipv6Extension[];
  /** Set when a routing header with segments left names another final destination (used in the L4 pseudo-header). */
  finalDst?: string;
  /** The upper-layer protocol after all extension headers (59 = none). */
  protocol: number;
  /** Offset and more-fragments flag if a fragment header was present. */
  fragment?: { offset: number; more: boolean; id: number };
  /** 40 plus all extension headers. */
  headerLength: number;
}

export type IpHeader = Ipv4Header | Ipv6Header;

export interface TcpHeader {
  proto: 'tcp';
  offset: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** The data-offset field (words); headerLength = dataOffset * 4. */
  dataOffset: number;
  headerLength: number;
  /** The flag bits (FIN 0x01 … CWR 0x80). */
  flags: number;
  /** tcpdump style: 'S', 'S.', 'P.', 'F.', 'R', '.' … */
  flagString: string;
  window: number;
  urgent: number;
  checksum: ChecksumCheck;
  options: TcpOption[];
}

export interface UdpHeader {
  proto: 'udp';
  offset: number;
  sport: number;
  dport: number;
  length: number;
  checksum: ChecksumCheck;
}

export interface IcmpHeader {
  /** 'icmp' over IPv4, 'icmp6' over IPv6. */
  proto: 'icmp' | 'icmp6';
  offset: number;
  type: number;
  code: number;
  /** echo-request, echo-reply, dest-unreachable, packet-too-big, time-exceeded, param-problem, redirect, … or 'type N'. */
  typeName: string;
  checksum: ChecksumCheck;
  /** Echo request/reply. */
  id?: number;
  seq?: number;
  /** IPv4 frag-needed next-hop MTU, IPv6 packet-too-big MTU. */
  mtu?: number;
  /** The quoted packet of an error message, decoded as raw IP (normally truncated). */
  inner?: DecodedFrame;
}

export type L4Header = TcpHeader | UdpHeader | IcmpHeader;

export interface DecodedFrame {
  linkType: LinkType;
  /** Bytes given to the decoder. */
  length: number;
  eth?: EthernetHeader;
  cooked?: CookedHeader;
  vlans: VlanTag[];
  /** EtherType of the network layer (after VLAN tags), when there is a link header. */
  etherType?: number;
  ip?: IpHeader;
  l4?: L4Header;
  /** Shortcuts to `l4` by protocol. */
  tcp?: TcpHeader;
  udp?: UdpHeader;
  icmp?: IcmpHeader;
  /** Bytes after the last decoded header, within the IP length (a view, not a copy). */
  payload?: Uint8Array;
  payloadOffset?: number;
  /** Bytes after the IP packet (Ethernet minimum-size padding and such). */
  trailer?: Uint8Array;
  /** True when the bytes end before the lengths say (quoted ICMP inner packet or snaplen cut, decoded with allowTruncation). */
  truncated?: boolean;
  error?: DecodeError;
}
