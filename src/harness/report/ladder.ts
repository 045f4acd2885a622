// The packet ladder of one result: every IP packet a node sent, decoded from the pcaps with the
// packet toolkit, drawn as an arrow from its sender's lifeline to its receiver's (time down, nodes
// across). A frame is drawn once, from the sender's capture: the sender is the node whose
// interface MAC (topology.json) is the frame's source, the receiver the one whose MAC is its
// destination. A packet into the LB is paired with the packet it became on the way out (the first
// later LB packet equal in every field NAT leaves alone: protocol, IP id, TCP seq/ack/flags,
// payload length), and the fields the LB rewrote are highlighted on the outgoing arrow. The LB's
// trace events are joined to its incoming packets by tuple, in order (reason, verdict, conntrack
// state before → after).
import path from 'node:path';
import { decodeRecord, readPcapFile } from '../../packet/index.ts';
import type { DecodedFrame } from '../../packet/index.ts';
import type { DpTraceEvent } from '../../datapath/packet-datapath.ts';
import type { TopologyNode } from './artifacts.ts';
import { el, fragment } from './html.ts';
import type { Markup } from './html.ts';

export type TupleField = 'src' | 'sport' | 'dst' | 'dport';

export interface LadderPacket {
  /** Row, 0-based, in time order. */
  n: number;
  timeMs: number;
  from: string;
  to: string;
  segment: string;
  proto: string;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** TCP flags in tcpdump notation, the ICMP type name, or '' for UDP. */
  flags: string;
  payloadLength: number;
  detail: string;
  /** LB egress: the fields changed since the paired ingress packet. */
  rewritten: TupleField[];
  /** Row of the packet this one became (ingress) or came from (egress). */
  pair?: number;
  /** LB ingress: the datapath's trace event for it. */
  trace?: DpTraceEvent;
  /** Why this packet deserves a look (a RST, an ICMP error, dropped by the LB), else undefined. */
  problem?: string;
}

export interface Ladder {
  nodes: string[];
  lb?: string;
  routers: string[];
  packets: LadderPacket[];
  /** Rows left out beyond the drawing limit. */
  omitted: number;
  /** Frames that could not be placed (no topology, unknown MAC, broadcast), by cause. */
  unplaced: number;
}

const ICMP_ERRORS = new Set(['dest-unreachable', 'time-exceeded', 'packet-too-big', 'parameter-problem']);

interface Raw {
  timeMs: number;
  rank: number;
  index: number;
  from: string;
  to: string;
  segment: string;
  d: DecodedFrame;
}

function tupleKey(proto: string, src: string, sport: number | undefined, dst: string, dport: number | undefined): string {
  return `${proto}|${src}|${sport ?? 0}|${dst}|${dport ?? 0}`;
}

/** Fields NAT leaves alone: an LB packet out equal in all of them to one in is that one, rewritten. */
function invariantKey(d: DecodedFrame): string {
  const id = d.ip?.version === 4 ? d.ip.id : '';
  const l4 =
    d.tcp !== undefined
      ? `${d.tcp.seq}|${d.tcp.ack}|${d.tcp.flags}`
      : d.icmp !== undefined
        ? `${d.icmp.type}|${d.icmp.code}|${d.icmp.id ?? ''}|${d.icmp.seq ?? ''}`
        : '';
  return `${d.ip?.protocol ?? ''}|${id}|${l4}|${d.payload?.length ?? 0}`;
}

export async function buildLadder(pcaps: string[], nodes: TopologyNode[], trace: DpTraceEvent[], maxRows = 400): Promise<Ladder> {
  const byMac = new Map<string, string>();
  const fileOwner = new Map<string, { node: string; segment: string; mac: string }>();
  for (const n of nodes) {
    for (const i of n.ifaces) {
      byMac.set(`${i.segment}|${i.mac}`, n.name);
      fileOwner.set(`${n.name}-${i.segment}.pcap`, { node: n.name, segment: i.segment, mac: i.mac });
    }
  }
  const lb = nodes.find((n) => n.role === 'lb')?.name;
  const raws: Raw[] = [];
  let unplaced = 0;
  for (const file of pcaps) {
    const owner = fileOwner.get(path.basename(file));
    const pcap = await readPcapFile(file);
    for (const rec of pcap.records) {
      const timeMs = rec.tsSec * 1000 + rec.tsNsec / 1e6;
      if (owner === undefined) {
        unplaced++;
        continue;
      }
      const d = decodeRecord(rec);
      // Only what this interface sent: the receiver's capture of the same frame is the same arrow.
      if (d.eth?.src !== owner.mac || d.ip === undefined) continue;
      const to = byMac.get(`${owner.segment}|${d.eth.dst}`);
      if (to === undefined) {
        unplaced++;
        continue;
      }
      raws.push({ timeMs, rank: owner.node === lb ? 1 : 0, index: rec.index, from: owner.node, to, segment: owner.segment, d });
    }
  }
  // Same time: what enters the LB before what leaves it (virtual time does not move inside the LB).
  raws.sort((a, b) => a.timeMs - b.timeMs || a.rank - b.rank || a.index - b.index);
  // Time 0 is the first packet drawn (the lab's captures start seconds earlier, with ARP and ND).
  const t0 = raws[0]?.timeMs ?? 0;
  const packets: LadderPacket[] = raws.map((r, n) => {
    const d = r.d;
    const ip = d.ip;
    const l4 = d.tcp ?? d.udp;
    const proto =
      d.tcp !== undefined ? 'tcp' : d.udp !== undefined ? 'udp' : d.icmp !== undefined ? d.icmp.proto : `ip-proto-${ip?.protocol ?? '?'}`;
    const flags = d.tcp?.flagString ?? d.icmp?.typeName ?? '';
    const payloadLength = d.payload?.length ?? 0;
    const detailParts = [
      `${r.from} → ${r.to} on ${r.segment} at ${(r.timeMs - t0).toFixed(3)} ms`,
      `ttl ${ip?.version === 4 ? ip.ttl : (ip?.hopLimit ?? '?')}`,
      `length ${d.length}, payload ${payloadLength}`,
    ];
    if (d.tcp !== undefined) detailParts.push(`seq ${d.tcp.seq} ack ${d.tcp.ack} win ${d.tcp.window}`);
    if (d.icmp?.inner?.ip !== undefined) {
      const inner = d.icmp.inner;
      detailParts.push(
        `quotes ${inner.ip?.src ?? '?'}:${inner.tcp?.sport ?? inner.udp?.sport ?? '-'} → ${inner.ip?.dst ?? '?'}:${inner.tcp?.dport ?? inner.udp?.dport ?? '-'}`,
      );
    }
    const p: LadderPacket = {
      n,
      timeMs: r.timeMs - t0,
      from: r.from,
      to: r.to,
      segment: r.segment,
      proto,
      src: ip?.src ?? '?',
      dst: ip?.dst ?? '?',
      flags,
      payloadLength,
      detail: detailParts.join('; '),
      rewritten: [],
    };
    if (l4 !== undefined) {
      p.sport = l4.sport;
      p.dport = l4.dport;
    }
    if (d.tcp !== undefined && (d.tcp.flags & 0x04) !== 0) p.problem = `TCP reset from ${p.src}:${p.sport ?? ''}`;
    if (d.icmp !== undefined && ICMP_ERRORS.has(d.icmp.typeName)) p.problem = `ICMP ${d.icmp.typeName} from ${p.src}`;
    return p;
  });
  if (lb !== undefined) {
    // Pair ingress with egress.
    const unpaired = new Map<string, number[]>();
    raws.forEach((r, n) => {
      if (r.from !== lb) return;
      const k = invariantKey(r.d);
      const list = unpaired.get(k) ?? [];
      list.push(n);
      unpaired.set(k, list);
    });
    const traceQueues = new Map<string, DpTraceEvent[]>();
    for (const ev of trace) {
      const k = tupleKey(ev.tuple.proto === 'icmp' ? 'icmp' : ev.tuple.proto, ev.tuple.src, ev.tuple.sport, ev.tuple.dst, ev.tuple.dport);
      const q = traceQueues.get(k) ?? [];
      q.push(ev);
      traceQueues.set(k, q);
    }
    raws.forEach((r, n) => {
      if (r.to !== lb) return;
      const p = packets[n];
      if (p === undefined) return;
      // ICMP trace tuples carry the echo id as ports; only TCP/UDP tuples are joined by port here.
      const ev =
        p.proto === 'tcp' || p.proto === 'udp' ? traceQueues.get(tupleKey(p.proto, p.src, p.sport, p.dst, p.dport))?.shift() : undefined;
      if (ev !== undefined) p.trace = ev;
      const list = unpaired.get(invariantKey(r.d));
      const at = list?.findIndex((m) => m > n) ?? -1;
      if (list !== undefined && at >= 0) {
        const m = list[at] ?? -1;
        list.splice(at, 1);
        const out = packets[m];
        if (out === undefined) return;
        p.pair = m;
        out.pair = n;
        out.rewritten = (['src', 'sport', 'dst', 'dport'] as const).filter((f) => out[f] !== p[f]);
      } else if (ev?.verdict === 'drop') {
        p.problem ??= `dropped by the LB: ${ev.reason}`;
      }
    });
  }
  const nodeOrder = orderNodes(nodes, packets);
  const routers = nodes.filter((n) => n.role === 'router').map((n) => n.name);
  return {
    nodes: nodeOrder,
    routers,
    ...(lb === undefined ? {} : { lb }),
    packets: packets.slice(0, maxRows),
    omitted: Math.max(0, packets.length - maxRows),
    unplaced,
  };
}

/** Clients, then routers and the LB, then backends and other hosts; only nodes that sent or received. */
function orderNodes(nodes: TopologyNode[], packets: LadderPacket[]): string[] {
  const used = new Set(packets.flatMap((p) => [p.from, p.to]));
  const rank: Record<string, number> = { client: 0, router: 1, lb: 2, backend: 3, host: 4 };
  return nodes
    .filter((n) => used.has(n.name))
    .sort((a, b) => (rank[a.role] ?? 9) - (rank[b.role] ?? 9))
    .map((n) => n.name);
}

// ---- drawing ----------------------------------------------------------------------------------

const ROW = 22;
const HEAD = 4;
const HEAD_H = 36;
const CHAR = 6.35;
const NARROW = 90;

function labelParts(p: LadderPacket): { text: string; hot: boolean }[] {
  const hot = (f: TupleField): boolean => p.rewritten.includes(f);
  const parts: { text: string; hot: boolean }[] = [{ text: `${p.proto} `, hot: false }];
  const side = (a: TupleField, pt: TupleField, addr: string, port: number | undefined): void => {
    const v6 = addr.includes(':') && port !== undefined;
    parts.push({ text: `${v6 ? '[' : ''}${addr}${v6 ? ']' : ''}`, hot: hot(a) });
    if (port !== undefined) parts.push({ text: ':', hot: false }, { text: String(port), hot: hot(pt) });
  };
  side('src', 'sport', p.src, p.sport);
  parts.push({ text: ' → ', hot: false });
  side('dst', 'dport', p.dst, p.dport);
  if (p.flags !== '') parts.push({ text: ` ${p.flags}`, hot: false });
  if (p.payloadLength > 0) parts.push({ text: ` len ${p.payloadLength}`, hot: false });
  return parts;
}

function traceText(ev: DpTraceEvent): string {
  const ct = ev.ctBefore === ev.ctAfter ? ev.ctAfter : `${ev.ctBefore}→${ev.ctAfter}`;
  return `${ev.reason} ${ev.verdict} ${ct}${ev.endpointSlot >= 0 ? ` slot ${ev.endpointSlot}` : ''}`;
}

/** The ladder as an inline SVG; every row is `<g id="{idPrefix}-{n}">` so the report can link to a packet. */
export function renderLadder(l: Ladder, idPrefix: string): Markup {
  const labelChars = Math.max(30, ...l.packets.map((p) => labelParts(p).reduce((a, x) => a + x.text.length, 0)));
  // A label starts at the left end of its arrow, so only a gap that has the LB (or a router) on
  // one side carries labels; the gaps between two clients or two backends stay narrow.
  const wide = Math.max(190, Math.ceil(labelChars * CHAR) + 24);
  // The gutter holds '#n' and the time; both grow with the capture.
  const GUTTER =
    Math.ceil((String(l.packets.length).length + 2 + (l.packets[l.packets.length - 1]?.timeMs ?? 0).toFixed(3).length + 3) * 6.1) + 12;
  const transit = new Set([l.lb, ...l.routers]);
  const x = new Map<string, number>();
  let at = GUTTER + 54;
  l.nodes.forEach((n, i) => {
    const prev = l.nodes[i - 1];
    if (prev !== undefined) at += transit.has(prev) || transit.has(n) ? wide : NARROW;
    x.set(n, at);
  });
  const traceX = at + 28;
  const width = traceX + 270;
  const height = HEAD + l.packets.length * ROW + 12;
  const defs = el(
    'defs',
    {},
    el(
      'marker',
      { id: `${idPrefix}-ah`, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'ah' }),
    ),
    el(
      'marker',
      { id: `${idPrefix}-ahbad`, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'ah bad' }),
    ),
  );
  const heads = l.nodes.map((n) =>
    el(
      'g',
      { class: `head${n === l.lb ? ' lb' : ''}` },
      el('line', { class: 'life', x1: x.get(n), x2: x.get(n), y1: 28, y2: HEAD_H }),
      el('rect', { x: (x.get(n) ?? 0) - 40, y: 4, width: 80, height: 24, rx: 4 }),
      el('text', { x: x.get(n), y: 21, 'text-anchor': 'middle' }, n),
    ),
  );
  const lifelines = l.nodes.map((n) => el('line', { class: 'life', x1: x.get(n), x2: x.get(n), y1: 0, y2: height }));
  const rows = l.packets.map((p, i) => {
    const y = HEAD + i * ROW + ROW - 5;
    const x1 = x.get(p.from) ?? 0;
    const x2 = x.get(p.to) ?? 0;
    const bad = p.problem !== undefined;
    const left = Math.min(x1, x2);
    const title = [
      p.problem === undefined ? '' : `⚠ ${p.problem}`,
      p.detail,
      p.rewritten.length > 0 ? `rewritten by the LB: ${p.rewritten.join(', ')}` : '',
      p.pair === undefined ? '' : `pairs with #${p.pair}`,
      p.trace === undefined ? '' : `LB trace: ${traceText(p.trace)}`,
    ]
      .filter((s) => s !== '')
      .join('\n');
    return el(
      'g',
      { id: `${idPrefix}-${p.n}`, class: `pkt${bad ? ' bad' : ''}${p.rewritten.length > 0 ? ' rw' : ''}` },
      el('title', {}, title),
      el('rect', { class: 'bg', x: 0, y: y - ROW + 7, width, height: ROW }),
      el('text', { class: 'time', x: 6, y }, `#${p.n}`),
      el('text', { class: 'time', x: GUTTER - 6, y, 'text-anchor': 'end' }, `${p.timeMs.toFixed(3)} ms`),
      el('line', { class: 'arrow', x1, x2, y1: y, y2: y, 'marker-end': `url(#${idPrefix}-${bad ? 'ahbad' : 'ah'})` }),
      el(
        'text',
        { class: 'lbl', x: left + 8, y: y - 4 },
        labelParts(p).map((t) => (t.hot ? el('tspan', { class: 'hot' }, t.text) : t.text)),
      ),
      p.trace === undefined
        ? null
        : el('text', { class: `tr${p.trace.verdict === 'drop' ? ' bad' : ''}`, x: traceX, y: y - 4 }, traceText(p.trace)),
      p.problem === undefined || p.trace !== undefined ? null : el('text', { class: 'tr bad', x: traceX, y: y - 4 }, `⚠ ${p.problem}`),
    );
  });
  const traceHead =
    l.lb === undefined ? null : el('text', { class: 'trhead', x: traceX, y: 21 }, `${l.lb} trace: reason verdict conntrack slot`);
  // The node names stay in view while the rows scroll (a sticky strip above the rows' SVG).
  return fragment(
    el(
      'div',
      { class: 'lhead' },
      el(
        'svg',
        { class: 'ladder', width, height: HEAD_H, viewBox: `0 0 ${width} ${HEAD_H}` },
        el('text', { class: 'time', x: 6, y: 21 }, 'packet'),
        el('text', { class: 'time', x: GUTTER - 6, y: 21, 'text-anchor': 'end' }, 'time'),
        heads,
        traceHead,
      ),
    ),
    el(
      'svg',
      { class: 'ladder', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'packet ladder' },
      defs,
      lifelines,
      rows,
    ),
  );
}
