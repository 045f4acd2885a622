// Drop records → a diagnosis a person reads: counts per (node, interface, reason, function), the
// flows each group hit, and a named cause with its fix where the pattern is a known one.
import type { DropEvent } from './tracer.ts';

export interface DropGroup {
  node: string;
  ifname: string;
  reason: string;
  function: string;
  count: number;
  /** The redirect target (xdp_devmap_xmit). */
  to?: string;
  /** Up to 5 distinct 5-tuples seen in the group. */
  flows: string[];
  /** A known cause, named, with what to do. */
  diagnosis?: string;
  /**
   * Every packet of the group went to an IPv6 multicast group nobody on the node joined (MLD
   * reports, router solicitations: the kernel frees them at ip6_mc_input). Every lab has these;
   * they are listed last and never explain a lost flow.
   */
  background?: true;
}

export interface DropSummary {
  total: number;
  lost: number;
  groups: DropGroup[];
}

const PROTO: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

function flowOf(e: DropEvent): string | undefined {
  const t = e.tuple;
  if (t === undefined) return undefined;
  const p = PROTO[t.proto] ?? `proto${t.proto}`;
  const ep = (a: string, port: number | undefined): string =>
    port === undefined ? a : a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`;
  return `${p} ${ep(t.src, t.sport)} > ${ep(t.dst, t.dport)}`;
}

/**
 * Known causes. XDP-without-GRO: a frame XDP_REDIRECTed (or XDP_TX'd) into a veth is queued on the
 * peer's NAPI ring, which exists only when the peer has GRO on or an XDP program of its own;
 * otherwise veth_xdp_xmit refuses the bulk with -ENXIO and the frames are freed silently.
 */
function diagnose(e: DropEvent): string | undefined {
  // Kernel 6.x: a veth advertises NETDEV_XDP_ACT_NDO_XMIT only while its peer has GRO on or an
  // XDP program, so the redirect itself fails with -EOPNOTSUPP (xdp_redirect_err).
  if (e.tracepoint === 'xdp_redirect_err' && e.err === 'EOPNOTSUPP' && e.to?.kind === 'veth') {
    const p = e.to.peer;
    const peer =
      p === undefined ? `the peer of ${e.to.ifname}` : `its peer ${p.ifname}${p.netns !== undefined ? ` (netns ${p.netns})` : ''}`;
    const fix =
      p === undefined
        ? `ethtool -K <peer of ${e.to.ifname}> gro on`
        : `${p.netns !== undefined ? `nsenter --net=/run/netns/${p.netns} ` : ''}ethtool -K ${p.ifname} gro on`;
    return `XDP-without-GRO: XDP on ${e.ifname} redirects into veth ${e.to.ifname}; ${peer} has neither GRO nor an XDP program, so the kernel refuses every frame (xdp_redirect_err -EOPNOTSUPP) while xlb's counters count it as forwarded; fix: ${fix} (or attach an XDP program to it)`;
  }
  if (e.tracepoint === 'xdp_devmap_xmit' && e.err === 'ENXIO') {
    const peer = e.to?.ifname ?? '?';
    const where = e.to?.node !== undefined ? ` (in ${e.to.node})` : '';
    return `XDP-without-GRO: frames redirected from ${e.ifname} into veth ${peer}${where} were dropped because its peer has neither GRO nor an XDP program (veth_xdp_xmit -ENXIO); fix: ethtool -K <peer of ${peer}> gro on, or attach an XDP program to that peer`;
  }
  if (e.tracepoint === 'xdp_redirect_err')
    return `XDP redirect from ${e.ifname}${e.to !== undefined ? ` to ${e.to.ifname}` : ''} failed (${e.err ?? 'error'}): the target ifindex is missing, down or cannot take XDP frames`;
  if (e.tracepoint === 'xdp_exception')
    return `XDP program on ${e.ifname} returned ${e.reason.replace('xdp_exception_', '')} or a redirect failed inside the driver`;
  return undefined;
}

export function summarizeDrops(events: readonly DropEvent[], lost = 0): DropSummary {
  const groups = new Map<string, DropGroup>();
  let total = 0;
  for (const e of events) {
    const node = e.node ?? `netns:${e.netns}`;
    const to = e.to === undefined ? undefined : `${e.to.node ?? `netns:${e.to.netns}`}/${e.to.ifname}`;
    const key = [node, e.ifname, e.reason, e.function, to ?? ''].join('\u0000');
    let g = groups.get(key);
    if (g === undefined) {
      g = { node, ifname: e.ifname, reason: e.reason, function: e.function, count: 0, flows: [] };
      if (to !== undefined) g.to = to;
      const d = diagnose(e);
      if (d !== undefined) g.diagnosis = d;
      groups.set(key, g);
    }
    const bg = e.tuple !== undefined && /^ff0/i.test(e.tuple.dst) && e.reason === 'not_specified';
    if (g.count === 0 && bg) g.background = true;
    else if (!bg) delete g.background;
    g.count += e.count;
    total += e.count;
    const f = flowOf(e);
    if (f !== undefined && g.flows.length < 5 && !g.flows.includes(f)) g.flows.push(f);
  }
  // named causes first, then the biggest, background noise last
  const rank = (g: DropGroup): number => (g.diagnosis !== undefined ? 0 : g.background === true ? 2 : 1);
  return { total, lost, groups: [...groups.values()].sort((a, b) => rank(a) - rank(b) || b.count - a.count) };
}

/** Text for the run log: one line per group, the biggest first, diagnoses indented below. */
export function formatDrops(s: DropSummary): string {
  if (s.total === 0 && s.lost === 0) return 'drops: the kernel dropped no packet in the lab namespaces';
  const lines = [
    `drops: ${s.total} packet(s) dropped by the kernel in the lab namespaces${s.lost > 0 ? ` (${s.lost} record(s) lost: the ring buffer was full)` : ''}`,
  ];
  for (const g of s.groups) {
    lines.push(
      `  ${g.count.toString().padStart(6)}  ${g.node} ${g.ifname || '-'}${g.to !== undefined ? ` -> ${g.to}` : ''}  ${g.reason}  at ${g.function}${g.flows.length > 0 ? `  [${g.flows.join(', ')}]` : ''}${g.background === true ? '  (background: IPv6 multicast nobody joined)' : ''}`,
    );
    if (g.diagnosis !== undefined) lines.push(`          ${g.diagnosis}`);
  }
  return lines.join('\n');
}
