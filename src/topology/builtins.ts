// The built-in topologies. Addresses are the same in every run (labs are isolated from each
// other, so they never clash), which keeps scenarios and captures readable:
//
//   clients segment   198.18.1.0/24   fd00:18:1::/64     lb .1, router .2, client i .(10+i)
//   backends segment  198.18.2.0/24   fd00:18:2::/64     lb .1, router .2, backend i .(10+i)
//   one-arm lan       198.18.1.0/24   fd00:18:1::/64     lb .1, client i .(10+i), backend i .(100+i)
//   VIPs              198.18.100.0/24 fd00:18:100::/64   routed to the LB by every client
//
// No node has a default route: "reach the rest of the lab" is a route for 198.18.0.0/15 and
// fd00::/8, so `ip route get 8.8.8.8` fails everywhere.
import type { NodeSpec, RouteSpec, SegmentSpec, TopologySpec } from './topology.ts';

export const LAB_V4 = '198.18.0.0/15';
export const LAB_V6 = 'fd00::/8';
export const CLIENT_NET = { ipv4: '198.18.1.0/24', ipv6: 'fd00:18:1::/64' } as const;
export const BACKEND_NET = { ipv4: '198.18.2.0/24', ipv6: 'fd00:18:2::/64' } as const;
export const VIP_NET = { ipv4: '198.18.100.0/24', ipv6: 'fd00:18:100::/64' } as const;
/** The first VIP of the convention, for examples and tests. */
export const VIP = { ipv4: '198.18.100.1', ipv6: 'fd00:18:100::1' } as const;

export interface BuiltinParams {
  clients: number;
  backends: number;
  /** Dual stack (IPv6 addresses and routes as well); default true. */
  ipv6: boolean;
  /** Checksum offload (tx) on every interface; default true (the kernel default). */
  offload: boolean;
  /** Permanent neighbour entries on every segment (no ARP/ND in captures); default false. */
  staticNeighbours: boolean;
  mtu: number;
}

export const DEFAULT_PARAMS: BuiltinParams = { clients: 1, backends: 3, ipv6: true, offload: true, staticNeighbours: false, mtu: 1500 };

export interface BuiltinInfo {
  name: string;
  summary: string;
  maxClients: number;
  maxBackends: number;
  build(p: BuiltinParams): TopologySpec;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

function routes(ipv6: boolean, pairs: [string, string, string, string][]): RouteSpec[] {
  const out: RouteSpec[] = [];
  for (const [to4, via4, to6, via6] of pairs) {
    out.push({ to: to4, via: via4 });
    if (ipv6) out.push({ to: to6, via: via6 });
  }
  return out;
}

function segment(p: BuiltinParams, name: string, net: { ipv4: string; ipv6: string }, members: [string, number][]): SegmentSpec {
  const s: SegmentSpec = {
    name,
    ipv4: net.ipv4,
    mtu: p.mtu,
    offload: p.offload,
    staticNeighbours: p.staticNeighbours,
    members: members.map(([node, host]) => ({ node, host })),
  };
  if (p.ipv6) s.ipv6 = net.ipv6;
  return s;
}

/** Single stack means no IPv6 at all: no link-local addresses, no ND/MLD chatter in captures. */
function withFamilySysctls(p: BuiltinParams, t: TopologySpec): TopologySpec {
  if (p.ipv6) return t;
  for (const n of t.nodes) n.sysctls = { ...n.sysctls, 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 };
  return t;
}

function vip(p: BuiltinParams): TopologySpec['vip'] {
  return p.ipv6 ? { ipv4: VIP_NET.ipv4, ipv6: VIP_NET.ipv6, lb: 'lb' } : { ipv4: VIP_NET.ipv4, lb: 'lb' };
}

/** clients ↔ lb ↔ backends; the LB forwards; backends route the lab via the LB. */
function twoArm(p: BuiltinParams): TopologySpec {
  const clients = range(p.clients).map((i): NodeSpec => ({
    name: `c${i}`,
    role: 'client',
    routes: routes(p.ipv6, [
      [VIP_NET.ipv4, '198.18.1.1', VIP_NET.ipv6, 'fd00:18:1::1'],
      [LAB_V4, '198.18.1.1', LAB_V6, 'fd00:18:1::1'],
    ]),
  }));
  const backends = range(p.backends).map((i): NodeSpec => ({
    name: `b${i}`,
    role: 'backend',
    routes: routes(p.ipv6, [[LAB_V4, '198.18.2.1', LAB_V6, 'fd00:18:2::1']]),
  }));
  return {
    name: 'two-arm',
    description: `${p.clients} client(s) ↔ lb ↔ ${p.backends} backend(s); backends route the lab via the lb`,
    nodes: [{ name: 'lb', role: 'lb' }, ...clients, ...backends],
    segments: [
      segment(p, 'clients', CLIENT_NET, [['lb', 1], ...range(p.clients).map((i): [string, number] => [`c${i}`, 10 + i])]),
      segment(p, 'backends', BACKEND_NET, [['lb', 1], ...range(p.backends).map((i): [string, number] => [`b${i}`, 10 + i])]),
    ],
    vip: vip(p),
  };
}

/** Clients, LB and backends on one segment (full NAT or DSR territory). */
function oneArm(p: BuiltinParams): TopologySpec {
  const clients = range(p.clients).map((i): NodeSpec => ({
    name: `c${i}`,
    role: 'client',
    routes: routes(p.ipv6, [[VIP_NET.ipv4, '198.18.1.1', VIP_NET.ipv6, 'fd00:18:1::1']]),
  }));
  const backends = range(p.backends).map((i): NodeSpec => ({ name: `b${i}`, role: 'backend' }));
  return {
    name: 'one-arm',
    description: `${p.clients} client(s), the lb and ${p.backends} backend(s) on one segment`,
    nodes: [{ name: 'lb', role: 'lb' }, ...clients, ...backends],
    segments: [
      segment(p, 'lan', CLIENT_NET, [
        ['lb', 1],
        ...range(p.clients).map((i): [string, number] => [`c${i}`, 10 + i]),
        ...range(p.backends).map((i): [string, number] => [`b${i}`, 100 + i]),
      ]),
    ],
    vip: vip(p),
  };
}

/**
 * Direct server return: clients send VIP traffic to the lb, which hands it to a backend at L2;
 * backends hold the VIPs (local routes on lo, arp_ignore/arp_announce) and answer through the
 * router `rt`, never through the lb.
 */
function dsr(p: BuiltinParams): TopologySpec {
  const clients = range(p.clients).map((i): NodeSpec => ({
    name: `c${i}`,
    role: 'client',
    routes: routes(p.ipv6, [
      [VIP_NET.ipv4, '198.18.1.1', VIP_NET.ipv6, 'fd00:18:1::1'],
      [LAB_V4, '198.18.1.2', LAB_V6, 'fd00:18:1::2'],
    ]),
  }));
  const localPrefixes = p.ipv6 ? [VIP_NET.ipv4, VIP_NET.ipv6] : [VIP_NET.ipv4];
  const backends = range(p.backends).map((i): NodeSpec => ({
    name: `b${i}`,
    role: 'backend',
    localPrefixes,
    // A UDP server answers from the VIP only if bound to it; IPv6 binds need this for an address
    // that is only covered by a local route.
    sysctls: { 'net.ipv6.ip_nonlocal_bind': 1, 'net.ipv4.ip_nonlocal_bind': 1 },
    routes: routes(p.ipv6, [[LAB_V4, '198.18.2.2', LAB_V6, 'fd00:18:2::2']]),
  }));
  return {
    name: 'dsr',
    description: `${p.clients} client(s) → lb → ${p.backends} backend(s) holding the VIPs; replies via router rt`,
    nodes: [{ name: 'lb', role: 'lb' }, { name: 'rt', role: 'router' }, ...clients, ...backends],
    segments: [
      segment(p, 'clients', CLIENT_NET, [['lb', 1], ['rt', 2], ...range(p.clients).map((i): [string, number] => [`c${i}`, 10 + i])]),
      segment(p, 'backends', BACKEND_NET, [['lb', 1], ['rt', 2], ...range(p.backends).map((i): [string, number] => [`b${i}`, 10 + i])]),
    ],
    vip: vip(p),
  };
}

export const BUILTINS: Record<string, BuiltinInfo> = {
  'two-arm': {
    name: 'two-arm',
    summary: 'client network ↔ LB ↔ backend network (default)',
    maxClients: 200,
    maxBackends: 200,
    build: twoArm,
  },
  'one-arm': { name: 'one-arm', summary: 'clients, LB and backends on one segment', maxClients: 89, maxBackends: 150, build: oneArm },
  dsr: {
    name: 'dsr',
    summary: 'backends hold the VIP on lo and reply via a router, not the LB',
    maxClients: 200,
    maxBackends: 200,
    build: dsr,
  },
};

/** A built-in topology with parameters (missing ones take DEFAULT_PARAMS). */
export function builtinTopology(name: string, params: Partial<BuiltinParams> = {}): TopologySpec {
  const info = BUILTINS[name];
  if (info === undefined) {
    throw new Error(`unknown topology '${name}': the built-ins are ${Object.keys(BUILTINS).join(', ')} (or give a .yaml/.json file)`);
  }
  const p: BuiltinParams = { ...DEFAULT_PARAMS, ...params };
  for (const [k, max] of [
    ['clients', info.maxClients],
    ['backends', info.maxBackends],
  ] as const) {
    const v = p[k];
    if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`${name}: ${k} must be an integer 1-${max}, got ${String(v)}`);
  }
  return withFamilySysctls(p, info.build(p));
}
