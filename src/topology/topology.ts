// Topology declarations (what a lab is made of) and their resolution into concrete names,
// addresses and MACs for one run id. Pure: nothing here touches the system.
//
// A topology is nodes (network namespaces) and segments (L2 networks). A segment with two
// members is one veth pair; with more, a bridge in its own switch namespace and one veth pair per
// member. Every member gets host number `host` of the segment's prefixes (IPv4 and, optionally,
// IPv6) and a deterministic MAC, so captures of two runs compare byte for byte.
import { contains, familyOf, hostAddress, parsePrefix, prefixText } from './addr.ts';
import type { Prefix } from './addr.ts';
import { NODE_NAME_RE, bridgeName, netnsName, nodeIfname, switchNetnsName, switchPortName } from './naming.ts';

export type Role = 'client' | 'lb' | 'backend' | 'router' | 'host';
export const ROLES: readonly Role[] = ['client', 'lb', 'backend', 'router', 'host'];

export interface RouteSpec {
  /** Destination prefix, e.g. "198.18.100.0/24". */
  to: string;
  /** Gateway address on one of the node's segments. */
  via: string;
}

export interface NodeSpec {
  /** 1-4 chars, [a-z][a-z0-9]*: it is part of namespace and interface names. */
  name: string;
  role: Role;
  routes?: RouteSpec[];
  /** Prefixes the node treats as its own (a `local` route on lo): DSR backends hold the VIPs so. */
  localPrefixes?: string[];
  /** Extra sysctls, applied after the role defaults ("net.ipv4.ip_forward": 1). */
  sysctls?: Record<string, string | number>;
}

export interface MemberSpec {
  node: string;
  /** Host number in the segment's prefixes: 198.18.1.0/24 + host 11 = 198.18.1.11, fd00:18:1::11. */
  host: number;
  /** Checksum offload on this member's interface (default: the segment's, else on). */
  offload?: boolean;
}

export interface SegmentSpec {
  /** Human name, also the interface alias ("clients", "backends"). */
  name: string;
  ipv4: string;
  ipv6?: string;
  mtu?: number;
  /** Checksum offload (tx) on every member interface; default on (the kernel's default). */
  offload?: boolean;
  /** Permanent neighbour entries between all members: no ARP/ND on this segment. */
  staticNeighbours?: boolean;
  members: MemberSpec[];
}

export interface VipSpec {
  ipv4: string;
  ipv6?: string;
  /** The node clients route the VIP prefixes to. */
  lb: string;
}

export interface TopologySpec {
  name: string;
  description?: string;
  nodes: NodeSpec[];
  segments: SegmentSpec[];
  vip?: VipSpec;
}

export interface ResolvedIface {
  node: string;
  segment: string;
  ifname: string;
  /** Fixed at creation (unique within the lab; see ResolvedLink). */
  ifindex: number;
  mac: string;
  ipv4: string;
  ipv6?: string;
  /** Prefix lengths, for `ip addr add ADDR/LEN`. */
  ipv4Len: number;
  ipv6Len?: number;
  mtu: number;
  offload: boolean;
}

export interface ResolvedNode {
  name: string;
  role: Role;
  netns: string;
  ifaces: ResolvedIface[];
  routes: RouteSpec[];
  localPrefixes: string[];
  sysctls: Record<string, string>;
}

export interface ResolvedSwitch {
  name: string;
  segment: string;
  netns: string;
  bridge: string;
  ports: string[];
}

/**
 * One veth pair: both ends are created directly inside their namespaces, with ifindexes unique
 * in the lab. (The kernel treats a veth's carrier change as urgent only when its ifindex differs
 * from its peer's; two fresh namespaces would both number their first veth 2, and the bridge
 * port would then wait for the once-a-second linkwatch run before forwarding.)
 */
export interface ResolvedLink {
  a: { netns: string; ifname: string; ifindex: number };
  b: { netns: string; ifname: string; ifindex: number };
  segment: string;
}

/** ifindexes of the k-th veth pair of a lab. */
function linkIndexes(k: number): [number, number] {
  return [10 + 2 * k, 11 + 2 * k];
}

export interface ResolvedTopology {
  id: string;
  spec: TopologySpec;
  nodes: ResolvedNode[];
  switches: ResolvedSwitch[];
  links: ResolvedLink[];
}

const SYSCTL_KEY_RE = /^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/;
const SYSCTL_VALUE_RE = /^[0-9a-zA-Z ._-]*$/;

function roleSysctls(role: Role): Record<string, string> {
  const forwarding = role === 'lb' || role === 'router';
  const s: Record<string, string> = {
    // Reverse-path filtering would drop the asymmetric flows DNAT/DSR produce.
    'net.ipv4.conf.all.rp_filter': '0',
    'net.ipv4.conf.default.rp_filter': '0',
  };
  if (forwarding) {
    s['net.ipv4.ip_forward'] = '1';
    s['net.ipv6.conf.all.forwarding'] = '1';
  }
  if (role === 'backend') {
    // Needed when a backend holds VIPs on lo (DSR): never answer ARP for them on the wire.
    s['net.ipv4.conf.all.arp_ignore'] = '1';
    s['net.ipv4.conf.all.arp_announce'] = '2';
  }
  return s;
}

/** Deterministic MAC: 02:00:c6:12:<segment index>:<host> (c6:12 = 198.18). */
function macFor(segIndex: number, host: number): string {
  const h = (n: number): string => n.toString(16).padStart(2, '0');
  return `02:00:c6:12:${h(segIndex + 1)}:${h(host)}`;
}

/** Checks a declaration; throws one error listing every problem found. */
export function validateTopology(spec: TopologySpec): void {
  const errs: string[] = [];
  if (typeof spec.name !== 'string' || spec.name === '') errs.push('topology: `name` is required');
  if (!Array.isArray(spec.nodes) || spec.nodes.length === 0) errs.push('topology: `nodes` must list at least one node');
  if (!Array.isArray(spec.segments)) errs.push('topology: `segments` must be a list');
  const nodes = new Map<string, NodeSpec>();
  for (const [i, n] of (spec.nodes ?? []).entries()) {
    const where = `nodes[${i}]`;
    if (typeof n.name !== 'string' || !NODE_NAME_RE.test(n.name)) {
      errs.push(
        `${where}: name '${String(n.name)}' must be 1-4 chars, a letter then letters/digits (it is part of 15-char interface names)`,
      );
    } else if (n.name === 'sw') {
      errs.push(`${where}: the node name 'sw' is reserved for switch namespaces`);
    } else if (nodes.has(n.name)) errs.push(`${where}: duplicate node name '${n.name}'`);
    else nodes.set(n.name, n);
    if (!ROLES.includes(n.role)) errs.push(`${where}: role '${String(n.role)}' is not one of ${ROLES.join(', ')}`);
    for (const [k, v] of Object.entries(n.sysctls ?? {})) {
      if (!SYSCTL_KEY_RE.test(k) || !SYSCTL_VALUE_RE.test(String(v)))
        errs.push(`${where}: sysctl '${k}=${String(v)}' is not a plain key=value`);
    }
    for (const p of n.localPrefixes ?? []) {
      try {
        parsePrefix(p);
      } catch (e) {
        errs.push(`${where}.localPrefixes: ${(e as Error).message}`);
      }
    }
  }
  const segNames = new Set<string>();
  const segPrefixes: Prefix[] = [];
  const nodeIfaceCount = new Map<string, number>();
  for (const [i, s] of (spec.segments ?? []).entries()) {
    const where = `segments[${i}] (${String(s.name)})`;
    if (typeof s.name !== 'string' || !/^[a-z][a-z0-9-]{0,14}$/.test(s.name))
      errs.push(`${where}: name must be 1-15 chars [a-z0-9-], starting with a letter`);
    else if (segNames.has(s.name)) errs.push(`${where}: duplicate segment name`);
    segNames.add(s.name);
    let v4: Prefix | undefined;
    let v6: Prefix | undefined;
    try {
      v4 = parsePrefix(s.ipv4);
      if (v4.family !== 4) errs.push(`${where}: ipv4 '${s.ipv4}' is an IPv6 prefix`);
      else if (!contains(parsePrefix('198.18.0.0/15'), prefixText(v4).split('/')[0] ?? '') || v4.length < 15) {
        errs.push(`${where}: ipv4 '${s.ipv4}' must lie inside 198.18.0.0/15 (the lab rules)`);
      }
    } catch (e) {
      errs.push(`${where}: ${(e as Error).message}`);
    }
    if (s.ipv6 !== undefined) {
      try {
        v6 = parsePrefix(s.ipv6);
        if (v6.family !== 6) errs.push(`${where}: ipv6 '${s.ipv6}' is an IPv4 prefix`);
        else if (!contains(parsePrefix('fd00::/8'), prefixText(v6).split('/')[0] ?? '') || v6.length < 8) {
          errs.push(`${where}: ipv6 '${s.ipv6}' must lie inside fd00::/8 (the lab rules)`);
        }
      } catch (e) {
        errs.push(`${where}: ${(e as Error).message}`);
      }
    }
    for (const p of [v4, v6]) if (p !== undefined) segPrefixes.push(p);
    if (s.mtu !== undefined && (!Number.isInteger(s.mtu) || s.mtu < 1280 || s.mtu > 65535))
      errs.push(`${where}: mtu ${s.mtu} must be an integer 1280-65535`);
    if (!Array.isArray(s.members) || s.members.length < 2) {
      errs.push(`${where}: a segment needs at least two members`);
      continue;
    }
    const hosts = new Set<number>();
    const members = new Set<string>();
    for (const [j, m] of s.members.entries()) {
      const mw = `${where}.members[${j}]`;
      if (!nodes.has(m.node)) errs.push(`${mw}: node '${m.node}' is not declared in nodes`);
      if (members.has(m.node)) errs.push(`${mw}: node '${m.node}' is already on this segment`);
      members.add(m.node);
      if (!Number.isInteger(m.host) || m.host < 1 || m.host > 254) errs.push(`${mw}: host ${m.host} must be an integer 1-254`);
      else if (hosts.has(m.host)) errs.push(`${mw}: host number ${m.host} is used twice`);
      hosts.add(m.host);
      try {
        if (v4 !== undefined) hostAddress(v4, m.host);
      } catch (e) {
        errs.push(`${mw}: ${(e as Error).message}`);
      }
      nodeIfaceCount.set(m.node, (nodeIfaceCount.get(m.node) ?? 0) + 1);
    }
  }
  for (const [n, c] of nodeIfaceCount)
    if (c > 10) errs.push(`node '${n}': at most 10 segments per node (interface names end in one digit)`);
  for (const [i, n] of (spec.nodes ?? []).entries()) {
    for (const r of n.routes ?? []) {
      try {
        const to = parsePrefix(r.to);
        if (familyOf(r.via) !== to.family) errs.push(`nodes[${i}] (${n.name}): route ${r.to} via ${r.via} mixes IPv4 and IPv6`);
        else if (!segPrefixes.some((p) => contains(p, r.via)))
          errs.push(`nodes[${i}] (${n.name}): gateway ${r.via} is on none of the lab's segments`);
        if (to.length === 0)
          errs.push(
            `nodes[${i}] (${n.name}): route ${r.to} is a default route; lab nodes may only route lab prefixes (198.18.0.0/15, fd00::/8)`,
          );
      } catch (e) {
        errs.push(`nodes[${i}] (${n.name}): ${(e as Error).message}`);
      }
    }
  }
  if (spec.vip !== undefined) {
    if (!nodes.has(spec.vip.lb)) errs.push(`vip: lb '${spec.vip.lb}' is not a declared node`);
    try {
      parsePrefix(spec.vip.ipv4);
      if (spec.vip.ipv6 !== undefined) parsePrefix(spec.vip.ipv6);
    } catch (e) {
      errs.push(`vip: ${(e as Error).message}`);
    }
  }
  if (errs.length > 0) throw new Error(`invalid topology '${String(spec.name)}':\n  - ${errs.join('\n  - ')}`);
}

/** Concrete names, addresses and links of a topology for one run id. */
export function resolveTopology(spec: TopologySpec, id: string): ResolvedTopology {
  validateTopology(spec);
  const nodes = new Map<string, ResolvedNode>();
  for (const n of spec.nodes) {
    const sysctls = roleSysctls(n.role);
    for (const [k, v] of Object.entries(n.sysctls ?? {})) sysctls[k] = String(v);
    nodes.set(n.name, {
      name: n.name,
      role: n.role,
      netns: netnsName(id, n.name),
      ifaces: [],
      routes: [...(n.routes ?? [])],
      localPrefixes: [...(n.localPrefixes ?? [])],
      sysctls,
    });
  }
  const switches: ResolvedSwitch[] = [];
  const links: ResolvedLink[] = [];
  spec.segments.forEach((s, segIndex) => {
    const v4 = parsePrefix(s.ipv4);
    const v6 = s.ipv6 !== undefined ? parsePrefix(s.ipv6) : undefined;
    const ifaces = s.members.map((m) => {
      const node = nodes.get(m.node);
      if (node === undefined) throw new Error(`unreachable: node ${m.node} vanished`);
      const iface: ResolvedIface = {
        node: m.node,
        segment: s.name,
        ifname: nodeIfname(id, m.node, node.ifaces.length),
        ifindex: 0,
        mac: macFor(segIndex, m.host),
        ipv4: hostAddress(v4, m.host),
        ipv4Len: v4.length,
        mtu: s.mtu ?? 1500,
        offload: m.offload ?? s.offload ?? true,
      };
      if (v6 !== undefined) {
        iface.ipv6 = hostAddress(v6, m.host);
        iface.ipv6Len = v6.length;
      }
      node.ifaces.push(iface);
      return { iface, netns: node.netns };
    });
    if (ifaces.length === 2) {
      const [x, y] = ifaces;
      if (x !== undefined && y !== undefined) {
        const [ia, ib] = linkIndexes(links.length);
        x.iface.ifindex = ia;
        y.iface.ifindex = ib;
        links.push({
          a: { netns: x.netns, ifname: x.iface.ifname, ifindex: ia },
          b: { netns: y.netns, ifname: y.iface.ifname, ifindex: ib },
          segment: s.name,
        });
      }
      return;
    }
    const swName = `s${switches.length + 1}`;
    const sw: ResolvedSwitch = {
      name: swName,
      segment: s.name,
      netns: switchNetnsName(id, swName),
      bridge: bridgeName(id, swName),
      ports: [],
    };
    ifaces.forEach(({ iface, netns }, n) => {
      const port = switchPortName(id, swName, n);
      sw.ports.push(port);
      const [ia, ib] = linkIndexes(links.length);
      iface.ifindex = ia;
      links.push({ a: { netns, ifname: iface.ifname, ifindex: ia }, b: { netns: sw.netns, ifname: port, ifindex: ib }, segment: s.name });
    });
    switches.push(sw);
  });
  return { id, spec, nodes: [...nodes.values()], switches, links };
}

/** Every namespace of a resolved topology (nodes first, then switches). */
export function allNetns(t: ResolvedTopology): string[] {
  return [...t.nodes.map((n) => n.netns), ...t.switches.map((s) => s.netns)];
}

export function findNode(t: ResolvedTopology, name: string): ResolvedNode {
  const n = t.nodes.find((x) => x.name === name);
  if (n === undefined) throw new Error(`lab ${t.id}: no node '${name}' (nodes: ${t.nodes.map((x) => x.name).join(', ')})`);
  return n;
}

/** The interface of `node` on `segment` (or its only/first interface when segment is omitted). */
export function findIface(t: ResolvedTopology, node: string, segment?: string): ResolvedIface {
  const n = findNode(t, node);
  const i = segment === undefined ? n.ifaces[0] : n.ifaces.find((x) => x.segment === segment);
  if (i === undefined) {
    throw new Error(
      `lab ${t.id}: node '${node}' has no interface${segment !== undefined ? ` on segment '${segment}'` : ''} (segments: ${n.ifaces.map((x) => x.segment).join(', ') || 'none'})`,
    );
  }
  return i;
}
