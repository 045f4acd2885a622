// ASCII diagram of a resolved topology: the segments as buses with their members (host numbers:
// ".11" is 198.18.x.11 and fd00:18:x::11), then every interface with its name, addresses, MAC
// and checksum-offload setting, so a user can find what to pass to `--iface` or tcpdump.
import type { ResolvedNode, ResolvedTopology } from '../src/topology/topology.ts';

function hostOf(ipv4: string): string {
  return `.${ipv4.split('.').pop() ?? '?'}`;
}

function memberHost(_t: ResolvedTopology, node: ResolvedNode, segment: string): string {
  const i = node.ifaces.find((x) => x.segment === segment);
  return i === undefined ? '' : hostOf(i.ipv4);
}

function segmentTitle(t: ResolvedTopology, name: string): string {
  const s = t.spec.segments.find((x) => x.name === name);
  if (s === undefined) return name;
  return `${name}  ${s.ipv4}${s.ipv6 !== undefined ? `  ${s.ipv6}` : ''}${s.offload === false ? '  (offload off)' : ''}`;
}

function twoSegments(t: ResolvedTopology, a: string, b: string): string[] {
  const on = (n: ResolvedNode, seg: string): boolean => n.ifaces.some((i) => i.segment === seg);
  const left = t.nodes.filter((n) => on(n, a) && !on(n, b));
  const mid = t.nodes.filter((n) => on(n, a) && on(n, b));
  const right = t.nodes.filter((n) => on(n, b) && !on(n, a));
  const rows = Math.max(left.length, mid.length, right.length);
  const L = 14; // left member label + "──"
  const M = 22; // the middle node between the two buses
  const lines = [`  ${segmentTitle(t, a)}`, `${' '.repeat(L + 1 + M)}${segmentTitle(t, b)}`];
  for (let r = 0; r < rows; r++) {
    const l = left[r];
    const m = mid[r];
    const rt = right[r];
    const lpart = l !== undefined ? `  ${l.name.padEnd(4)} ${memberHost(t, l, a).padStart(4)} ──`.padEnd(L, '─') : ' '.repeat(L);
    const lbus = l !== undefined && m !== undefined ? '┼' : l !== undefined ? '┤' : m !== undefined ? '├' : '│';
    const mpart =
      m !== undefined
        ? `── ${memberHost(t, m, a).padEnd(4)} [${m.name}] ${memberHost(t, m, b).padStart(4)} `.padEnd(M, '─')
        : ' '.repeat(M);
    const rbus = m !== undefined && rt !== undefined ? '┼' : m !== undefined ? '┤' : rt !== undefined ? '├' : '│';
    const rpart = rt !== undefined ? `── ${memberHost(t, rt, b).padEnd(4)} ${rt.name}` : '';
    lines.push(`${lpart}${lbus}${mpart}${rbus}${rpart}`);
  }
  return lines;
}

function bus(t: ResolvedTopology, seg: string): string[] {
  const lines = [`  ${segmentTitle(t, seg)}`];
  for (const n of t.nodes.filter((x) => x.ifaces.some((i) => i.segment === seg))) {
    lines.push(`    ├── ${memberHost(t, n, seg).padEnd(5)} ${n.name}${n.role === 'lb' ? '   (LB)' : ''}`);
  }
  return lines;
}

export function renderDiagram(t: ResolvedTopology, labName?: string): string {
  const out: string[] = [];
  out.push(`lab ${labName ?? t.id} (id ${t.id}) · ${t.spec.name}${t.spec.description !== undefined ? ` · ${t.spec.description}` : ''}`);
  if (t.spec.vip !== undefined)
    out.push(`VIPs ${t.spec.vip.ipv4}${t.spec.vip.ipv6 !== undefined ? `, ${t.spec.vip.ipv6}` : ''} → routed to ${t.spec.vip.lb}`);
  out.push('');
  const segs = t.spec.segments.map((s) => s.name);
  const [a, b] = segs;
  if (segs.length === 2 && a !== undefined && b !== undefined) out.push(...twoSegments(t, a, b));
  else for (const s of segs) out.push(...bus(t, s), '');
  out.push('');
  out.push(
    `  ${'node'.padEnd(5)} ${'role'.padEnd(8)} ${'interface'.padEnd(16)} ${'segment'.padEnd(10)} ${'ipv4'.padEnd(16)} ${'ipv6'.padEnd(18)} ${'mac'.padEnd(18)} offload`,
  );
  for (const n of t.nodes) {
    for (const i of n.ifaces) {
      out.push(
        `  ${n.name.padEnd(5)} ${n.role.padEnd(8)} ${i.ifname.padEnd(16)} ${i.segment.padEnd(10)} ${i.ipv4.padEnd(16)} ${(i.ipv6 ?? '-').padEnd(18)} ${i.mac.padEnd(18)} ${i.offload ? 'on' : 'off'}`,
      );
    }
  }
  const lp = t.nodes.filter((n) => n.localPrefixes.length > 0);
  if (lp.length > 0) out.push('', `  local (on lo): ${lp.map((n) => `${n.name} ${n.localPrefixes.join(' ')}`).join('; ')}`);
  out.push(
    `  namespaces: ${t.nodes
      .map((n) => n.netns)
      .concat(t.switches.map((s) => s.netns))
      .join(' ')}`,
  );
  return out.join('\n');
}
