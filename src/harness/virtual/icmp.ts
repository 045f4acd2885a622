// ICMP and ICMPv6 of the virtual hosts: echo replies, and the error messages a Linux host or
// router sends (port unreachable for UDP to a closed port, time exceeded at TTL 1, net/host
// unreachable when a router has no route or no neighbour, fragmentation needed / packet too big).
// Every message is built by the packet toolkit, so its checksums are right; the quote is the
// offending IP packet cut to what RFC 1812 / RFC 4443 allow (the builder's default).
import type { DecodedFrame, IcmpSpec, IpPacketSpec } from '../../packet/index.ts';

export type IcmpError =
  | { kind: 'port-unreachable' }
  | { kind: 'time-exceeded' }
  | { kind: 'net-unreachable' }
  | { kind: 'host-unreachable' }
  | { kind: 'too-big'; mtu: number };

/** The ICMP layer of an error message about `d`, for its family. */
export function errorIcmp(err: IcmpError, family: 4 | 6, quote: Uint8Array): IcmpSpec {
  switch (err.kind) {
    case 'port-unreachable':
      return { type: 'dest-unreachable', code: 'port', inner: quote };
    case 'time-exceeded':
      return { type: 'time-exceeded', code: 0, inner: quote };
    case 'net-unreachable':
      return { type: 'dest-unreachable', code: family === 4 ? 'net' : 'no-route', inner: quote };
    case 'host-unreachable':
      return { type: 'dest-unreachable', code: family === 4 ? 'host' : 'address', inner: quote };
    case 'too-big':
      return family === 4
        ? { type: 'dest-unreachable', code: 'frag-needed', mtu: err.mtu, inner: quote }
        : { type: 'packet-too-big', mtu: err.mtu, inner: quote };
  }
}

/**
 * Whether a host may answer `d` with an ICMP error (RFC 1122 3.2.2, RFC 4443 2.4): never about
 * an ICMP error, a non-first fragment, or a packet to or from a multicast/broadcast address.
 */
export function mayAnswerWithError(d: DecodedFrame): boolean {
  const ip = d.ip;
  if (ip === undefined) return false;
  if (ip.version === 4 && ip.fragOffset !== 0) return false;
  if (ip.version === 6 && ip.fragment !== undefined && ip.fragment.offset !== 0) return false;
  const icmp = d.icmp;
  if (icmp !== undefined && icmp.typeName !== 'echo-request' && icmp.typeName !== 'echo-reply') return false;
  const group = (a: string): boolean =>
    ip.version === 4 ? Number(a.split('.')[0]) >= 224 || a === '255.255.255.255' : a.toLowerCase().startsWith('ff');
  return !group(ip.src) && !group(ip.dst);
}

/** The echo reply to an echo request `d` (addresses swapped, identifier, sequence and data kept). */
export function echoReply(d: DecodedFrame, ttl: number): IpPacketSpec | undefined {
  const ip = d.ip;
  const icmp = d.icmp;
  if (ip === undefined || icmp === undefined || icmp.typeName !== 'echo-request') return undefined;
  const data = Buffer.from(d.payload ?? new Uint8Array(0));
  const out: IpPacketSpec = {
    ip: { src: ip.dst, dst: ip.src, ttl },
    icmp: { type: 'echo-reply', id: icmp.id ?? 0, seq: icmp.seq ?? 0 },
    payload: data,
  };
  return out;
}
