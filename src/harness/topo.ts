// What a scenario needs to know about its topology, by name: which nodes are clients, the LB and
// backends, their addresses, and the VIPs. Derived from the lab's declaration (the same
// TopologySpec drives all three backends), so a scenario never writes an address twice.
import { VIP, builtinTopology } from '../topology/builtins.ts';
import type { BuiltinParams } from '../topology/builtins.ts';
import { resolveTopology } from '../topology/topology.ts';
import type { ResolvedNode, TopologySpec } from '../topology/topology.ts';

export interface HostInfo {
  name: string;
  /** The node's address on its first segment (backends: the backend segment). */
  ipv4: string;
  ipv6?: string;
}

export interface TopoInfo {
  spec: TopologySpec;
  clients: HostInfo[];
  backends: HostInfo[];
  lb: HostInfo & { segments: { segment: string; ipv4: string; ipv6?: string }[] };
  /** The first VIP of each family (the topology's VIP prefixes, host 1). */
  vip4: string;
  vip6?: string;
}

function hostOf(n: ResolvedNode): HostInfo {
  const i = n.ifaces[0];
  if (i === undefined) throw new Error(`topology: node '${n.name}' has no interface`);
  return i.ipv6 === undefined ? { name: n.name, ipv4: i.ipv4 } : { name: n.name, ipv4: i.ipv4, ipv6: i.ipv6 };
}

/** Names and addresses of a topology (resolution is pure: the id only names namespaces). */
export function topoInfo(spec: TopologySpec): TopoInfo {
  const r = resolveTopology(spec, 'info0');
  const lbNode = r.nodes.find((n) => n.role === 'lb');
  if (lbNode === undefined) throw new Error(`topology '${spec.name}': a scenario topology needs a node with role 'lb'`);
  const vip4 = spec.vip?.ipv4 === undefined ? VIP.ipv4 : firstHost(spec.vip.ipv4);
  const vip6 = spec.vip?.ipv6 === undefined ? undefined : firstHost(spec.vip.ipv6);
  const info: TopoInfo = {
    spec,
    clients: r.nodes.filter((n) => n.role === 'client').map(hostOf),
    backends: r.nodes
      .filter((n) => n.role === 'backend')
      .map((n) => {
        // A backend's address is the one on the segment it shares with the LB, when it has several.
        const shared = n.ifaces.find((i) => lbNode.ifaces.some((l) => l.segment === i.segment)) ?? n.ifaces[0];
        if (shared === undefined) throw new Error(`topology: node '${n.name}' has no interface`);
        return shared.ipv6 === undefined ? { name: n.name, ipv4: shared.ipv4 } : { name: n.name, ipv4: shared.ipv4, ipv6: shared.ipv6 };
      }),
    lb: {
      ...hostOf(lbNode),
      segments: lbNode.ifaces.map((i) =>
        i.ipv6 === undefined ? { segment: i.segment, ipv4: i.ipv4 } : { segment: i.segment, ipv4: i.ipv4, ipv6: i.ipv6 },
      ),
    },
    vip4,
  };
  if (vip6 !== undefined) info.vip6 = vip6;
  return info;
}

/** "198.18.100.0/24" → "198.18.100.1"; an address without a length is returned as is. */
function firstHost(prefixOrAddr: string): string {
  const [addr, len] = prefixOrAddr.split('/');
  if (addr === undefined || len === undefined) return prefixOrAddr;
  if (addr.includes(':')) return addr.endsWith('::') ? `${addr}1` : addr;
  const parts = addr.split('.').map(Number);
  parts[3] = (parts[3] ?? 0) + 1;
  return parts.join('.');
}

/** The default topology of a scenario: two-arm, one client, three backends, dual stack. */
export function twoArm(params: Partial<BuiltinParams> = {}): TopologySpec {
  return builtinTopology('two-arm', { clients: 1, backends: 3, ...params });
}

export function oneArm(params: Partial<BuiltinParams> = {}): TopologySpec {
  return builtinTopology('one-arm', { clients: 1, backends: 3, ...params });
}
