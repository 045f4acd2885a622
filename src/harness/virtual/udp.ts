// UDP sockets of the virtual hosts. A socket binds a port (and optionally an address), may be
// connected to one peer (then it only receives from that peer, like connect(2) on a datagram
// socket). A datagram for a port nobody holds is answered with ICMP port unreachable (as Linux
// does, without its rate limit); a connected socket that gets one reports ECONNREFUSED, the error
// Linux hands to the next recv on such a socket.
import type { DecodedFrame } from '../../packet/index.ts';
import type { VNode } from './ip.ts';
import { EPHEMERAL_PORTS, SocketError } from './tcp.ts';

export interface RemoteInfo {
  address: string;
  port: number;
  /** The address the datagram was sent to (a server answers from it). */
  localAddress: string;
}

export class UdpSocket {
  readonly stack: UdpStack;
  readonly port: number;
  readonly addr: string | undefined;
  remote: { addr: string; port: number } | undefined;
  onMessage: ((data: Buffer, rinfo: RemoteInfo) => void) | undefined;
  onError: ((err: SocketError) => void) | undefined;
  #closed = false;

  constructor(stack: UdpStack, port: number, addr: string | undefined) {
    this.stack = stack;
    this.port = port;
    this.addr = addr;
  }

  connect(addr: string, port: number): void {
    this.remote = { addr, port };
  }

  /** Sends a datagram (to the connected peer when `to` is omitted). */
  send(data: Uint8Array, to?: { addr: string; port: number; from?: string }): void {
    if (this.#closed) throw new SocketError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    const dst = to ?? this.remote;
    if (dst === undefined)
      throw new SocketError('EDESTADDRREQ', 'send EDESTADDRREQ: the socket is not connected and no destination was given');
    const src = to?.from ?? this.addr ?? this.stack.node.sourceFor(dst.addr);
    if (src === undefined) throw new SocketError('ENETUNREACH', `send ENETUNREACH ${dst.addr}:${dst.port}`);
    const v4 = !src.includes(':');
    const err = this.stack.node.sendIp({
      ip: { src, dst: dst.addr, ...(v4 ? { df: true } : {}) },
      udp: { sport: this.port, dport: dst.port },
      payload: Buffer.from(data),
    });
    if (err !== undefined) throw new SocketError(err, `send ${err} ${dst.addr}:${dst.port}`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stack.unbind(this);
  }

  /** Whether a datagram from `src:sport` to `dst` is for this socket. */
  matches(dst: string, src: string, sport: number): boolean {
    if (this.addr !== undefined && this.addr !== dst) return false;
    if (this.remote !== undefined && (this.remote.addr !== src || this.remote.port !== sport)) return false;
    return true;
  }
}

export class UdpStack {
  readonly node: VNode;
  readonly sockets = new Map<number, UdpSocket[]>();
  portUnreachableSent = 0;

  constructor(node: VNode) {
    this.node = node;
  }

  /** Binds a socket; port 0 picks an ephemeral port (seeded). */
  bind(port = 0, addr?: string): UdpSocket {
    let p = port;
    if (p === 0) {
      const { min, max } = EPHEMERAL_PORTS;
      const n = max - min + 1;
      const start = this.node.rng.int(0, n - 1);
      let found: number | undefined;
      for (let i = 0; i < n && found === undefined; i++) {
        const c = min + ((start + i) % n);
        if (!this.sockets.has(c)) found = c;
      }
      if (found === undefined) throw new SocketError('EADDRINUSE', `bind EADDRINUSE: node ${this.node.name} has no free UDP port`);
      p = found;
    } else if ((this.sockets.get(p) ?? []).some((s) => s.addr === addr || s.addr === undefined || addr === undefined)) {
      throw new SocketError('EADDRINUSE', `bind EADDRINUSE ${addr ?? '::'}:${p} on node ${this.node.name}`);
    }
    const s = new UdpSocket(this, p, addr);
    const list = this.sockets.get(p) ?? [];
    list.push(s);
    this.sockets.set(p, list);
    return s;
  }

  unbind(s: UdpSocket): void {
    const list = (this.sockets.get(s.port) ?? []).filter((x) => x !== s);
    if (list.length === 0) this.sockets.delete(s.port);
    else this.sockets.set(s.port, list);
  }

  input(d: DecodedFrame, frame: Buffer): void {
    const ip = d.ip!;
    const u = d.udp!;
    // The most specific socket wins: connected, then bound to the address, then wildcard.
    const cands = (this.sockets.get(u.dport) ?? []).filter((s) => s.matches(ip.dst, ip.src, u.sport));
    cands.sort(
      (a, b) =>
        Number(b.remote !== undefined) - Number(a.remote !== undefined) || Number(b.addr !== undefined) - Number(a.addr !== undefined),
    );
    const s = cands[0];
    if (s === undefined) {
      this.node.drop('no_socket');
      this.portUnreachableSent++;
      this.node.sendError({ kind: 'port-unreachable' }, d, frame);
      return;
    }
    s.onMessage?.(Buffer.from(d.payload ?? new Uint8Array(0)), { address: ip.src, port: u.sport, localAddress: ip.dst });
  }

  /** ICMP port unreachable (or another unreachable) about a datagram we sent. */
  icmpError(inner: DecodedFrame, code: number): void {
    const ip = inner.ip;
    const u = inner.udp;
    if (ip === undefined || u === undefined) return;
    for (const s of this.sockets.get(u.sport) ?? []) {
      if (s.remote === undefined || s.remote.addr !== ip.dst || s.remote.port !== u.dport) continue;
      const refused = ip.version === 4 ? code === 3 : code === 4;
      const errno = refused ? 'ECONNREFUSED' : 'EHOSTUNREACH';
      s.onError?.(new SocketError(errno, `recv ${errno} ${ip.dst}:${u.dport}`));
    }
  }
}
