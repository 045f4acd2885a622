// The agent's API socket, opened before anything slow: `xlb agent` listens within ~0.2 s of its
// start, then loads the kernel datapath (the verifier: ~0.5 s for a fresh object), applies the
// config file and builds the fastify API, and only then serves. In between:
//   - GET /healthz answers 503 {"status":"starting"}: readiness is truthful, a probe never reads
//     "ok" from an agent whose datapath is not open;
//   - every other request is held (not refused) and handed to the API, in order, once it serves:
//     a client that connects early sees a slower first answer, never an error it must retry.
// The datapath load is synchronous (the libbpf binding), so a request that arrives during it is
// read when it ends. A failed start answers the held requests 503 and the agent exits 1.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface ApiListener {
  readonly server: Server;
  /** The address actually bound (port 0 resolved). */
  readonly address: { host: string; port: number };
  /** From now on `handler` (fastify's) answers every request, the held ones first. */
  serve(handler: Handler): void;
  /** The start failed: held and later requests get 503 with `why`. */
  fail(why: string): void;
  /** Stops listening; idle keep-alive connections are closed, open requests finish. */
  close(): Promise<void>;
}

/** The body of GET /healthz while the agent starts (a 503). */
export interface StartingView {
  status: 'starting';
  message: string;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) throw new Error(`--api '${text}' is not HOST:PORT (e.g. 127.0.0.1:9400 or [::1]:9400)`);
  return { host: (m[1] ?? m[2]) as string, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** Why the agent refuses to start: a token is what keeps a non-loopback API from being open to anyone on the network. */
export function nonLoopbackWithoutToken(host: string): string {
  return `the API would listen on ${host}, which is not loopback, without a token: give --token-file FILE (or agent.tokenFile) so only holders of the token can change the load balancer`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' });
  res.end(JSON.stringify(body));
}

export function listenApi(api: { host: string; port: number }): Promise<ApiListener> {
  const held: [IncomingMessage, ServerResponse][] = [];
  let handler: Handler | undefined;
  let failed: string | undefined;
  const server = createServer((req, res) => {
    if (handler !== undefined) return handler(req, res);
    if (failed !== undefined) return json(res, 503, { error: 'unavailable', message: failed });
    if (req.method === 'GET' && (req.url === '/healthz' || req.url?.startsWith('/healthz?') === true)) {
      const body: StartingView = { status: 'starting', message: 'the agent is loading its datapath and config; ready within seconds' };
      return json(res, 503, body);
    }
    held.push([req, res]);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: api.host, port: api.port }, () => {
      server.off('error', reject);
      const a = server.address();
      const address = typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : api;
      resolve({
        server,
        address,
        serve(h) {
          handler = h;
          for (const [req, res] of held.splice(0)) h(req, res);
        },
        fail(why) {
          failed = why;
          for (const [, res] of held.splice(0)) json(res, 503, { error: 'unavailable', message: why });
        },
        close() {
          return new Promise((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          });
        },
      });
    });
  });
}
