// The traffic client's logic (the process entry point is lab/traffic/client.ts; the sim/prog
// virtual network runs it too, src/harness/virtual/client.ts): opens N TCP/HTTP connections or
// UDP flows to a target and records, per connection, which backend answered, latency and error.
// See lab/traffic/client.ts for the command line.
import { createSocket } from 'node:dgram';
import { Agent, request } from 'node:http';
import { connect, isIPv6 } from 'node:net';
import type { Socket } from 'node:net';

import type { ClientOptions, ClientReport, ConnResult } from './types.ts';
import { StreamBuffer } from './stream-buffer.ts';

export type { ClientOptions, ClientReport, ConnResult, Proto } from './types.ts';
export { DEFAULT_CLIENT } from './types.ts';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout after ${ms} ms ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** One open connection/flow: exchange() does one request/response and returns the backend. */
export interface Conn {
  sport: number | null;
  exchange(): Promise<string>;
  close(): Promise<void>;
}

/** Reads from a TCP socket into a buffer (StreamBuffer: `until` takes what the caller waits for). */
class Reader extends StreamBuffer {
  constructor(sock: Socket) {
    super();
    sock.on('data', (c: Buffer) => this.push(c));
    sock.on('error', (e) => this.fail(e));
    sock.on('end', () => this.end());
    sock.on('close', () => this.end());
  }
}

async function openTcp(o: ClientOptions, sport: number | null): Promise<{ conn: Conn; connectMs: number }> {
  const t0 = performance.now();
  const sock = connect({ host: o.target, port: o.port, ...(sport !== null ? { localPort: sport } : {}), noDelay: true });
  const reader = new Reader(sock);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    }),
    o.timeoutMs,
    'connecting',
  );
  const connectMs = performance.now() - t0;
  const line = await withTimeout(
    reader.until((b) => (b.indexOf(10) >= 0 ? b.indexOf(10) + 1 : -1)),
    o.timeoutMs,
    'waiting for the banner',
  );
  const backend = line.toString().trim();
  const payload = Buffer.alloc(o.payload, 'p');
  const conn: Conn = {
    sport: sock.localPort ?? null,
    exchange: async () => {
      if (o.payload > 0) {
        sock.write(payload);
        await withTimeout(
          reader.until((b) => (b.length >= o.payload ? o.payload : -1)),
          o.timeoutMs,
          'waiting for the echo',
        );
      }
      return backend;
    },
    close: async () => {
      if (sock.destroyed) return;
      await new Promise<void>((resolve) => {
        sock.once('close', () => resolve());
        sock.end();
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, o.timeoutMs).unref();
      });
    },
  };
  return { conn, connectMs };
}

async function openHttp(o: ClientOptions, sport: number | null): Promise<{ conn: Conn; connectMs: number }> {
  const agent = o.keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
  let lastPort: number | null = sport;
  const host = isIPv6(o.target) ? `[${o.target}]` : o.target;
  const get = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: o.target,
          port: o.port,
          path: `/?bytes=${o.payload}`,
          headers: { host, connection: o.keepAlive ? 'keep-alive' : 'close' },
          ...(agent !== undefined ? { agent } : { agent: false }),
          ...(sport !== null ? { localPort: sport } : {}),
        },
        (res) => {
          lastPort = res.socket.localPort ?? lastPort;
          res.on('data', () => undefined);
          res.on('end', () => {
            const b = res.headers['x-backend'];
            if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode ?? '?'}`));
            else resolve(typeof b === 'string' ? b : '?');
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  const conn: Conn = {
    get sport() {
      return lastPort;
    },
    exchange: () => withTimeout(get(), o.timeoutMs, 'waiting for the HTTP response'),
    close: async () => agent?.destroy(),
  };
  return { conn, connectMs: 0 };
}

async function openUdp(o: ClientOptions, sport: number | null): Promise<{ conn: Conn; connectMs: number }> {
  const sock = createSocket({ type: isIPv6(o.target) ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(sport ?? 0, () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.connect(o.port, o.target, () => resolve());
  });
  const payload = Buffer.alloc(o.payload, 'u');
  const conn: Conn = {
    sport: sock.address().port,
    exchange: () =>
      withTimeout(
        new Promise<string>((resolve, reject) => {
          sock.once('message', (msg) => {
            const nl = msg.indexOf(10);
            resolve(msg.subarray(0, nl >= 0 ? nl : msg.length).toString());
          });
          sock.once('error', reject);
          sock.send(payload);
        }),
        o.timeoutMs,
        'waiting for the UDP answer',
      ),
    close: async () => {
      sock.removeAllListeners('message');
      await new Promise<void>((r) => sock.close(() => r()));
    },
  };
  return { conn, connectMs: 0 };
}

function open(o: ClientOptions, sport: number | null): Promise<{ conn: Conn; connectMs: number }> {
  if (o.proto === 'tcp') return openTcp(o, sport);
  if (o.proto === 'http') return openHttp(o, sport);
  return openUdp(o, sport);
}

async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code !== undefined ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(e);
}

/**
 * Where a client runs: the clock, the pause and the connection opener. The lab's client process
 * uses the real ones (NODE_ENV below); the virtual hosts of sim/prog pass their virtual clock and
 * sockets, so both produce reports by the same logic.
 */
export interface ClientEnv {
  now(): number;
  sleep(ms: number): Promise<void>;
  open(o: ClientOptions, sport: number | null): Promise<{ conn: Conn; connectMs: number }>;
  /** After each round after the first (the lab client logs it to stderr). */
  onRound?(round: number): void;
}

const NODE_ENV: ClientEnv = {
  now: () => performance.now(),
  sleep,
  open,
  onRound: (round) => process.stderr.write(`${JSON.stringify({ event: 'round', round })}\n`),
};

/** Runs the clients; `nextRound` resolves when the next round may start (waitStdin). */
export function runClients(o: ClientOptions, nextRound: () => Promise<void> = async () => undefined): Promise<ClientReport> {
  return runClientsWith(o, NODE_ENV, nextRound);
}

/** runClients in a given environment (see ClientEnv). */
export async function runClientsWith(
  o: ClientOptions,
  env: ClientEnv,
  nextRound: () => Promise<void> = async () => undefined,
): Promise<ClientReport> {
  const results: ConnResult[] = Array.from({ length: o.count }, (_, i) => ({
    i,
    sport: o.sport > 0 ? o.sport + i : null,
    backends: [],
    backend: null,
    latencyMs: null,
    connectMs: null,
    totalMs: 0,
    bytesSent: 0,
    bytesReceived: 0,
    error: null,
  }));
  const conns: (Conn | undefined)[] = new Array<Conn | undefined>(o.count);
  const starts: number[] = new Array<number>(o.count).fill(0);
  const staged = o.rounds > 1 || o.holdMs > 0 || o.waitStdin;

  const exchange = async (i: number): Promise<void> => {
    const r = results[i];
    const c = conns[i];
    if (r === undefined || c === undefined || r.error !== null) return;
    try {
      const b = await c.exchange();
      r.backends.push(b);
      r.backend ??= b;
      r.latencyMs ??= env.now() - starts[i]!;
      r.bytesSent += o.payload;
      r.bytesReceived += o.payload + b.length + 1;
    } catch (e) {
      r.backends.push(null);
      r.error = `round ${r.backends.length}: ${errText(e)}`;
    }
  };
  const openOne = async (i: number): Promise<void> => {
    const r = results[i]!;
    starts[i] = env.now();
    try {
      const { conn, connectMs } = await env.open(o, o.sport > 0 ? o.sport + i : null);
      conns[i] = conn;
      if (o.proto === 'tcp') r.connectMs = connectMs;
    } catch (e) {
      r.error = `connect: ${errText(e)}`;
      r.backends.push(null);
    }
  };
  const closeOne = async (i: number): Promise<void> => {
    const c = conns[i];
    const r = results[i]!;
    if (c !== undefined) {
      r.sport = c.sport;
      await c.close().catch(() => undefined);
    }
    r.totalMs = env.now() - starts[i]!;
  };

  if (!staged) {
    await pool(o.count, o.concurrency, async (i) => {
      await openOne(i);
      await exchange(i);
      await closeOne(i);
    });
  } else {
    await pool(o.count, o.concurrency, async (i) => {
      await openOne(i);
      await exchange(i);
    });
    for (let round = 2; round <= o.rounds; round++) {
      if (o.waitStdin) await nextRound();
      else if (o.roundGapMs > 0) await env.sleep(o.roundGapMs);
      await pool(o.count, o.concurrency, exchange);
      env.onRound?.(round);
    }
    if (o.holdMs > 0) await env.sleep(o.holdMs);
    await pool(o.count, o.concurrency, closeOne);
  }
  const byBackend: Record<string, number> = {};
  for (const r of results) if (r.backend !== null) byBackend[r.backend] = (byBackend[r.backend] ?? 0) + 1;
  const errors = results.filter((r) => r.error !== null).length;
  return { options: o, results, summary: { count: o.count, ok: o.count - errors, errors, byBackend } };
}
