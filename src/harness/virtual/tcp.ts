// A small, honest TCP for the virtual hosts (RFC 793/9293 state machine, RFC 6298 timers):
//   - 3-way handshake with an MSS option (egress MTU - 40 / - 60), the ISN keyed from the
//     node's seeded PRNG (see isn()); SYN and SYN-ACK retransmitted on an RTO of 1 s doubling (1, 2, 4, … s),
//     at most 6 times (tcp_syn_retries), then ETIMEDOUT.
//   - data with seq/ack, segments of at most the peer's MSS within the peer's window, every
//     in-order segment acknowledged in the same virtual instant (an answer the application
//     writes meanwhile carries the ACK; no 40 ms delayed-ACK timer); retransmission from the oldest unacknowledged
//     byte (go-back-N) on an RTO from the measured RTT (min 200 ms, Karn's rule), backed off
//     exponentially, at most 15 times (tcp_retries2), then ETIMEDOUT.
//   - FIN close from either side (FIN_WAIT_1/2, CLOSING, TIME_WAIT, CLOSE_WAIT, LAST_ACK);
//     TIME_WAIT lasts `timeWaitMs` (60 s, Linux's TCP_TIMEWAIT_LEN) and blocks the 4-tuple:
//     connect() from a port whose tuple is in TIME_WAIT fails with EADDRNOTAVAIL, as on Linux; a
//     new SYN with a higher sequence number reopens it (the server side of a reused tuple).
//   - RST for a segment that matches no socket (RFC 793 reset generation); RST accepted only at
//     exactly rcv_nxt, a challenge ACK otherwise (RFC 5961, as Linux); ECONNREFUSED/ECONNRESET.
//   - a Node-like socket: the peer's FIN ends our side too once our data is out (allowHalfOpen
//     false, the default of node:net), `close` once the connection is done for the application.
// Not modelled: out-of-order reassembly (an out-of-order segment is dropped and answered with a
// duplicate ACK), fast retransmit, SACK, window scaling and timestamps (not offered), congestion
// control (the window is the peer's advertised one), zero-window probes, keepalives, urgent data.
import type { DecodedFrame, TcpOption } from '../../packet/index.ts';
import type { Timer } from './clock.ts';
import type { VNode } from './ip.ts';

export type TcpState =
  | 'SYN_SENT'
  | 'SYN_RECEIVED'
  | 'ESTABLISHED'
  | 'FIN_WAIT_1'
  | 'FIN_WAIT_2'
  | 'CLOSING'
  | 'TIME_WAIT'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'CLOSED';

/** Linux's ip_local_port_range default. */
export const EPHEMERAL_PORTS = { min: 32768, max: 60999 } as const;
export const SYN_RETRIES = 6;
export const DATA_RETRIES = 15;
const RTO_INITIAL_MS = 1000;
const RTO_MIN_MS = 200;
const RTO_MAX_MS = 120_000;
const WINDOW = 65535;
const F = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10 } as const;

/** An error with a Node-style errno code (client reports print `CODE: message`). */
export class SocketError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'SocketError';
  }
}

const lt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
const le = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
const add = (a: number, n: number): number => (a + n) >>> 0;

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function tupleKey(laddr: string, lport: number, raddr: string, rport: number): string {
  return `${laddr}|${lport}|${raddr}|${rport}`;
}

interface Segment {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss: number | undefined;
  data: Buffer;
}

export interface TcpEvents {
  /** The handshake completed (client) or the connection was accepted (server). */
  connect?: () => void;
  data?: (data: Buffer) => void;
  /** The peer sent FIN (all its data has been delivered). */
  end?: () => void;
  /** The connection is done: null after an orderly close, else the error. */
  close?: (err: SocketError | null) => void;
}

export class TcpConn {
  readonly stack: TcpStack;
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  state: TcpState;
  readonly events: TcpEvents = {};
  /** Peer's FIN makes us end too (node:net's allowHalfOpen = false). */
  allowHalfOpen = false;
  retransmits = 0;
  bytesReceived = 0;
  bytesSent = 0;

  #iss: number;
  #sndUna: number;
  #sndNxt: number;
  #sndWnd = WINDOW;
  #rcvNxt = 0;
  #mss: number;
  #peerMss = 536;
  /** Bytes written by the application from snd_una on (sent but unacknowledged, then unsent). */
  #buf: Buffer = Buffer.alloc(0);
  #finQueued = false;
  /** Sequence number of our FIN once sent. */
  #finSeq: number | undefined;
  #finAcked = false;
  #ackPending = false;
  #rto = RTO_INITIAL_MS;
  #srtt: number | undefined;
  #rttvar = 0;
  /** The segment being timed (Karn: never a retransmitted one). */
  #rttSample: { seq: number; sentMs: number } | undefined;
  #retries = 0;
  #rtoTimer: Timer | undefined;
  #twTimer: Timer | undefined;
  #closed = false;
  #openedMs = 0;
  #ackTimer: Timer | undefined;

  constructor(stack: TcpStack, l: { addr: string; port: number }, r: { addr: string; port: number }, state: TcpState) {
    this.stack = stack;
    this.localAddr = l.addr;
    this.localPort = l.port;
    this.remoteAddr = r.addr;
    this.remotePort = r.port;
    this.state = state;
    this.#iss = stack.isn(l, r);
    this.#sndUna = this.#iss;
    this.#sndNxt = this.#iss;
    this.#mss = stack.node.mssFor(r.addr);
  }

  get key(): string {
    return tupleKey(this.localAddr, this.localPort, this.remoteAddr, this.remotePort);
  }

  // ---- application side ----------------------------------------------------------------------

  write(data: Uint8Array): void {
    if (this.#finQueued || this.#closed) return;
    this.#buf = Buffer.concat([this.#buf, data]);
    this.bytesSent += data.length;
    this.#output();
  }

  /** Half-close: FIN once everything written has been sent. */
  end(): void {
    if (this.#finQueued || this.#closed) return;
    this.#finQueued = true;
    this.#output();
  }

  /** Abort: RST to the peer (when synchronized), closed at once. */
  destroy(): void {
    if (this.#closed) return;
    if (this.state !== 'SYN_SENT' && this.state !== 'TIME_WAIT') this.#send(F.rst | F.ack, this.#sndNxt, Buffer.alloc(0));
    this.#finish(null);
  }

  // ---- sending -------------------------------------------------------------------------------

  #send(flags: number, seq: number, data: Buffer, withMss = false): void {
    const options: TcpOption[] | undefined = withMss ? [{ kind: 'mss', value: this.#mss }] : undefined;
    const ackNum = (flags & F.ack) !== 0 ? this.#rcvNxt : 0;
    this.stack.emit(
      this,
      {
        sport: this.localPort,
        dport: this.remotePort,
        seq,
        ack: ackNum,
        flags,
        window: WINDOW,
        ...(options !== undefined ? { options } : {}),
      },
      data,
    );
    if ((flags & F.ack) !== 0) this.#ackPending = false;
  }

  /** Sends what the window allows, the FIN when due, and a pure ACK if one is owed. */
  #output(): void {
    if (this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED' || this.#closed) return;
    // Sending states; after our FIN only retransmissions of what was written before it.
    const canData =
      this.state === 'ESTABLISHED' ||
      this.state === 'CLOSE_WAIT' ||
      this.state === 'FIN_WAIT_1' ||
      this.state === 'CLOSING' ||
      this.state === 'LAST_ACK';
    if (canData) {
      const mss = Math.min(this.#mss, this.#peerMss);
      for (;;) {
        const off = (this.#sndNxt - this.#sndUna) >>> 0;
        const avail = this.#buf.length - off;
        const wnd = this.#sndWnd - off;
        const n = Math.min(avail, mss, wnd);
        if (n <= 0) break;
        const chunk = this.#buf.subarray(off, off + n);
        const last = off + n === this.#buf.length;
        this.#rttSample ??= { seq: this.#sndNxt, sentMs: this.stack.node.clock.nowMs };
        this.#send(F.ack | (last ? F.psh : 0), this.#sndNxt, chunk);
        this.#sndNxt = add(this.#sndNxt, n);
        this.#armRto();
      }
      const allSent = (this.#sndNxt - this.#sndUna) >>> 0 === this.#buf.length;
      if (this.#finQueued && this.#finSeq === undefined && allSent) {
        this.#finSeq = this.#sndNxt;
        this.#send(F.fin | F.ack, this.#sndNxt, Buffer.alloc(0));
        this.#sndNxt = add(this.#sndNxt, 1);
        if (this.state === 'ESTABLISHED') this.state = 'FIN_WAIT_1';
        else if (this.state === 'CLOSE_WAIT') this.state = 'LAST_ACK';
        this.#armRto();
      }
    }
    if (this.#ackPending && this.#ackTimer === undefined) {
      // Owed ACKs leave at the end of this instant, so an answer the application writes now
      // (also from an async continuation) carries them, as a delayed ACK would.
      this.#ackTimer = this.stack.node.clock.schedule(() => {
        this.#ackTimer = undefined;
        if (this.#ackPending && !this.#closed) this.#send(F.ack, this.#sndNxt, Buffer.alloc(0));
      }, 0);
    }
  }

  #armRto(): void {
    if (this.#rtoTimer !== undefined && !this.#rtoTimer.cancelled) return;
    this.#rtoTimer = this.stack.node.clock.schedule(() => this.#onRto(), this.#rto);
  }

  #restartRto(): void {
    this.#rtoTimer?.cancel();
    this.#rtoTimer = undefined;
    if (this.#sndNxt !== this.#sndUna) this.#armRto();
  }

  #onRto(): void {
    this.#rtoTimer = undefined;
    if (this.#closed || this.#sndNxt === this.#sndUna) return;
    const handshake = this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED';
    if (++this.#retries > (handshake ? SYN_RETRIES : DATA_RETRIES)) {
      const what = this.state === 'SYN_SENT' ? 'connect' : 'read';
      this.#finish(new SocketError('ETIMEDOUT', `${what} ETIMEDOUT ${hostPort(this.remoteAddr, this.remotePort)}`));
      return;
    }
    this.retransmits++;
    this.stack.retransmits++;
    this.#rttSample = undefined;
    this.#rto = Math.min(this.#rto * 2, RTO_MAX_MS);
    if (this.state === 'SYN_SENT') this.#send(F.syn, this.#iss, Buffer.alloc(0), true);
    else if (this.state === 'SYN_RECEIVED') this.#send(F.syn | F.ack, this.#iss, Buffer.alloc(0), true);
    else {
      // Go back to the oldest unacknowledged byte; a sent FIN is sent again after the data
      // (the state stays: FIN_WAIT_1, CLOSING and LAST_ACK retransmit what they had sent).
      this.#sndNxt = this.#sndUna;
      if (this.#finSeq !== undefined && !this.#finAcked) this.#finSeq = undefined;
      this.#output();
    }
    this.#armRto();
  }

  /** Client side: sends the SYN. */
  open(): void {
    this.#openedMs = this.stack.node.clock.nowMs;
    this.#send(F.syn, this.#iss, Buffer.alloc(0), true);
    this.#sndNxt = add(this.#iss, 1);
    this.#armRto();
  }

  /** Server side: a SYN arrived for a listener. */
  accept(seg: Segment): void {
    this.#rcvNxt = add(seg.seq, 1);
    if (seg.mss !== undefined) this.#peerMss = seg.mss;
    this.#sndWnd = seg.window;
    this.#send(F.syn | F.ack, this.#iss, Buffer.alloc(0), true);
    this.#sndNxt = add(this.#iss, 1);
    this.#armRto();
  }

  // ---- receiving -----------------------------------------------------------------------------

  #rttUpdate(ack: number): void {
    const s = this.#rttSample;
    if (s === undefined || !lt(s.seq, ack)) return;
    const r = this.stack.node.clock.nowMs - s.sentMs;
    this.#rttSample = undefined;
    if (this.#srtt === undefined) {
      this.#srtt = r;
      this.#rttvar = r / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - r);
      this.#srtt = 0.875 * this.#srtt + 0.125 * r;
    }
    this.#rto = Math.min(RTO_MAX_MS, Math.max(RTO_MIN_MS, this.#srtt + 4 * this.#rttvar));
  }

  segment(seg: Segment): void {
    if (this.#closed) return;
    if (this.state === 'SYN_SENT') {
      this.#synSent(seg);
      return;
    }
    if (this.state === 'TIME_WAIT') {
      this.#timeWait(seg);
      return;
    }
    const len = seg.data.length + ((seg.flags & F.syn) !== 0 ? 1 : 0) + ((seg.flags & F.fin) !== 0 ? 1 : 0);
    // RST: exactly at rcv_nxt resets; elsewhere in the window earns a challenge ACK (RFC 5961).
    if ((seg.flags & F.rst) !== 0) {
      if (seg.seq === this.#rcvNxt) {
        const refused = this.state === 'SYN_RECEIVED';
        this.#finish(refused ? null : new SocketError('ECONNRESET', `read ECONNRESET`));
      } else if (lt(this.#rcvNxt, seg.seq) && lt(seg.seq, add(this.#rcvNxt, WINDOW))) this.#send(F.ack, this.#sndNxt, Buffer.alloc(0));
      return;
    }
    if ((seg.flags & F.syn) !== 0) {
      // A retransmitted SYN while our SYN-ACK is unacknowledged: send the SYN-ACK again.
      if (this.state === 'SYN_RECEIVED' && seg.seq === add(this.#rcvNxt, -1 >>> 0))
        this.#send(F.syn | F.ack, this.#iss, Buffer.alloc(0), true);
      else this.#send(F.ack, this.#sndNxt, Buffer.alloc(0));
      return;
    }
    // Sequence check: in-order only (an old retransmission is trimmed, a future segment dropped).
    let data = seg.data;
    let seq = seg.seq;
    if (seq !== this.#rcvNxt) {
      const end = add(seq, len);
      if (lt(seq, this.#rcvNxt) && lt(this.#rcvNxt, end)) {
        const skip = (this.#rcvNxt - seq) >>> 0;
        data = data.subarray(Math.min(skip, data.length));
        seq = this.#rcvNxt;
      } else {
        // Not acceptable (old duplicate, or beyond a gap we do not reassemble): re-ACK, drop.
        this.#send(F.ack, this.#sndNxt, Buffer.alloc(0));
        return;
      }
    }
    if ((seg.flags & F.ack) === 0) return;
    if (this.state === 'SYN_RECEIVED') {
      if (seg.ack !== this.#sndNxt) {
        this.stack.reset(this.localAddr, this.localPort, this.remoteAddr, this.remotePort, seg);
        return;
      }
      this.#sndUna = seg.ack;
      this.#sndWnd = seg.window;
      this.#retries = 0;
      this.#rto = RTO_INITIAL_MS;
      this.#restartRto();
      this.state = 'ESTABLISHED';
      this.stack.accepted(this);
      if (this.#closed) return;
    } else if (lt(this.#sndUna, seg.ack) && le(seg.ack, this.#sndNxt)) {
      let acked = (seg.ack - this.#sndUna) >>> 0;
      if (this.#finSeq !== undefined && seg.ack === add(this.#finSeq, 1)) {
        this.#finAcked = true;
        acked -= 1;
      }
      this.#buf = this.#buf.subarray(Math.min(acked, this.#buf.length));
      this.#rttUpdate(seg.ack);
      this.#sndUna = seg.ack;
      this.#retries = 0;
      this.#restartRto();
    } else if (lt(this.#sndNxt, seg.ack)) {
      // Acknowledges something never sent.
      this.#send(F.ack, this.#sndNxt, Buffer.alloc(0));
      return;
    }
    this.#sndWnd = seg.window;
    if (this.#finAcked) {
      if (this.state === 'FIN_WAIT_1') this.state = 'FIN_WAIT_2';
      else if (this.state === 'CLOSING') {
        this.#enterTimeWait();
        return;
      } else if (this.state === 'LAST_ACK') {
        this.#finish(null);
        return;
      }
    }
    const receiving = this.state === 'ESTABLISHED' || this.state === 'FIN_WAIT_1' || this.state === 'FIN_WAIT_2';
    if (data.length > 0 && receiving) {
      this.#rcvNxt = add(this.#rcvNxt, data.length);
      this.#ackPending = true;
      this.bytesReceived += data.length;
      this.events.data?.(Buffer.from(data));
      if (this.#closed) return;
    }
    if ((seg.flags & F.fin) !== 0 && receiving && add(seq, data.length) === this.#rcvNxt) {
      this.#rcvNxt = add(this.#rcvNxt, 1);
      this.#ackPending = true;
      if (this.state === 'ESTABLISHED') {
        this.state = 'CLOSE_WAIT';
        this.events.end?.();
        if (!this.allowHalfOpen) this.end();
      } else if (this.state === 'FIN_WAIT_1') {
        if (this.#finAcked) {
          this.#send(F.ack, this.#sndNxt, Buffer.alloc(0));
          this.events.end?.();
          this.#enterTimeWait();
          return;
        }
        this.state = 'CLOSING';
        this.events.end?.();
      } else {
        this.#send(F.ack, this.#sndNxt, Buffer.alloc(0));
        this.events.end?.();
        this.#enterTimeWait();
        return;
      }
    }
    this.#output();
  }

  #synSent(seg: Segment): void {
    const ackOk = (seg.flags & F.ack) !== 0 && seg.ack === add(this.#iss, 1);
    if ((seg.flags & F.ack) !== 0 && !ackOk) {
      if ((seg.flags & F.rst) === 0) this.stack.reset(this.localAddr, this.localPort, this.remoteAddr, this.remotePort, seg);
      return;
    }
    if ((seg.flags & F.rst) !== 0) {
      if (ackOk) this.#finish(new SocketError('ECONNREFUSED', `connect ECONNREFUSED ${hostPort(this.remoteAddr, this.remotePort)}`));
      return;
    }
    if ((seg.flags & F.syn) === 0 || !ackOk) return;
    this.#rcvNxt = add(seg.seq, 1);
    this.#sndUna = seg.ack;
    this.#sndWnd = seg.window;
    if (seg.mss !== undefined) this.#peerMss = seg.mss;
    // The SYN's round trip seeds the RTO unless it was retransmitted (Karn).
    if (this.#retries === 0) {
      this.#rttSample = { seq: this.#iss, sentMs: this.#openedMs };
      this.#rttUpdate(seg.ack);
    } else this.#rto = RTO_INITIAL_MS;
    this.#retries = 0;
    this.#restartRto();
    this.state = 'ESTABLISHED';
    this.#send(F.ack, this.#sndNxt, Buffer.alloc(0));
    this.events.connect?.();
    this.#output();
  }

  #timeWait(seg: Segment): void {
    if ((seg.flags & F.rst) !== 0) {
      this.#finish(null);
      return;
    }
    if (
      (seg.flags & F.syn) !== 0 &&
      (seg.flags & F.ack) === 0 &&
      lt(this.#rcvNxt, seg.seq) &&
      this.stack.hasListener(this.localAddr, this.localPort)
    ) {
      // A new connection on the tuple (RFC 6191-style reuse): TIME_WAIT gives way.
      this.#finish(null);
      this.stack.openPassive(this.localAddr, this.localPort, this.remoteAddr, this.remotePort, seg);
      return;
    }
    if ((seg.flags & F.fin) !== 0) {
      // The peer did not get our last ACK: acknowledge again and restart the 2MSL wait.
      this.#send(F.ack, this.#sndNxt, Buffer.alloc(0));
      this.#enterTimeWait();
    }
  }

  /** A hard ICMP error while connecting (tcp_v4_err: the connect fails at once). */
  abort(err: SocketError): void {
    this.#finish(err);
  }

  #enterTimeWait(): void {
    this.#rtoTimer?.cancel();
    this.#twTimer?.cancel();
    const first = this.state !== 'TIME_WAIT';
    this.state = 'TIME_WAIT';
    this.#twTimer = this.stack.node.clock.schedule(() => this.#finish(null), this.stack.timeWaitMs);
    if (first) this.events.close?.(null);
  }

  #finish(err: SocketError | null): void {
    if (this.#closed) return;
    const wasTw = this.state === 'TIME_WAIT';
    this.#closed = true;
    this.state = 'CLOSED';
    this.#rtoTimer?.cancel();
    this.#twTimer?.cancel();
    this.stack.forget(this);
    if (!wasTw) this.events.close?.(err);
  }
}

export interface Listener {
  /** undefined = every local address. */
  addr: string | undefined;
  port: number;
  onConnection: (c: TcpConn) => void;
}

export class TcpStack {
  readonly node: VNode;
  readonly timeWaitMs: number;
  readonly conns = new Map<string, TcpConn>();
  readonly listeners = new Map<number, Listener>();
  rstSent = 0;
  retransmits = 0;

  #isnSecret: number;

  constructor(node: VNode, timeWaitMs: number) {
    this.node = node;
    this.timeWaitMs = timeWaitMs;
    this.#isnSecret = node.rng.u32();
  }

  /**
   * Initial sequence number as Linux makes it (secure_tcp_seq): a keyed hash of the tuple plus
   * a clock ticking every 64 ns, so a later connection on the same tuple starts higher (what lets
   * a SYN reopen a TIME_WAIT). The key comes from the node's seeded PRNG.
   */
  isn(l: { addr: string; port: number }, r: { addr: string; port: number }): number {
    let h = this.#isnSecret;
    const key = tupleKey(l.addr, l.port, r.addr, r.port);
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
    return (h + Math.floor((this.node.clock.nowUs * 1000) / 64)) >>> 0;
  }

  listen(port: number, onConnection: (c: TcpConn) => void, addr?: string): Listener {
    if (this.listeners.has(port))
      throw new SocketError('EADDRINUSE', `listen EADDRINUSE: node ${this.node.name} already listens on TCP ${port}`);
    const l: Listener = { addr, port, onConnection };
    this.listeners.set(port, l);
    return l;
  }

  hasListener(addr: string, port: number): boolean {
    const l = this.listeners.get(port);
    return l !== undefined && (l.addr === undefined || l.addr === addr);
  }

  /** Opens a connection. Throws SocketError (EADDRNOTAVAIL, ENETUNREACH) when it cannot even start. */
  connect(dst: string, dport: number, opts: { sport?: number; src?: string } = {}): TcpConn {
    const src = opts.src ?? this.node.sourceFor(dst);
    if (src === undefined)
      throw new SocketError('ENETUNREACH', `connect ENETUNREACH ${hostPort(dst, dport)}: node ${this.node.name} has no route`);
    let sport = opts.sport;
    if (sport === undefined || sport === 0) sport = this.ephemeral(src, dst, dport);
    else if (this.conns.has(tupleKey(src, sport, dst, dport))) {
      throw new SocketError(
        'EADDRNOTAVAIL',
        `connect EADDRNOTAVAIL ${hostPort(dst, dport)} - Local (${hostPort(src, sport)}) (the tuple is in use or in TIME_WAIT)`,
      );
    }
    const c = new TcpConn(this, { addr: src, port: sport }, { addr: dst, port: dport }, 'SYN_SENT');
    this.conns.set(c.key, c);
    c.open();
    return c;
  }

  /** A free ephemeral port for the tuple (random start, linear probe, like __inet_hash_connect). */
  ephemeral(src: string, dst: string, dport: number): number {
    const { min, max } = EPHEMERAL_PORTS;
    const n = max - min + 1;
    const start = this.node.rng.int(0, n - 1);
    for (let i = 0; i < n; i++) {
      const p = min + ((start + i) % n);
      if (!this.conns.has(tupleKey(src, p, dst, dport)) && !this.listeners.has(p)) return p;
    }
    throw new SocketError('EADDRNOTAVAIL', `connect EADDRNOTAVAIL ${hostPort(dst, dport)}: every ephemeral port to it is in use`);
  }

  /** A segment of a connection leaves: the node builds and routes it. */
  emit(
    c: TcpConn,
    tcp: { sport: number; dport: number; seq: number; ack: number; flags: number; window: number; options?: TcpOption[] },
    data: Buffer,
  ): void {
    this.node.sendIp({
      ip: { src: c.localAddr, dst: c.remoteAddr, ...(c.localAddr.includes(':') ? {} : { df: true }) },
      tcp,
      payload: data,
    });
  }

  forget(c: TcpConn): void {
    if (this.conns.get(c.key) === c) this.conns.delete(c.key);
  }

  accepted(c: TcpConn): void {
    const l = this.listeners.get(c.localPort);
    if (l === undefined) {
      c.destroy();
      return;
    }
    l.onConnection(c);
    c.events.connect?.();
  }

  openPassive(laddr: string, lport: number, raddr: string, rport: number, seg: Segment): void {
    const c = new TcpConn(this, { addr: laddr, port: lport }, { addr: raddr, port: rport }, 'SYN_RECEIVED');
    this.conns.set(c.key, c);
    c.accept(seg);
  }

  /** RFC 793 reset generation for a segment nobody wants. */
  reset(laddr: string, lport: number, raddr: string, rport: number, seg: Segment): void {
    if ((seg.flags & F.rst) !== 0) return;
    this.rstSent++;
    const len = seg.data.length + ((seg.flags & F.syn) !== 0 ? 1 : 0) + ((seg.flags & F.fin) !== 0 ? 1 : 0);
    const tcp =
      (seg.flags & F.ack) !== 0
        ? { sport: lport, dport: rport, seq: seg.ack, ack: 0, flags: F.rst, window: 0 }
        : { sport: lport, dport: rport, seq: 0, ack: add(seg.seq, len), flags: F.rst | F.ack, window: 0 };
    this.node.sendIp({ ip: { src: laddr, dst: raddr, ...(laddr.includes(':') ? {} : { df: true }) }, tcp });
  }

  input(d: DecodedFrame): void {
    const ip = d.ip!;
    const t = d.tcp!;
    const mssOpt = t.options.find((o) => o.kind === 'mss');
    const seg: Segment = {
      seq: t.seq >>> 0,
      ack: t.ack >>> 0,
      flags: t.flags,
      window: t.window,
      mss: mssOpt !== undefined && mssOpt.kind === 'mss' ? mssOpt.value : undefined,
      data: Buffer.from(d.payload ?? new Uint8Array(0)),
    };
    const c = this.conns.get(tupleKey(ip.dst, t.dport, ip.src, t.sport));
    if (c !== undefined) {
      c.segment(seg);
      return;
    }
    const isSyn = (seg.flags & (F.syn | F.ack | F.rst)) === F.syn;
    if (isSyn && this.hasListener(ip.dst, t.dport)) {
      this.openPassive(ip.dst, t.dport, ip.src, t.sport, seg);
      return;
    }
    this.node.drop('no_socket');
    this.reset(ip.dst, t.dport, ip.src, t.sport, seg);
  }

  /**
   * An ICMP destination unreachable about one of our segments: like tcp_v4_err, a connection
   * still in SYN_SENT fails at once (net/host unreachable, port unreachable); an established one
   * keeps retransmitting (soft error). Fragmentation needed is no error (no PMTU model).
   */
  icmpError(inner: DecodedFrame, code: number): void {
    const ip = inner.ip;
    const t = inner.tcp;
    if (ip === undefined || t === undefined) return;
    const c = this.conns.get(tupleKey(ip.src, t.sport, ip.dst, t.dport));
    if (c === undefined || c.state !== 'SYN_SENT') return;
    const v6 = ip.version === 6;
    const errno = v6
      ? code === 4
        ? 'ECONNREFUSED'
        : code === 0
          ? 'ENETUNREACH'
          : 'EHOSTUNREACH'
      : code === 3
        ? 'ECONNREFUSED'
        : code === 0
          ? 'ENETUNREACH'
          : code === 4
            ? undefined
            : 'EHOSTUNREACH';
    if (errno === undefined) return;
    c.abort(new SocketError(errno, `connect ${errno} ${hostPort(c.remoteAddr, c.remotePort)}`));
  }
}
