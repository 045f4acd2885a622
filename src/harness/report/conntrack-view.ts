// The conntrack timeline of one result in the HTML report: a row per flow (forward entries, and
// flows the trace saw created), the state after each packet at the LB, the entry at the end.
import type { DpTraceEvent } from '../../datapath/packet-datapath.ts';
import { flowEvents } from '../expect.ts';
import type { FlowSelector } from '../expect.ts';
import type { ResultArtifacts, TopologyNode } from './artifacts.ts';
import { el } from './html.ts';
import type { Child, Markup } from './html.ts';

interface FlowRow {
  sel: FlowSelector;
  label: string;
  backend: string;
  events: DpTraceEvent[];
  final: string;
}

function nodeOfIp(nodes: TopologyNode[], ip: string): string | undefined {
  return nodes.find((n) => n.ifaces.some((i) => i.ipv4 === ip || i.ipv6 === ip))?.name;
}

/** One row per flow: forward conntrack entries, and flows the trace saw created (a flow may have expired since). */
function flows(art: ResultArtifacts): FlowRow[] {
  const obs = { conntrack: art.conntrack, trace: art.trace };
  const sels = new Map<string, FlowSelector & { dst: string; dport: number; proto: string }>();
  for (const e of art.conntrack)
    if (!e.reply)
      sels.set(`${e.key.src}|${e.key.sport}`, {
        clientIp: e.key.src,
        clientPort: e.key.sport,
        dst: e.key.dst,
        dport: e.key.dport,
        proto: e.key.proto,
      });
  for (const ev of art.trace) {
    if (ev.reason !== 'new_flow') continue;
    const k = `${ev.tuple.src}|${ev.tuple.sport}`;
    if (!sels.has(k))
      sels.set(k, { clientIp: ev.tuple.src, clientPort: ev.tuple.sport, dst: ev.tuple.dst, dport: ev.tuple.dport, proto: ev.tuple.proto });
  }
  return [...sels.values()].map((s) => {
    const fwd = art.conntrack.find((e) => !e.reply && e.key.src === s.clientIp && e.key.sport === s.clientPort);
    const backendIp = fwd?.nat.dst;
    const backend = backendIp === undefined ? '' : `${nodeOfIp(art.nodes, backendIp) ?? backendIp}:${fwd?.nat.dport ?? ''}`;
    return {
      sel: { clientIp: s.clientIp, clientPort: s.clientPort },
      label: `${s.proto} ${s.clientIp}:${s.clientPort} → ${s.dst}:${s.dport}`,
      backend,
      events: flowEvents(obs, { clientIp: s.clientIp, clientPort: s.clientPort }),
      final:
        fwd === undefined
          ? 'entry gone (expired or never created)'
          : `${fwd.state}, ${fwd.packets} packets${fwd.flags.length > 0 ? ` [${fwd.flags.join(',')}]` : ''}`,
    };
  });
}

function stateClass(s: string): string {
  if (s === 'ESTABLISHED' || s === 'UDP_ESTABLISHED') return 'st-est';
  if (s.startsWith('SYN') || s === 'UDP_NEW' || s === 'UDP_SEEN' || s.startsWith('ICMP')) return 'st-new';
  if (s === 'NONE') return 'st-none';
  return 'st-end';
}

/** Each flow's conntrack states at the LB, one chip per change (drops marked), and its entry at the end. */
export function conntrackTimeline(art: ResultArtifacts): Markup | null {
  const rows = flows(art);
  if (rows.length === 0) return null;
  return el(
    'table',
    { class: 'ct' },
    el(
      'tr',
      {},
      el('th', {}, 'flow (client side)'),
      el('th', {}, 'endpoint'),
      el('th', {}, 'state after each packet at the LB (time since the flow’s first packet)'),
      el('th', {}, 'entry at the end'),
    ),
    rows.map((f) => {
      const t0 = f.events[0]?.timeNs ?? 0n;
      let last = 'NONE';
      const chips: Child[] = [];
      for (const ev of f.events) {
        const drop = ev.verdict === 'drop';
        if (ev.ctAfter === last && !drop) continue;
        last = ev.ctAfter;
        const dt = Number(ev.timeNs - t0) / 1e6;
        chips.push(
          el(
            'span',
            {
              class: `chip ${drop ? 'st-drop' : stateClass(ev.ctAfter)}`,
              title: `${ev.tuple.src}:${ev.tuple.sport} → ${ev.tuple.dst}:${ev.tuple.dport}: ${ev.reason}, ${ev.verdict}, ${ev.ctBefore} → ${ev.ctAfter}`,
            },
            drop ? `✗ ${ev.reason}` : ev.ctAfter,
            el('small', {}, ` +${dt.toFixed(3)} ms`),
          ),
        );
      }
      return el(
        'tr',
        {},
        el('td', {}, el('code', {}, f.label)),
        el('td', {}, f.backend),
        el('td', { class: 'chips' }, chips.length === 0 ? el('em', {}, 'no trace events') : chips),
        el('td', {}, f.final),
      );
    }),
  );
}
