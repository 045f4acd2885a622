// The traffic client on a virtual host: the lab client's own logic (runClientsWith in
// src/traffic/client-core.ts: pool, rounds, hold, per-connection results, the report) with
// connections on the virtual sockets and time on the virtual clock. What each opener does mirrors
// the lab's node:net / node:http / node:dgram one: the same steps, timeouts and error texts
// ("connect: ECONNREFUSED: connect ECONNREFUSED 198.18.100.1:7000", "round 1: timeout after
// 3000 ms waiting for the echo").
//
// When the report is done the client "exits", as the lab's process does: a connection still
// connecting is abandoned, an open one is closed (FIN), so nothing keeps retransmitting for a
// client that is gone.
import type { ClientEnv, Conn } from '../../traffic/client-core.ts';
import { runClientsWith } from '../../traffic/client-core.ts';
import { StreamBuffer } from '../../traffic/stream-buffer.ts';
import type { ClientOptions, ClientReport } from '../../traffic/types.ts';
import type { VirtualClock } from './clock.ts';
import type { VNode } from './ip.ts';
import type { TcpConn } from './tcp.ts';
import { SocketError } from './tcp.ts';

function vTimeout<T>(clock: VirtualClock, p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = clock.setTimeout(() => reject(new Error(`timeout after ${ms} ms ${what}`)), ms);
    p.then(
      (v) => {
        t.cancel();
        resolve(v);
      },
      (e: unknown) => {
        t.cancel();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Reads a virtual TCP connection into a buffer, like the lab client's Reader over a net.Socket. */
class Reader extends StreamBuffer {
  closed = false;
  #onConnect: (() => void)[] = [];
  #onClose: (() => void)[] = [];

  constructor(c: TcpConn) {
    super();
    const clock = c.stack.node.clock;
    const wake = (): void => clock.wake();
    c.events.connect = () => {
      wake();
      for (const w of this.#onConnect.splice(0)) w();
    };
    c.events.data = (d) => {
      wake();
      this.push(d);
    };
    c.events.end = () => {
      wake();
      this.end();
    };
    c.events.close = (err) => {
      wake();
      if (err !== null) this.error = err;
      this.closed = true;
      this.end();
      for (const w of this.#onClose.splice(0)) w();
    };
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#onConnect.push(resolve);
      this.onChange(() => {
        if (this.error !== null) reject(this.error);
      });
    });
  }

  /** Resolves once the connection is done for the application (node's 'close'). */
  whenClosed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) resolve();
      else this.#onClose.push(resolve);
    });
  }
}

const lineEnd = (b: Buffer): number => (b.indexOf(10) >= 0 ? b.indexOf(10) + 1 : -1);

export class VirtualClientEnv implements ClientEnv {
  readonly node: VNode;
  readonly clock: VirtualClock;
  /** Every TCP connection this client opened (closed at exit). */
  readonly conns: TcpConn[] = [];
  #udpClosers: (() => void)[] = [];

  constructor(node: VNode) {
    this.node = node;
    this.clock = node.clock;
  }

  now(): number {
    return this.clock.nowMs;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => this.clock.setTimeout(r, ms));
  }

  open(o: ClientOptions, sport: number | null): Promise<{ conn: Conn; connectMs: number }> {
    if (o.proto === 'tcp') return this.#openTcp(o, sport);
    if (o.proto === 'http') return Promise.resolve(this.#openHttp(o, sport));
    return Promise.resolve(this.#openUdp(o, sport));
  }

  #connect(o: ClientOptions, sport: number | null): { c: TcpConn; reader: Reader } {
    const c = this.node.tcp.connect(o.target, o.port, sport !== null ? { sport } : {});
    this.conns.push(c);
    return { c, reader: new Reader(c) };
  }

  async #openTcp(o: ClientOptions, sport: number | null): Promise<{ conn: Conn; connectMs: number }> {
    const t0 = this.now();
    const { c, reader } = this.#connect(o, sport);
    await vTimeout(this.clock, reader.connected(), o.timeoutMs, 'connecting');
    const connectMs = this.now() - t0;
    const line = await vTimeout(this.clock, reader.until(lineEnd), o.timeoutMs, 'waiting for the banner');
    const backend = line.toString().trim();
    const payload = Buffer.alloc(o.payload, 'p');
    const conn: Conn = {
      sport: c.localPort,
      exchange: async () => {
        if (o.payload > 0) {
          c.write(payload);
          await vTimeout(
            this.clock,
            reader.until((b) => (b.length >= o.payload ? o.payload : -1)),
            o.timeoutMs,
            'waiting for the echo',
          );
        }
        return backend;
      },
      close: async () => {
        if (c.state === 'CLOSED') return;
        c.end();
        // Like the lab client: wait for 'close', at most timeoutMs (then the kernel finishes alone).
        await new Promise<void>((resolve) => {
          const t = this.clock.setTimeout(resolve, o.timeoutMs);
          void reader.whenClosed().then(() => {
            t.cancel();
            resolve();
          });
        });
      },
    };
    return { conn, connectMs };
  }

  /** One HTTP/1.1 GET on `c` (node:http's request), resolving with x-backend. */
  async #get(o: ClientOptions, c: TcpConn, reader: Reader): Promise<string> {
    const host = o.target.includes(':') ? `[${o.target}]` : o.target;
    c.write(
      Buffer.from(
        `GET /?bytes=${o.payload} HTTP/1.1\r\nhost: ${host}\r\nconnection: ${o.keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`,
        'latin1',
      ),
    );
    let head: Buffer;
    try {
      head = await reader.until((b) => {
        const i = b.indexOf('\r\n\r\n');
        return i < 0 ? -1 : i + 4;
      });
    } catch (e) {
      throw e instanceof SocketError ? e : new SocketError('ECONNRESET', 'socket hang up');
    }
    const lines = head.toString('latin1').split('\r\n');
    const status = Number((lines[0] ?? '').split(' ')[1]);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
    }
    const len = Number(headers.get('content-length') ?? 0) || 0;
    await reader.until((b) => (b.length >= len ? len : -1));
    if (status !== 200) throw new Error(`HTTP ${Number.isFinite(status) ? status : '?'}`);
    return headers.get('x-backend') ?? '?';
  }

  #openHttp(o: ClientOptions, sport: number | null): { conn: Conn; connectMs: number } {
    let lastPort: number | null = sport;
    let kept: { c: TcpConn; reader: Reader } | undefined;
    const request = async (): Promise<string> => {
      let s = o.keepAlive ? kept : undefined;
      if (s === undefined || s.c.state !== 'ESTABLISHED') {
        s = this.#connect(o, sport);
        await s.reader.connected();
        if (o.keepAlive) kept = s;
      }
      const b = await this.#get(o, s.c, s.reader);
      lastPort = s.c.localPort;
      if (!o.keepAlive) {
        // node:http ends the socket when a `connection: close` response is complete; the
        // server's FIN, sent right after the response, is usually read in the same go, so the
        // client closes second (no TIME_WAIT on its side). The zero-delay timer lets a FIN that
        // arrives at this same instant be processed first.
        const c = s.c;
        this.clock.setTimeout(() => c.end(), 0);
      }
      return b;
    };
    const conn: Conn = {
      get sport() {
        return lastPort;
      },
      exchange: () => vTimeout(this.clock, request(), o.timeoutMs, 'waiting for the HTTP response'),
      close: async () => {
        kept?.c.end();
      },
    };
    return { conn, connectMs: 0 };
  }

  #openUdp(o: ClientOptions, sport: number | null): { conn: Conn; connectMs: number } {
    const sock = this.node.udp.bind(sport ?? 0);
    sock.connect(o.target, o.port);
    // node:dgram's once('message') per exchange: a listener left by a timed-out exchange still
    // gets (and shares) the next datagram, exactly as on the lab.
    let listeners: ((m: Buffer) => void)[] = [];
    let errorListeners: ((e: Error) => void)[] = [];
    sock.onMessage = (m) => {
      this.clock.wake();
      const ls = listeners;
      listeners = [];
      for (const l of ls) l(m);
    };
    sock.onError = (e) => {
      this.clock.wake();
      const ls = errorListeners;
      errorListeners = [];
      for (const l of ls) l(e);
    };
    const payload = Buffer.alloc(o.payload, 'u');
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      listeners = [];
      sock.close();
    };
    this.#udpClosers.push(close);
    const conn: Conn = {
      sport: sock.port,
      exchange: () =>
        vTimeout(
          this.clock,
          new Promise<string>((resolve, reject) => {
            listeners.push((msg) => {
              const nl = msg.indexOf(10);
              resolve(msg.subarray(0, nl >= 0 ? nl : msg.length).toString());
            });
            errorListeners.push(reject);
            sock.send(payload);
          }),
          o.timeoutMs,
          'waiting for the UDP answer',
        ),
      close: async () => close(),
    };
    return { conn, connectMs: 0 };
  }

  /** The process exits: connecting sockets are dropped, open ones closed (FIN), UDP sockets closed. */
  exit(): void {
    for (const c of this.conns) if (c.state === 'SYN_SENT') c.destroy();
    for (const close of this.#udpClosers) close();
    // After what arrives at this instant (a server's FIN right behind its last answer), as the
    // process would have read it before exiting.
    const open = this.conns.filter((c) => c.state !== 'CLOSED' && c.state !== 'TIME_WAIT');
    if (open.length > 0) this.clock.schedule(() => open.forEach((c) => c.end()), 0);
  }
}

/** A client run on a virtual node, driven by its clock until the report is done. */
export async function runVirtualClient(node: VNode, o: ClientOptions, nextRound?: () => Promise<void>): Promise<ClientReport> {
  const env = new VirtualClientEnv(node);
  try {
    return await runClientsWith(o, env, nextRound);
  } finally {
    env.exit();
  }
}
