// What `up` runs, as data: one `ip -batch` in the host namespace (create namespaces and veth
// pairs, both ends born inside their namespaces, so nothing ever appears in the host namespace)
// and one step per namespace (sysctls, `ip -batch`, ethtool). Pure, so it is unit tested without
// root, and fast to execute: two rounds of processes whatever the size of the lab.
import type { ResolvedTopology } from '../src/topology/topology.ts';

export interface NetnsStep {
  netns: string;
  sysctls: Record<string, string>;
  /** Lines for `ip -batch -` run inside the namespace. */
  ipBatch: string[];
  /** `ethtool -K IF tx off` for interfaces with checksum offload off. */
  offloadOff: string[];
}

export interface BringUpPlan {
  hostBatch: string[];
  steps: NetnsStep[];
}

export function planUp(t: ResolvedTopology): BringUpPlan {
  const hostBatch: string[] = [];
  for (const n of t.nodes) hostBatch.push(`netns add ${n.netns}`);
  for (const s of t.switches) hostBatch.push(`netns add ${s.netns}`);
  for (const l of t.links) {
    hostBatch.push(
      `link add ${l.a.ifname} index ${l.a.ifindex} netns ${l.a.netns} type veth peer name ${l.b.ifname} index ${l.b.ifindex} netns ${l.b.netns}`,
    );
  }

  // Static neighbours: every member of a segment knows every other member's MAC.
  const segMembers = new Map<string, { ipv4: string; ipv6?: string; mac: string; node: string }[]>();
  for (const n of t.nodes) {
    for (const i of n.ifaces) {
      const list = segMembers.get(i.segment) ?? [];
      list.push({ ipv4: i.ipv4, ...(i.ipv6 !== undefined ? { ipv6: i.ipv6 } : {}), mac: i.mac, node: n.name });
      segMembers.set(i.segment, list);
    }
  }
  const staticSegs = new Set(t.spec.segments.filter((s) => s.staticNeighbours === true).map((s) => s.name));

  const steps: NetnsStep[] = [];
  for (const n of t.nodes) {
    const sysctls: Record<string, string> = { ...n.sysctls };
    const ip: string[] = ['link set dev lo up'];
    const offloadOff: string[] = [];
    for (const i of n.ifaces) {
      // No duplicate address detection, no router solicitations: addresses work at once and
      // captures are not littered with ND chatter.
      sysctls[`net.ipv6.conf.${i.ifname}.accept_dad`] = '0';
      sysctls[`net.ipv6.conf.${i.ifname}.router_solicitations`] = '0';
      ip.push(`link set dev ${i.ifname} address ${i.mac} mtu ${i.mtu} alias ${i.segment} up`);
      ip.push(`addr add ${i.ipv4}/${i.ipv4Len} dev ${i.ifname}`);
      if (i.ipv6 !== undefined) ip.push(`addr add ${i.ipv6}/${i.ipv6Len ?? 64} dev ${i.ifname} nodad`);
      if (!i.offload) offloadOff.push(i.ifname);
      if (staticSegs.has(i.segment)) {
        for (const m of segMembers.get(i.segment) ?? []) {
          if (m.node === n.name) continue;
          ip.push(`neigh replace ${m.ipv4} lladdr ${m.mac} dev ${i.ifname} nud permanent`);
          if (m.ipv6 !== undefined && i.ipv6 !== undefined)
            ip.push(`neigh replace ${m.ipv6} lladdr ${m.mac} dev ${i.ifname} nud permanent`);
        }
      }
    }
    // `ip -batch` takes no per-line options: the family follows from the addresses.
    for (const r of n.routes) ip.push(`route add ${r.to} via ${r.via}`);
    for (const p of n.localPrefixes) ip.push(`route add local ${p} dev lo table local`);
    steps.push({ netns: n.netns, sysctls, ipBatch: ip, offloadOff });
  }
  for (const s of t.switches) {
    const ip = [
      'link set dev lo up',
      `link add name ${s.bridge} type bridge forward_delay 0 stp_state 0 mcast_snooping 0`,
      ...s.ports.map((p) => `link set dev ${p} master ${s.bridge} up`),
      `link set dev ${s.bridge} up`,
    ];
    // A switch has no addresses: no IPv6 at all means no link-local chatter from it.
    steps.push({
      netns: s.netns,
      sysctls: { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' },
      ipBatch: ip,
      offloadOff: [],
    });
  }
  return { hostBatch, steps };
}

/** A POSIX sh script for one namespace step; `ip -batch -` reads the batch from stdin. */
export function stepScript(step: NetnsStep): string {
  const parts: string[] = [];
  const kv = Object.entries(step.sysctls).map(([k, v]) => `'${k}=${v}'`);
  if (kv.length > 0) parts.push(`sysctl -q -w ${kv.join(' ')} >/dev/null`);
  parts.push('ip -batch -');
  for (const ifname of step.offloadOff) parts.push(`ethtool -K ${ifname} tx off >/dev/null`);
  return parts.join(' && ');
}
