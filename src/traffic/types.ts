// What the traffic tools are asked to do and what they report, in one module that every
// backend shares: the lab's real client process (lab/traffic/client.ts over
// src/traffic/client-core.ts) and the virtual hosts of the sim/prog backends produce the same
// ClientReport for the same ClientOptions, so a scenario's traffic and its expectations read the
// same on every backend.
//
// The server side is the same protocol everywhere (lab/traffic/server.ts, the virtual hosts):
//   HTTP  any request: 200, header x-backend: NAME, body "NAME\n" followed by ?bytes=N bytes of 'x'
//   TCP   on connect sends "NAME\n", then echoes every byte it receives
//   UDP   answers every datagram with "NAME\n" followed by the datagram's payload

/** Default ports of the traffic servers (one process per backend serves all three). */
export const SERVER_PORTS = { http: 80, tcp: 7000, udp: 7001 } as const;

export type Proto = 'tcp' | 'http' | 'udp';

export interface ClientOptions {
  proto: Proto;
  target: string;
  port: number;
  /** Connections (TCP, HTTP) or flows (UDP). */
  count: number;
  /** How many run at once; 1 = sequential. */
  concurrency: number;
  /** Source port of connection i is sport + i; 0 = the kernel picks. */
  sport: number;
  /** Bytes sent per exchange (TCP: echoed back; UDP: echoed after the name; HTTP: ?bytes=N). */
  payload: number;
  /** Exchanges per connection. With rounds > 1, or holdMs > 0, all connections stay open together. */
  rounds: number;
  /** Pause between rounds (ms). */
  roundGapMs: number;
  /** Before each round after the first, wait for a line on stdin (a scenario changes things meanwhile). */
  waitStdin: boolean;
  /** Keep every connection open this long after its last exchange (long-lived connections). */
  holdMs: number;
  /** HTTP: reuse one connection for all rounds (keep-alive) or one connection per request (close). */
  keepAlive: boolean;
  timeoutMs: number;
}

export interface ConnResult {
  i: number;
  sport: number | null;
  /** The backend that answered each round (null: no answer). */
  backends: (string | null)[];
  /** The backend of the first answer. */
  backend: string | null;
  /** Connect (or first send) to first answer, ms. */
  latencyMs: number | null;
  /** TCP: connect() to established, ms (the handshake through the LB); null otherwise. */
  connectMs: number | null;
  totalMs: number;
  bytesSent: number;
  bytesReceived: number;
  error: string | null;
}

export interface ClientReport {
  options: ClientOptions;
  results: ConnResult[];
  summary: { count: number; ok: number; errors: number; byBackend: Record<string, number> };
}

export const DEFAULT_CLIENT: Omit<ClientOptions, 'proto' | 'target' | 'port'> = {
  count: 1,
  concurrency: 1,
  sport: 0,
  payload: 64,
  rounds: 1,
  roundGapMs: 0,
  waitStdin: false,
  holdMs: 0,
  keepAlive: true,
  timeoutMs: 3000,
};

/** A client run as a scenario asks for it: protocol and target required, the rest defaulted. */
export type ClientRequest = Pick<ClientOptions, 'proto' | 'target'> & Partial<ClientOptions>;

/** Every option, with the defaults and the protocol's server port filled in. */
export function clientOptions(req: ClientRequest): ClientOptions {
  return { ...DEFAULT_CLIENT, ...req, port: req.port ?? SERVER_PORTS[req.proto] };
}
