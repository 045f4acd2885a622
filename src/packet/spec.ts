// What the builder takes: short, declarative descriptions of test packets. Everything not given
// gets a sensible default; lengths, protocol numbers and checksums are filled in correctly unless
// a field forces a wrong value (for negative tests).

/**
 * How to fill a checksum field:
 * - omitted: the correct value;
 * - a number: exactly that value;
 * - 'bad': the correct value with its lowest bit flipped (never accidentally valid);
 * - 'zero': 0 (for UDP over IPv4 this means "no checksum");
 * - 'partial': the folded pseudo-header sum a CHECKSUM_PARTIAL sender leaves (TCP/UDP/ICMPv6).
 */
export type ChecksumSpec = number | 'bad' | 'zero' | 'partial';

/** Payload bytes; a string is UTF-8; a number N gives N bytes 0x00, 0x01, ... (mod 256). */
export type PayloadSpec = Uint8Array | string | number;

export interface EthSpec {
  /** Default 02:00:00:00:00:01. */
  src?: string;
  /** Default 02:00:00:00:00:02. */
  dst?: string;
  /** EtherType after the VLAN tags; default from the IP version. Needed when there is no `ip`. */
  type?: number;
}

export interface VlanSpec {
  id: number;
  pcp?: number;
  dei?: boolean;
  /** 0x8100 (802.1Q, default) or 0x88a8 (802.1ad outer tag of a QinQ pair). */
  tpid?: number;
}

/** An IPv4 option: type 0 (EOL) and 1 (NOP) are one byte; others get type, length, data. */
export interface IpOptionSpec {
  type: number;
  data?: Uint8Array;
}

export type Ipv6ExtensionSpec =
  | { type: 'hop-by-hop' | 'dest-opts'; /** option TLVs; padded to a multiple of 8 with PadN */ options?: Uint8Array }
  | { type: 'routing'; routingType?: number; segmentsLeft?: number; /** type-specific data after the first 4 bytes */ data?: Uint8Array }
  | { type: 'fragment'; offset?: number; more?: boolean; id?: number };

/**
 * One IP header. The family comes from the address strings ("198.18.0.1" or "fd00::1");
 * IPv4-only fields with IPv6 addresses (or the reverse) are an error.
 */
export interface IpSpec {
  src: string;
  dst: string;
  /** TTL (IPv4) or hop limit (IPv6); default 64. */
  ttl?: number;
  /** IPv4 TOS / IPv6 traffic class (DSCP << 2 | ECN); default 0. */
  tos?: number;
  // IPv4 only
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (must be a multiple of 8). */
  fragOffset?: number;
  options?: IpOptionSpec[] | Uint8Array;
  /** Force the header-length field (32-bit words) instead of the real one. */
  ihl?: number;
  /** Force the total-length field. */
  totalLength?: number;
  checksum?: number | 'bad' | 'zero';
  // IPv6 only
  flowLabel?: number;
  extensions?: Ipv6ExtensionSpec[];
  /** Force the payload-length field. */
  payloadLength?: number;
  // both
  /** Force the protocol / last next-header value (default from the L4 layer; without one, 59 "no next header" for IPv6, 255 for IPv4). */
  protocol?: number;
}

export type TcpOption =
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sack-permitted' }
  | { kind: 'sack'; blocks: Array<[number, number]> }
  | { kind: 'timestamp'; value: number; echo: number }
  | { kind: 'nop' }
  | { kind: 'eol' }
  | { kind: 'raw'; type: number; data: Uint8Array };

export interface TcpSpec {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** Letters F S R P A U E C (tcpdump's '.' also means ACK), e.g. 'S', 'SA', 'PA', 'FA', 'R'; or the raw flag byte. Default 'S'. */
  flags?: string | number;
  /** Default 65535. */
  window?: number;
  urgent?: number;
  /** Encoded in order, then padded to a 4-byte boundary with EOL (0) bytes. */
  options?: TcpOption[] | Uint8Array;
  /** Force the data-offset field (32-bit words). */
  dataOffset?: number;
  checksum?: ChecksumSpec;
}

export interface UdpSpec {
  sport: number;
  dport: number;
  /** Force the length field. */
  length?: number;
  checksum?: ChecksumSpec;
}

/** A quoted packet inside an ICMP error: a packet spec or raw bytes, cut to `quoteLength`. */
export interface IcmpInner {
  inner?: IpPacketSpec | Uint8Array;
  /** Bytes of the inner packet to quote; default as much as RFC 1812 / RFC 4443 allow (548 / 1232). */
  quoteLength?: number;
}

export type IcmpSpec =
  | { type: 'echo-request' | 'echo-reply'; id?: number; seq?: number; checksum?: ChecksumSpec }
  | ({
      type: 'dest-unreachable';
      code?: number | DestUnreachableCode;
      /** IPv4 frag-needed next-hop MTU */ mtu?: number;
      checksum?: ChecksumSpec;
    } & IcmpInner)
  | ({ type: 'packet-too-big'; mtu: number; checksum?: ChecksumSpec } & IcmpInner)
  | ({ type: 'time-exceeded'; code?: number; checksum?: ChecksumSpec } & IcmpInner)
  | ({ type: number; code?: number; /** the 4 bytes after the checksum */ rest?: Uint8Array; checksum?: ChecksumSpec } & IcmpInner);

/** IPv4: net host protocol port frag-needed admin; IPv6: no-route admin address port. */
export type DestUnreachableCode = 'net' | 'host' | 'protocol' | 'port' | 'frag-needed' | 'admin' | 'no-route' | 'address';

/** An IP packet (no link layer). At most one of tcp/udp/icmp. */
export interface IpPacketSpec {
  ip: IpSpec;
  tcp?: TcpSpec;
  udp?: UdpSpec;
  /** ICMP over IPv4, ICMPv6 over IPv6. */
  icmp?: IcmpSpec;
  payload?: PayloadSpec;
}

/** An Ethernet frame; without `ip`, `eth.type` and `payload` give a non-IP frame (e.g. ARP). */
export interface FrameSpec {
  eth?: EthSpec;
  /** Outer tag first. Numbers are VLAN ids with default PCP/TPID. */
  vlan?: number | VlanSpec | Array<number | VlanSpec>;
  ip?: IpSpec;
  tcp?: TcpSpec;
  udp?: UdpSpec;
  icmp?: IcmpSpec;
  payload?: PayloadSpec;
  /** Zero-pad the frame to at least this many bytes (60 = Ethernet minimum without FCS). */
  padTo?: number;
}
