// The load balancers the lab bench compares, each set up in the LB node of a fresh two-arm lab:
//
//   direct     no LB: the client talks to the backends' own addresses (one backend per wrk
//              thread), the LB node only routes (ip_forward) — the floor every LB is held to
//   xlb-tc     the real `xlb agent` at TC, a service PUT through its REST API
//   xlb-xdp    the same at XDP (veth peers with GRO on, senders without tx checksum offload)
//   nft-dnat   nftables DNAT, `numgen inc mod N` over the backends (kernel conntrack + NAT)
//   nft-masq   the same plus masquerade towards the backends (what full NAT costs in the kernel)
//   nginx      nginx's stream module (TCP and UDP proxy) on the VIP
//   haproxy    HAProxy in TCP mode on the VIP (no UDP: HAProxy does not proxy UDP)
//
// Every configuration gets the same backends (nginx answering `return 200`), the same client
// load and the same interface settings; only what runs in the LB node differs.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Lab, LabProcess } from '../../lab/lab.ts';
import { startLabAgent } from '../../lab/agent-process.ts';

export const LB_CONFIGS = ['direct', 'xlb-tc', 'xlb-xdp', 'nft-dnat', 'nft-masq', 'nginx', 'haproxy'] as const;
export type LbConfig = (typeof LB_CONFIGS)[number];

export const CONFIG_SUMMARY: Record<LbConfig, string> = {
  direct: 'no LB: client → backend addresses, the LB node only routes',
  'xlb-tc': 'xlb agent, TC hook, DNAT, Maglev (REST API)',
  'xlb-xdp': 'xlb agent, XDP hook, DNAT, Maglev (REST API)',
  'nft-dnat': 'nftables DNAT, numgen inc mod N',
  'nft-masq': 'nftables DNAT + masquerade',
  nginx: 'nginx stream proxy (TCP + UDP)',
  haproxy: 'HAProxy, mode tcp (no UDP)',
};

export const HTTP_PORT = 80;
export const UDP_PORT = 7001;

/** The lab of one measurement, as the configurations see it. */
export interface BenchLab {
  lab: Lab;
  /** Where this lab's config files go (removed with the run). */
  dir: string;
  vip: string;
  backends: { node: string; ip: string }[];
  lbClientIf: string;
  lbBackendIf: string;
}

/** What the client aims at once a configuration is set up. */
export interface Target {
  /** HTTP addresses: one (the VIP), or one per wrk thread (direct). */
  http: string[];
  /** UDP destinations (round robin over packets), or null when the configuration has no UDP. */
  udp: string[] | null;
  /** Processes this configuration started in the LB node (stopped by the lab's close). */
  procs: LabProcess[];
}

/** Polls `ss` in the node until something listens on the port (nginx and HAProxy print nothing when ready). */
export async function waitListening(
  lab: Lab,
  node: string,
  port: number,
  proto: 'tcp' | 'udp',
  proc?: LabProcess,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await lab.exec(node, sysTool('ss'), ['-Hn', proto === 'tcp' ? '-lt' : '-lu', `sport = :${port}`], { reject: false });
    if (r.stdout.trim() !== '') return;
    if (Date.now() > deadline) {
      throw new Error(
        `${node}: nothing listens on ${proto}/${port} after ${timeoutMs} ms${proc !== undefined ? `; its output: ${(proc.stderr() + proc.stdout()).trim().slice(-1500) || '(none)'}` : ''}`,
      );
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * nginx run in the foreground from a config of our own (no /etc/nginx, no system service).
 * The stream module is loaded explicitly: Debian ships it as a dynamic module.
 */
async function startNginx(
  lab: Lab,
  node: string,
  dir: string,
  body: string,
  listen: { port: number; proto: 'tcp' | 'udp' }[],
): Promise<LabProcess> {
  mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `# written by xlb bench (${node})
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 9000; multi_accept on; }
${body}
`,
  );
  const proc = await lab.spawn(node, sysTool('nginx'), ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')]);
  for (const l of listen) await waitListening(lab, node, l.port, l.proto, proc);
  return proc;
}

/** The backends' HTTP server: nginx answering every request with its name (keep-alive unbounded). */
export function startBackendNginx(lab: Lab, node: string, dir: string): Promise<LabProcess> {
  // keepalive_requests: nginx closes a keep-alive connection after 1000 requests by default,
  // which would turn the keep-alive figure into a mix of both. Temp paths inside the run dir.
  const body = `http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  server {
    listen ${HTTP_PORT} backlog=4096 reuseport;
    location / { default_type text/plain; return 200 "${node}\\n"; }
  }
}`;
  return startNginx(lab, node, dir, body, [{ port: HTTP_PORT, proto: 'tcp' }]);
}

/** Backends count the bench's UDP datagrams in an nftables counter and drop them (no replies, no ICMP). */
export function udpCounterRules(): string {
  return `table inet xlbbench {
  counter udp_in { }
  chain input { type filter hook input priority 0; policy accept; udp dport ${UDP_PORT} counter name udp_in drop; }
}
`;
}

export async function readUdpCounter(lab: Lab, node: string): Promise<number> {
  const r = await lab.exec(node, sysTool('nft'), ['list', 'counter', 'inet', 'xlbbench', 'udp_in']);
  const m = /packets (\d+) bytes/.exec(r.stdout);
  if (m?.[1] === undefined)
    throw new Error(
      `${node}: no packet count in 'nft list counter inet xlbbench udp_in' (exit ${r.exitCode}): '${r.stdout.trim()}' '${r.stderr.trim()}'`,
    );
  return Number(m[1]);
}

async function nft(lab: Lab, rules: string): Promise<void> {
  await lab.exec('lb', sysTool('nft'), ['-f', '-'], { input: rules });
}

function numgenMap(b: BenchLab): string {
  return `numgen inc mod ${b.backends.length} map { ${b.backends.map((x, i) => `${i} : ${x.ip}`).join(', ')} }`;
}

/** The VIP as a local address of the LB node, for the proxies to listen on. */
async function vipOnLo(b: BenchLab): Promise<void> {
  await b.lab.exec('lb', sysTool('ip'), ['addr', 'add', `${b.vip}/32`, 'dev', 'lo']);
}

/** Sets the configuration up in the LB node; returns what the client aims at. */
export async function setUp(config: LbConfig, b: BenchLab): Promise<Target> {
  const vipTarget = (udp: boolean): Target => ({ http: [b.vip], udp: udp ? [b.vip] : null, procs: [] });
  switch (config) {
    case 'direct':
      return { http: b.backends.map((x) => x.ip), udp: b.backends.map((x) => x.ip), procs: [] };
    case 'xlb-tc':
    case 'xlb-xdp': {
      const agent = await startLabAgent(b.lab, {
        ifaces: [b.lbClientIf, b.lbBackendIf],
        hook: config === 'xlb-tc' ? 'tc' : 'xdp',
        config: path.join(b.dir, 'agent.yaml'),
        // Two entries per flow; connections/s leaves every connection of a run in the table.
        extraArgs: ['--ct-entries', String(1 << 20), '--max-services', '16'],
      });
      const endpoints = (port: number): { ip: string; port: number }[] => b.backends.map((x) => ({ ip: x.ip, port }));
      await agent.client.putService('web', {
        vip: b.vip,
        port: HTTP_PORT,
        protocol: 'tcp',
        algorithm: 'maglev',
        endpoints: endpoints(HTTP_PORT),
      });
      await agent.client.putService('udp', {
        vip: b.vip,
        port: UDP_PORT,
        protocol: 'udp',
        algorithm: 'maglev',
        endpoints: endpoints(UDP_PORT),
      });
      return { ...vipTarget(true), procs: [agent.process] };
    }
    case 'nft-dnat':
    case 'nft-masq': {
      const masq =
        config === 'nft-masq'
          ? `  chain postrouting { type nat hook postrouting priority srcnat; policy accept; oifname "${b.lbBackendIf}" ct status dnat masquerade; }\n`
          : '';
      await nft(
        b.lab,
        `table ip xlbbench {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr ${b.vip} tcp dport ${HTTP_PORT} dnat to ${numgenMap(b)}
    ip daddr ${b.vip} udp dport ${UDP_PORT} dnat to ${numgenMap(b)}
  }
${masq}}
`,
      );
      return vipTarget(true);
    }
    case 'nginx': {
      await vipOnLo(b);
      const up = (port: number): string => b.backends.map((x) => `server ${x.ip}:${port};`).join(' ');
      const body = `stream {
  upstream web { ${up(HTTP_PORT)} }
  upstream dns { ${up(UDP_PORT)} }
  server { listen ${b.vip}:${HTTP_PORT} backlog=4096 reuseport; proxy_pass web; }
  server { listen ${b.vip}:${UDP_PORT} udp reuseport; proxy_pass dns; proxy_responses 0; proxy_timeout 1s; }
}`;
      const proc = await startNginx(b.lab, 'lb', path.join(b.dir, 'lb-nginx'), body, [
        { port: HTTP_PORT, proto: 'tcp' },
        { port: UDP_PORT, proto: 'udp' },
      ]);
      return { ...vipTarget(true), procs: [proc] };
    }
    case 'haproxy': {
      await vipOnLo(b);
      mkdirSync(b.dir, { recursive: true });
      const cfg = path.join(b.dir, 'haproxy.cfg');
      // maxconn: HAProxy needs ~2 fds per connection and refuses to start when maxconn does not
      // fit the hard fd limit (20,000 here; raising it needs CAP_SYS_RESOURCE, which this machine's
      // root lacks). 9,000 fits and is far above the bench's 64 concurrent connections.
      writeFileSync(
        cfg,
        `# written by xlb bench
global
  maxconn 9000
  nbthread 2
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend web
  bind ${b.vip}:${HTTP_PORT}
  default_backend web
backend web
  balance roundrobin
${b.backends.map((x) => `  server ${x.node} ${x.ip}:${HTTP_PORT}`).join('\n')}
`,
      );
      const proc = await b.lab.spawn('lb', sysTool('haproxy'), ['-db', '-f', cfg]);
      await waitListening(b.lab, 'lb', HTTP_PORT, 'tcp', proc);
      return { ...vipTarget(false), procs: [proc] };
    }
  }
}

const SYSTEM_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];

/**
 * The absolute path of a system tool. Not through PATH: under npx/ava, node_modules/.bin comes
 * first, and it holds an unrelated `nft` (@vercel/nft, a file tracer).
 */
export function sysTool(name: string): string {
  for (const d of SYSTEM_DIRS) {
    const p = path.join(d, name);
    if (existsSync(p)) return p;
  }
  throw new Error(
    `the lab bench needs '${name}' and found it in none of ${SYSTEM_DIRS.join(', ')}: run ./xlb setup (it installs wrk, nginx, haproxy, netsniff-ng for trafgen, nftables)`,
  );
}
