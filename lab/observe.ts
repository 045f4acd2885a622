// Observation helpers: the kernel's view of a node (iproute2 and tc JSON, ethtool features) and
// a generic reader for pinned BPF maps (the datapath-specific readers build on it).
import type { Lab } from './lab.ts';

/** `ip -j ARGS` inside a node, parsed. */
export async function ipJson<T = unknown>(lab: Lab, node: string, args: string[]): Promise<T[]> {
  const r = await lab.exec(node, 'ip', ['-j', ...args]);
  return (r.stdout.trim() === '' ? [] : JSON.parse(r.stdout)) as T[];
}

/** `tc -j ARGS` inside a node, parsed. */
export async function tcJson<T = unknown>(lab: Lab, node: string, args: string[]): Promise<T[]> {
  const r = await lab.exec(node, 'tc', ['-j', ...args]);
  return (r.stdout.trim() === '' ? [] : JSON.parse(r.stdout)) as T[];
}

export interface IpLink {
  ifname: string;
  ifindex: number;
  mtu: number;
  operstate: string;
  address?: string;
  ifalias?: string;
  xdp?: { mode: number; prog?: { id: number; name?: string } };
}

export interface IpAddr {
  ifname: string;
  addr_info: { family: 'inet' | 'inet6'; local: string; prefixlen: number; scope: string }[];
}

export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  type?: string;
  protocol?: string;
}

export interface IpNeigh {
  dst: string;
  dev: string;
  lladdr?: string;
  state: string[];
}

export const links = (lab: Lab, node: string): Promise<IpLink[]> => ipJson<IpLink>(lab, node, ['-d', 'link', 'show']);
export const addrs = (lab: Lab, node: string): Promise<IpAddr[]> => ipJson<IpAddr>(lab, node, ['addr', 'show']);
export const routes = (lab: Lab, node: string, family: 4 | 6 = 4): Promise<IpRoute[]> =>
  ipJson<IpRoute>(lab, node, [`-${family}`, 'route', 'show', 'table', 'all']);
export const neighbours = (lab: Lab, node: string): Promise<IpNeigh[]> => ipJson<IpNeigh>(lab, node, ['neigh', 'show']);

/** `ip route get ADDR` in a node: the route, or null when the destination is unreachable. */
export async function routeGet(lab: Lab, node: string, addr: string): Promise<IpRoute | null> {
  const r = await lab.exec(node, 'ip', ['-j', 'route', 'get', addr], { reject: false });
  if (r.exitCode !== 0) return null;
  const out = JSON.parse(r.stdout) as IpRoute[];
  return out[0] ?? null;
}

/** tc filters on a node's interface hook (clsact ingress/egress): what the datapath attached. */
export function tcFilters(lab: Lab, node: string, ifname: string, hook: 'ingress' | 'egress'): Promise<unknown[]> {
  return tcJson(lab, node, ['filter', 'show', 'dev', ifname, hook]);
}

/** `ethtool -k` features of an interface, as name → on. */
export async function offloadFeatures(lab: Lab, node: string, ifname: string): Promise<Record<string, boolean>> {
  const r = await lab.exec(node, 'ethtool', ['-k', ifname]);
  const out: Record<string, boolean> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*([a-z0-9-]+):\s+(on|off)/.exec(line);
    if (m?.[1] !== undefined) out[m[1]] = m[2] === 'on';
  }
  return out;
}
