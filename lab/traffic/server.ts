// The backend server of the lab, run as a real process inside a backend's namespace:
//
//   node --import tsx lab/traffic/server.ts --name b1 [--http 80] [--tcp 7000] [--udp 7001]
//        [--bind ADDR]...                 (default ::, dual stack)
//        [--udp-bind ADDR]...             (extra UDP sockets, e.g. the VIPs on a DSR backend)
//
//   HTTP  any request: 200, header x-backend: NAME, body "NAME\n" followed by ?bytes=N bytes of 'x'
//   TCP   on connect sends "NAME\n", then echoes every byte it receives
//   UDP   answers every datagram with "NAME\n" followed by the datagram's payload
//
// Prints one JSON line {"event":"listening",...} once every socket listens (Lab.spawn waits for
// it); exits 0 on SIGTERM/SIGINT. A DSR backend binds the VIPs for UDP too (--udp-bind
// 198.18.100.1): a UDP socket bound to the VIP answers from the VIP, a wildcard one would answer
// from the backend's own address. (TCP needs no such thing: replies use the connection's address.)
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer } from 'node:net';
import { isIPv4 } from 'node:net';
import { parseArgs } from 'node:util';

function port(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--${what} ${v}: give a port 1-65535`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      http: { type: 'string' },
      tcp: { type: 'string' },
      udp: { type: 'string' },
      bind: { type: 'string', multiple: true },
      'udp-bind': { type: 'string', multiple: true },
    },
  });
  const name = values.name;
  if (name === undefined || name === '') throw new Error('--name NAME is required (the backend name the server answers with)');
  const httpPort = port(values.http, 'http');
  const tcpPort = port(values.tcp, 'tcp');
  const udpPort = port(values.udp, 'udp');
  if (httpPort === undefined && tcpPort === undefined && udpPort === undefined)
    throw new Error('give at least one of --http PORT, --tcp PORT, --udp PORT');
  const binds = values.bind ?? ['::'];
  const banner = Buffer.from(`${name}\n`);
  const closers: (() => void)[] = [];
  const listening: Promise<void>[] = [];

  const listen = (srv: HttpServer | TcpServer, p: number, addr: string): void => {
    listening.push(
      new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ port: p, host: addr, ipv6Only: false }, () => resolve());
      }),
    );
    closers.push(() => srv.close());
  };

  const udpBinds = [...binds, ...(values['udp-bind'] ?? [])];
  for (const addr of binds) {
    if (httpPort !== undefined) {
      const srv = createHttpServer((req, res) => {
        let received = 0;
        req.on('data', (c: Buffer) => (received += c.length));
        req.on('end', () => {
          const q = new URL(req.url ?? '/', 'http://x').searchParams.get('bytes');
          const extra = Math.min(Math.max(Number(q ?? 0) || 0, 0), 16 << 20);
          res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name, 'x-bytes-received': String(received) });
          res.end(Buffer.concat([banner, Buffer.alloc(extra, 'x')]));
        });
      });
      srv.keepAliveTimeout = 60_000;
      listen(srv, httpPort, addr);
    }
    if (tcpPort !== undefined) {
      const srv = createTcpServer((sock) => {
        sock.on('error', () => sock.destroy());
        sock.write(banner);
        sock.pipe(sock);
      });
      listen(srv, tcpPort, addr);
    }
  }
  for (const addr of udpBinds) {
    if (udpPort !== undefined) {
      const sock: UdpSocket = createSocket({ type: isIPv4(addr) ? 'udp4' : 'udp6', reuseAddr: true, ipv6Only: false });
      sock.on('message', (msg, rinfo) => sock.send(Buffer.concat([banner, msg]), rinfo.port, rinfo.address));
      listening.push(
        new Promise((resolve, reject) => {
          sock.once('error', reject);
          sock.bind(udpPort, addr, () => resolve());
        }),
      );
      closers.push(() => sock.close());
    }
  }
  await Promise.all(listening);
  // Once `xlb lab up --servers` has exited, stdout is a closed pipe: never die of that.
  process.stdout.on('error', () => undefined);
  const stop = (): void => {
    for (const c of closers) c();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(
    `${JSON.stringify({ event: 'listening', name, http: httpPort ?? null, tcp: tcpPort ?? null, udp: udpPort ?? null, bind: binds, udpBind: udpBinds, pid: process.pid })}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`xlb lab server: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
