// The lab's traffic servers (lab/traffic/server.ts) on a virtual host, same protocol:
//   TCP   on connect sends "NAME\n", then echoes every byte it receives
//   UDP   answers every datagram with "NAME\n" followed by the datagram's payload, from the
//         address the datagram was sent to (server.ts binds the VIPs on a DSR backend for that)
//   HTTP  any request: 200, header x-backend: NAME, body "NAME\n" followed by ?bytes=N bytes of
//         'x'; keep-alive unless the request says `connection: close` (HTTP/1.1, as node:http).
//         No Date header (it would make captures differ between runs).
import { SERVER_PORTS } from '../../traffic/types.ts';
import type { VNode } from './ip.ts';
import type { TcpConn } from './tcp.ts';

export interface ServerPorts {
  http?: number;
  tcp?: number;
  udp?: number;
}

const MAX_BODY = 16 << 20;

function serveHttp(c: TcpConn, name: string, banner: Buffer): void {
  let buf = Buffer.alloc(0);
  let closing = false;
  c.events.data = (d) => {
    if (closing) return;
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Map<string, string>();
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
      }
      const bodyLen = Number(headers.get('content-length') ?? 0) || 0;
      if (buf.length < end + 4 + bodyLen) return;
      buf = buf.subarray(end + 4 + bodyLen);
      const [, target = '/', version = 'HTTP/1.1'] = (head[0] ?? '').split(' ');
      const q = new URL(target, 'http://x').searchParams.get('bytes');
      const extra = Math.min(Math.max(Number(q ?? 0) || 0, 0), MAX_BODY);
      const close =
        (headers.get('connection') ?? '').toLowerCase() === 'close' ||
        (version === 'HTTP/1.0' && (headers.get('connection') ?? '').toLowerCase() !== 'keep-alive');
      const body = Buffer.concat([banner, Buffer.alloc(extra, 'x')]);
      const lines = [
        'HTTP/1.1 200 OK',
        'content-type: text/plain',
        `x-backend: ${name}`,
        `x-bytes-received: ${bodyLen}`,
        close ? 'Connection: close' : 'Connection: keep-alive',
        ...(close ? [] : ['Keep-Alive: timeout=60']),
        `Content-Length: ${body.length}`,
      ];
      c.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
      if (close) {
        closing = true;
        c.end();
        return;
      }
    }
  };
}

/** Starts the servers on `node`, answering with `name` (the lab passes the node name). */
export function startServers(node: VNode, name: string, ports: ServerPorts = SERVER_PORTS): void {
  const banner = Buffer.from(`${name}\n`);
  if (ports.tcp !== undefined) {
    node.tcp.listen(ports.tcp, (c) => {
      c.write(banner);
      c.events.data = (d) => c.write(d);
    });
  }
  if (ports.http !== undefined) node.tcp.listen(ports.http, (c) => serveHttp(c, name, banner));
  if (ports.udp !== undefined) {
    const s = node.udp.bind(ports.udp);
    s.onMessage = (msg, rinfo) => s.send(Buffer.concat([banner, msg]), { addr: rinfo.address, port: rinfo.port, from: rinfo.localAddress });
  }
}
