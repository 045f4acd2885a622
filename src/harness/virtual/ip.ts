// The IP layer of a virtual node, modelled on what Linux does with the lab's sysctls:
//   - receive: frames not for the interface's MAC (or broadcast/multicast) are dropped, as a NIC
//     does; IPv4 header checksums are checked on every packet, TCP/UDP/ICMP checksums on packets
//     delivered locally (a router does not look at them; the host at the end does). Every drop is
//     counted by reason (`VNode.drops`), so a datapath that breaks a checksum shows up.
//   - local addresses: the interfaces' addresses, plus `localPrefixes` (a DSR backend holds the
//     VIPs on lo).
//   - forwarding (role lb or router, or net.ipv4.ip_forward=1): longest-prefix match over the
//     connected prefixes and the declared routes; TTL / hop limit decremented (IPv4 checksum
//     updated incrementally, RFC 1624), MACs rewritten to the egress interface and the next hop;
//     ICMP time exceeded at TTL 1, net unreachable without a route, fragmentation needed /
//     packet too big when the packet does not fit the egress MTU.
//   - neighbours are static: every node knows every MAC on its segments (no ARP, no ND).
// Not modelled: IP fragments (dropped and counted: no reassembly), VLAN devices (tagged frames
// are dropped and counted), ICMP redirects, IP options processing, rp_filter (the lab turns it
// off anyway), multicast, loopback traffic to oneself.
import { buildFrame, checksumProblems, decodeFrame, parseIp, parseMac, updateChecksum16 } from '../../packet/index.ts';
import type { DecodedFrame, IpPacketSpec } from '../../packet/index.ts';
import { parsePrefix } from '../../topology/addr.ts';
import type { ResolvedNode } from '../../topology/topology.ts';
import type { Rng, VirtualClock } from './clock.ts';
import { echoReply, errorIcmp, mayAnswerWithError } from './icmp.ts';
import type { IcmpError } from './icmp.ts';
import type { VIface } from './link.ts';
import { TcpStack } from './tcp.ts';
import { UdpStack } from './udp.ts';

export interface Route {
  family: 4 | 6;
  net: Uint8Array;
  len: number;
  iface: VIface;
  /** Gateway; undefined for a connected prefix. */
  via: string | undefined;
  text: string;
}

/** True when the first `len` bits of `a` and `net` agree. */
export function prefixMatch(a: Uint8Array, net: Uint8Array, len: number): boolean {
  const whole = len >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== net[i]) return false;
  const rest = len & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole] ?? 0) & mask) === ((net[whole] ?? 0) & mask);
}

function netBytes(text: string): { family: 4 | 6; net: Uint8Array; len: number } {
  const p = parsePrefix(text);
  const [addr = ''] = text.split('/');
  const raw = parseIp(addr);
  // Zero the host bits, so a route written as 198.18.1.5/24 matches like 198.18.1.0/24.
  const net = Uint8Array.from(raw, (b, i) => {
    const bits = Math.min(8, Math.max(0, p.length - 8 * i));
    return b & ((0xff << (8 - bits)) & 0xff);
  });
  return { family: p.family, net, len: p.length };
}

/** Drop reasons of the virtual hosts (VNode.drops keys). */
export type HostDrop =
  | 'other_host'
  | 'vlan'
  | 'not_ip'
  | 'malformed'
  | 'bad_checksum'
  | 'fragment'
  | 'not_local'
  | 'ttl_exceeded'
  | 'no_route'
  | 'no_neighbour'
  | 'too_big'
  | 'no_socket'
  | 'filtered'
  | 'datapath_drop';

/** The decision of an ingress filter (fault injection): keep the frame or drop it. */
export type IngressFilter = (frame: Buffer, iface: VIface) => 'keep' | 'drop';

export interface NodeOptions {
  clock: VirtualClock;
  rng: Rng;
  timeWaitMs: number;
}

export class VNode {
  readonly name: string;
  readonly role: ResolvedNode['role'];
  readonly ifaces: VIface[] = [];
  readonly routes: Route[] = [];
  readonly forwarding: boolean;
  readonly clock: VirtualClock;
  readonly rng: Rng;
  readonly tcp: TcpStack;
  readonly udp: UdpStack;
  /** Frames dropped by this node, per reason. */
  readonly drops = new Map<HostDrop, number>();
  /** Packets this node forwarded. */
  forwarded = 0;
  /** Checked in order on every received frame, before anything else (tests drop the first SYN so). */
  readonly filters: IngressFilter[] = [];
  /**
   * Set on the LB: every received frame goes through it first. It returns the frame for the
   * node's own stack ('pass'), or undefined when it took care of the frame (drop, tx, redirect).
   */
  ingress: ((iface: VIface, frame: Buffer) => Buffer | undefined) | undefined;
  #local = new Set<string>();
  #localPrefixes: { family: 4 | 6; net: Uint8Array; len: number }[] = [];
  #neigh = new Map<string, Uint8Array>();
  #ipId: number;

  constructor(spec: ResolvedNode, opts: NodeOptions) {
    this.name = spec.name;
    this.role = spec.role;
    this.clock = opts.clock;
    this.rng = opts.rng;
    const sys = spec.sysctls;
    this.forwarding = sys['net.ipv4.ip_forward'] === '1' || sys['net.ipv6.conf.all.forwarding'] === '1';
    this.#localPrefixes = spec.localPrefixes.map(netBytes);
    this.#ipId = this.rng.int(0, 0xffff);
    this.tcp = new TcpStack(this, opts.timeWaitMs);
    this.udp = new UdpStack(this);
  }

  /** Adds an interface and its connected routes. Call before `addRoutes`. */
  addIface(iface: VIface): void {
    this.ifaces.push(iface);
    this.#local.add(iface.ipv4);
    const v4 = netBytes(`${iface.ipv4}/${iface.ipv4Len}`);
    this.routes.push({ ...v4, iface, via: undefined, text: `${iface.ipv4}/${iface.ipv4Len} dev ${iface.ifname}` });
    if (iface.ipv6 !== undefined && iface.ipv6Len !== undefined) {
      this.#local.add(iface.ipv6);
      const v6 = netBytes(`${iface.ipv6}/${iface.ipv6Len}`);
      this.routes.push({ ...v6, iface, via: undefined, text: `${iface.ipv6}/${iface.ipv6Len} dev ${iface.ifname}` });
    }
  }

  /** Declared routes: the egress interface is the one whose connected prefix holds the gateway. */
  addRoutes(routes: { to: string; via: string }[]): void {
    for (const r of routes) {
      const gw = parseIp(r.via);
      const conn = this.routes.find((c) => c.via === undefined && c.net.length === gw.length && prefixMatch(gw, c.net, c.len));
      if (conn === undefined) throw new Error(`node ${this.name}: route ${r.to} via ${r.via}: the gateway is on none of its segments`);
      this.routes.push({ ...netBytes(r.to), iface: conn.iface, via: r.via, text: `${r.to} via ${r.via} dev ${conn.iface.ifname}` });
    }
  }

  /** A neighbour's MAC (static: the whole segment is known). */
  addNeighbour(ip: string, mac: string): void {
    this.#neigh.set(ip, parseMac(mac));
  }

  drop(reason: HostDrop): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  isLocal(addr: string): boolean {
    if (this.#local.has(addr)) return true;
    if (this.#localPrefixes.length === 0) return false;
    const b = parseIp(addr);
    return this.#localPrefixes.some((p) => p.net.length === b.length && prefixMatch(b, p.net, p.len));
  }

  /** Route per destination text: routes never change once the node is built. */
  #routeCache = new Map<string, Route | undefined>();

  /** Longest-prefix match; among equal lengths the first one (connected before declared). */
  route(dst: string): Route | undefined {
    if (this.#routeCache.has(dst)) return this.#routeCache.get(dst);
    const r = this.#lookup(parseIp(dst));
    if (this.#routeCache.size > 65536) this.#routeCache.clear();
    this.#routeCache.set(dst, r);
    return r;
  }

  #lookup(b: Uint8Array): Route | undefined {
    let best: Route | undefined;
    for (const r of this.routes) {
      if (r.net.length !== b.length || !prefixMatch(b, r.net, r.len)) continue;
      if (best === undefined || r.len > best.len) best = r;
    }
    return best;
  }

  /** The source address a socket to `dst` gets: the egress interface's address of the family. */
  sourceFor(dst: string): string | undefined {
    const r = this.route(dst);
    if (r === undefined) return undefined;
    return r.family === 4 ? r.iface.ipv4 : r.iface.ipv6;
  }

  /** MSS for a connection to `dst`: the egress MTU minus the IP and TCP headers. */
  mssFor(dst: string): number {
    const r = this.route(dst);
    const mtu = r?.iface.mtu ?? 1500;
    return mtu - (r?.family === 6 ? 60 : 40);
  }

  nextIpId(): number {
    this.#ipId = (this.#ipId + 1) & 0xffff;
    return this.#ipId;
  }

  // ---- receive -------------------------------------------------------------------------------

  /** Everything an interface receives lands here. */
  receive(iface: VIface, frame: Buffer): void {
    for (const f of this.filters) {
      if (f(frame, iface) === 'drop') {
        this.drop('filtered');
        return;
      }
    }
    if (this.ingress !== undefined) {
      const passed = this.ingress(iface, frame);
      if (passed === undefined) return;
      frame = passed;
    }
    this.input(iface, frame);
  }

  /** The node's own stack (what the kernel does with a frame after TC/XDP passed it). */
  input(iface: VIface, frame: Buffer): void {
    const dstMac = frame.subarray(0, 6);
    const group = ((frame[0] ?? 0) & 1) === 1;
    if (!group && !dstMac.equals(iface.macBytes)) {
      this.drop('other_host');
      return;
    }
    const d = decodeFrame(frame);
    if (d.vlans.length > 0) {
      // No VLAN devices on the virtual hosts: Linux drops a tagged frame no VLAN device takes.
      this.drop('vlan');
      return;
    }
    if (d.ip === undefined) {
      this.drop(
        d.error !== undefined && d.etherType !== undefined && (d.etherType === 0x0800 || d.etherType === 0x86dd) ? 'malformed' : 'not_ip',
      );
      return;
    }
    if (d.ip.version === 4 && d.ip.checksum.verdict !== 'ok') {
      this.drop('bad_checksum');
      return;
    }
    if (
      d.error !== undefined &&
      d.error.layer !== 'tcp' &&
      d.error.layer !== 'udp' &&
      d.error.layer !== 'icmp' &&
      d.error.layer !== 'icmp6'
    ) {
      this.drop('malformed');
      return;
    }
    if (this.isLocal(d.ip.dst)) this.#deliver(frame, d);
    // Linux forwards only frames sent to its own MAC (ip_forward drops pkt_type != PACKET_HOST).
    else if (this.forwarding && !group) this.forward(frame, d);
    else this.drop('not_local');
  }

  #deliver(frame: Buffer, d: DecodedFrame): void {
    const ip = d.ip!;
    if ((ip.version === 4 && (ip.mf || ip.fragOffset !== 0)) || (ip.version === 6 && ip.fragment !== undefined)) {
      this.drop('fragment');
      return;
    }
    if (d.error !== undefined) {
      this.drop('malformed');
      return;
    }
    if (checksumProblems(d).length > 0) {
      this.drop('bad_checksum');
      return;
    }
    if (d.tcp !== undefined) this.tcp.input(d);
    else if (d.udp !== undefined) this.udp.input(d, frame);
    else if (d.icmp !== undefined) this.#icmpInput(d);
    else this.drop('no_socket');
  }

  #icmpInput(d: DecodedFrame): void {
    const icmp = d.icmp!;
    if (icmp.typeName === 'echo-request') {
      const reply = echoReply(d, 64);
      if (reply !== undefined) this.sendIp(reply);
      return;
    }
    if (icmp.typeName === 'dest-unreachable' && icmp.inner !== undefined) {
      this.udp.icmpError(icmp.inner, icmp.code);
      this.tcp.icmpError(icmp.inner, icmp.code);
    }
  }

  // ---- forward -------------------------------------------------------------------------------

  /**
   * Forwards a packet by its destination, or by `toward` (the address a FIB lookup was asked
   * about: a DSR endpoint, whose packets keep the VIP as destination).
   */
  forward(frame: Buffer, d: DecodedFrame, toward?: string): void {
    const ip = d.ip!;
    const ttl = ip.version === 4 ? ip.ttl : ip.hopLimit;
    if (ttl <= 1) {
      this.drop('ttl_exceeded');
      this.sendError({ kind: 'time-exceeded' }, d, frame);
      return;
    }
    const target = toward ?? ip.dst;
    const r = this.route(target);
    if (r === undefined) {
      this.drop('no_route');
      this.sendError({ kind: 'net-unreachable' }, d, frame);
      return;
    }
    const hop = r.via ?? target;
    const mac = this.#neigh.get(hop);
    if (mac === undefined) {
      this.drop('no_neighbour');
      this.sendError({ kind: 'host-unreachable' }, d, frame);
      return;
    }
    const ipLen = ip.version === 4 ? ip.totalLength : 40 + ip.payloadLength;
    if (ipLen > r.iface.mtu) {
      this.drop('too_big');
      if (ip.version === 6 || ip.df) this.sendError({ kind: 'too-big', mtu: r.iface.mtu }, d, frame);
      return;
    }
    const out = Buffer.from(frame);
    const o = ip.offset;
    if (ip.version === 4) {
      const old = (out[o + 8]! << 8) | out[o + 9]!;
      out[o + 8] = ttl - 1;
      const now = (out[o + 8]! << 8) | out[o + 9]!;
      out.writeUInt16BE(updateChecksum16(out.readUInt16BE(o + 10), old, now), o + 10);
    } else out[o + 7] = ttl - 1;
    out.set(mac, 0);
    out.set(r.iface.macBytes, 6);
    this.forwarded++;
    r.iface.transmit(out);
  }

  /** The stack's forwarding of a frame toward `toward` instead of its destination (see lb.ts). */
  forwardToward(frame: Buffer, toward: string): void {
    const d = decodeFrame(frame);
    if (d.ip === undefined || (d.ip.version === 4 && d.ip.checksum.verdict !== 'ok')) {
      this.drop(d.ip === undefined ? 'not_ip' : 'bad_checksum');
      return;
    }
    this.forward(frame, d, toward);
  }

  /** Sends a frame by its destination address as it is (a datapath's redirect: it already set TTL and MACs). */
  redirect(frame: Buffer): void {
    const d = decodeFrame(frame);
    if (d.ip === undefined) {
      this.drop('not_ip');
      return;
    }
    const r = this.route(d.ip.dst);
    if (r === undefined) {
      this.drop('no_route');
      return;
    }
    r.iface.transmit(frame);
  }

  // ---- send ----------------------------------------------------------------------------------

  /**
   * Sends an IP packet this node originates: route, source MAC of the egress interface, the next
   * hop's MAC. Returns an errno name when it cannot (ENETUNREACH, EHOSTUNREACH).
   */
  sendIp(spec: IpPacketSpec): 'ENETUNREACH' | 'EHOSTUNREACH' | undefined {
    // Counted as drops too: a TCP segment's sender has nobody to tell but its retransmission timer.
    const r = this.route(spec.ip.dst);
    if (r === undefined) {
      this.drop('no_route');
      return 'ENETUNREACH';
    }
    const hop = r.via ?? spec.ip.dst;
    const mac = this.#neigh.get(hop);
    if (mac === undefined) {
      this.drop('no_neighbour');
      return 'EHOSTUNREACH';
    }
    const ip = r.family === 4 && spec.ip.id === undefined ? { ...spec.ip, id: this.nextIpId() } : spec.ip;
    const frame = buildFrame({ ...spec, ip, eth: { src: r.iface.mac, dst: '00:00:00:00:00:00' } });
    frame.set(mac, 0);
    r.iface.transmit(frame);
    return undefined;
  }

  /** An ICMP error about the packet `d` back to its source (never about an error, a fragment, a group address). */
  sendError(err: IcmpError, d: DecodedFrame, frame: Buffer): void {
    const ip = d.ip;
    if (ip === undefined || !mayAnswerWithError(d)) return;
    const src = this.sourceFor(ip.src);
    if (src === undefined) return;
    const quote = frame.subarray(ip.offset, ip.offset + (ip.version === 4 ? ip.totalLength : 40 + ip.payloadLength));
    this.sendIp({ ip: { src, dst: ip.src, ttl: 64 }, icmp: errorIcmp(err, ip.version, quote) });
  }
}
