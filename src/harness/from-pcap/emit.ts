// Writes the scenario skeleton: a comment header (where it came from, the address map, what to
// edit), the services, the clients' packets as frame specs with the lab's addresses (the
// Ethernet header and every checksum are filled in when the scenario builds them, by frameToLb /
// buildFrame), the replay loop, and an expectations block given by the caller.
import path from 'node:path';
import type { DecodedFrame, FrameSpec, IpPacketSpec, TcpOption } from '../../packet/index.ts';
import type { Analysis } from './analyze.ts';

export interface EmitOptions {
  /** Where the file will be written (imports are relative to it). */
  out: string;
  /** The repository root. */
  root: string;
  /** Lines of TypeScript inside run(), after `obs` and `links` are known. */
  expectations: string[];
  /** Text for the header: how the expectations were made. */
  provenance: string;
  command: string;
}

type Spec = Omit<FrameSpec, 'eth'>;

/** The frame spec of a captured packet with its addresses mapped; undefined for what the builder cannot say again. */
export function specOf(d: DecodedFrame, map: Map<string, string>): { spec?: Spec; why?: string } {
  const ip = d.ip;
  if (ip === undefined) return { why: 'no IP header' };
  const src = map.get(ip.src);
  const dst = map.get(ip.dst);
  if (src === undefined || dst === undefined) return { why: `address outside the map (${ip.src} → ${ip.dst})` };
  const spec: Spec = { ip: { src, dst } };
  if (ip.version === 4) {
    Object.assign(spec.ip ?? {}, { ttl: ip.ttl, tos: ip.tos, id: ip.id, df: ip.df });
    if (ip.mf || ip.fragOffset !== 0) return { why: 'IPv4 fragment (rebuild it by hand: ip.mf/fragOffset)' };
  } else {
    Object.assign(spec.ip ?? {}, { ttl: ip.hopLimit, tos: ip.trafficClass, flowLabel: ip.flowLabel });
    if (ip.extensions.length > 0) return { why: 'IPv6 extension headers (rebuild them by hand)' };
  }
  if (d.tcp !== undefined) {
    const t = d.tcp;
    spec.tcp = { sport: t.sport, dport: t.dport, seq: t.seq, ack: t.ack, flags: t.flags, window: t.window, options: t.options };
    if (t.urgent !== 0) spec.tcp.urgent = t.urgent;
  } else if (d.udp !== undefined) {
    spec.udp = { sport: d.udp.sport, dport: d.udp.dport };
    // A datagram sent without a checksum (IPv4 UDP checksum 0) is replayed as one: it is the
    // trigger of a known bug class (a NAT turning "no checksum" into a wrong one).
    if (d.udp.checksum.verdict === 'zero') spec.udp.checksum = 'zero';
  } else if (d.icmp !== undefined && (d.icmp.typeName === 'echo-request' || d.icmp.typeName === 'echo-reply')) {
    spec.icmp = { type: d.icmp.typeName, id: d.icmp.id ?? 0, seq: d.icmp.seq ?? 0 };
  } else if (d.icmp?.inner !== undefined) {
    // An error: the quote is rebuilt from its decoded headers with the same map (checksums
    // recomputed), so it names the lab's addresses as the field's named the field's. The quote's
    // IP length is what was quoted, not the original packet's (a translation does not read it).
    const inner = specOf(d.icmp.inner, map);
    if (inner.spec === undefined) return { why: `${d.icmp.typeName} quoting a packet the builder cannot say again (${inner.why ?? ''})` };
    const quoteIp = inner.spec.ip;
    if (quoteIp === undefined) return { why: `${d.icmp.typeName} quoting a packet without an IP header` };
    const quote: IpPacketSpec = { ...inner.spec, ip: quoteIp };
    const { type, code, mtu } = d.icmp;
    if (ip.version === 4 && type === 3 && code === 4)
      spec.icmp = { type: 'dest-unreachable', code: 'frag-needed', mtu: mtu ?? 0, inner: quote };
    else if (ip.version === 6 && type === 2) spec.icmp = { type: 'packet-too-big', mtu: mtu ?? 0, inner: quote };
    else spec.icmp = { type, code, inner: quote };
    return { spec };
  } else {
    return { why: `${d.icmp?.typeName ?? 'L4'} (ICMP errors quote another packet: rebuild by hand)` };
  }
  if (d.payload !== undefined && d.payload.length > 0) spec.payload = d.payload;
  return { spec };
}

function tsOption(o: TcpOption): string {
  if (o.kind === 'raw') return `{ kind: 'raw', type: ${o.type}, data: hex('${Buffer.from(o.data).toString('hex')}') }`;
  return JSON.stringify(o)
    .replace(/"(\w+)":/g, '$1: ')
    .replace(/"/g, "'")
    .replace(/,/g, ', ');
}

/** The spec as a TypeScript literal on one line (payloads as hex). */
export function specLiteral(s: Spec): string {
  const parts: string[] = [];
  const ip = Object.entries(s.ip ?? {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? `'${v}'` : String(v)}`);
  parts.push(`ip: { ${ip.join(', ')} }`);
  if (s.tcp !== undefined) {
    const { options, ...rest } = s.tcp;
    const fields = Object.entries(rest).map(([k, v]) => `${k}: ${String(v)}`);
    if (Array.isArray(options) && options.length > 0) fields.push(`options: [${options.map(tsOption).join(', ')}]`);
    parts.push(`tcp: { ${fields.join(', ')} }`);
  }
  if (s.udp !== undefined)
    parts.push(`udp: { sport: ${s.udp.sport}, dport: ${s.udp.dport}${s.udp.checksum === 'zero' ? ", checksum: 'zero'" : ''} }`);
  if (s.icmp !== undefined) {
    const { inner, ...head } = s.icmp as typeof s.icmp & { inner?: unknown };
    const fields = JSON.stringify(head)
      .replace(/"(\w+)":/g, '$1: ')
      .replace(/"/g, "'")
      .replace(/,/g, ', ');
    const quote = inner !== undefined && !(inner instanceof Uint8Array) ? `, inner: ${specLiteral(inner as Spec)} }` : ' }';
    parts.push(`icmp: ${fields.replace(/ ?\}$/, '')}${quote}`);
  }
  if (s.payload instanceof Uint8Array) parts.push(`payload: hex('${Buffer.from(s.payload).toString('hex')}')`);
  return `{ ${parts.join(', ')} }`;
}

function rel(from: string, to: string): string {
  const r = path.relative(path.dirname(from), to).split(path.sep).join('/');
  return r.startsWith('.') ? r : `./${r}`;
}

export function emitScenario(a: Analysis, o: EmitOptions): { text: string; injected: number; left: string[] } {
  const left: string[] = [];
  const rows: string[] = [];
  const backendNodes = new Set(a.topo.backends.map((b) => b.name));
  let fromBackends = 0;
  for (const p of a.packets) {
    const { spec, why } = specOf(p.frame, a.map);
    if (spec === undefined) {
      left.push(`#${p.index}: ${why ?? ''}`);
      continue;
    }
    if (backendNodes.has(p.node)) fromBackends++;
    rows.push(`  { n: ${p.index}, node: '${p.node}', t: ${p.t.toFixed(6)}, spec: ${specLiteral(spec)} },`);
  }
  const mapLines = [...a.map].map(([orig, lab]) => {
    const role = a.clients.includes(orig)
      ? `client ${a.clientNodes[a.clients.indexOf(orig)] ?? ''}`
      : a.vips.some((v) => v.ip === orig)
        ? 'VIP'
        : `backend ${a.topo.backends[a.backends.findIndex((b) => b.ip === orig)]?.name ?? ''}`;
    return `//   ${orig.padEnd(24)} → ${lab.padEnd(20)} ${role}`;
  });
  const flows = a.flows.filter((f) => a.clients.includes(f.key.src));
  const protoCount = (p: string): number => flows.filter((f) => f.key.proto === p).length;
  const defaultTopo = a.clients.length <= 1 && a.backends.length <= 3;
  const services = a.vips.map((v) => {
    const port = a.backends.find((b) => b.port !== undefined)?.port ?? v.port;
    const eps =
      a.backends.length === 0
        ? `backendEndpoints(topo, ${port}${v.ip.includes(':') ? ', 6' : ''})`
        : `[${a.backends.map((b) => `{ ip: '${a.map.get(b.ip) ?? b.ip}', port: ${b.port ?? port} }`).join(', ')}]`;
    return `    { name: '${v.proto}-${v.port}-${a.vips.indexOf(v) + 1}', vip: '${a.map.get(v.ip) ?? v.ip}', port: ${v.port}, protocol: '${v.proto}', algorithm: 'rr', mode: 'dnat', endpoints: ${eps} },`;
  });
  const name = path.basename(a.file);
  const lines = [
    `// Generated by \`${o.command}\` from ${name} (${a.records} packets; ${flows.length} flows opened by the clients: ${protoCount('tcp')} TCP, ${protoCount('udp')} UDP, ${protoCount('icmp') + protoCount('icmp6')} ICMP).`,
    fromBackends === 0
      ? `// The clients' ${rows.length} packets are injected from the client node, in capture order, rebuilt with the`
      : `// The clients' ${rows.length - fromBackends} packets and the backends' ${fromBackends} ICMP errors are injected from their nodes, in capture order, rebuilt with the`,
    `// lab's MACs and these addresses (checksums recomputed); the answers come from the lab's own hosts:`,
    ...mapLines,
    ...(a.backends.length === 0
      ? [`//   (the capture shows no backend: the services use the topology's ${a.topo.backends.length} backends at the VIP's port)`]
      : []),
    ...(a.skipped.length > 0 ? [`// Not replayed: ${a.skipped.map((s) => `${s.count} ${s.reason}`).join(', ')}.`] : []),
    ...(left.length > 0 ? [`// Not rebuilt (client packets the builder cannot say again; add them by hand): ${left.join('; ')}.`] : []),
    `// The expectations below are ${o.provenance}: they say what the model does, not what is right.`,
    '// What to edit:',
    '//   - the services: algorithm, mode (dnat/fullnat/dsr), endpoint ports, as the field LB had them;',
    '//   - the expectations: keep the ones that describe the bug, fix the ones where the model is wrong,',
    '//     drop the noise (the lab hosts answer with their own sequence numbers: TCP replays of a',
    '//     capture meet RSTs and challenge ACKs that the field did not see);',
    '//   - allowDrops, if the bug is a drop; the description; `backends` once it holds on lab.',
    `import { ${a.backends.length === 0 ? 'backendEndpoints, ' : ''}scenario${defaultTopo ? '' : ', twoArm'} } from '${rel(o.out, path.join(o.root, 'src/harness/index.ts'))}';`,
    `import { replayCapture } from '${rel(o.out, path.join(o.root, 'scenarios/_lib.ts'))}';`,
    `import type { CapturedPacket } from '${rel(o.out, path.join(o.root, 'scenarios/_lib.ts'))}';`,
    '',
    "const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));",
    '',
    `/** The ${fromBackends === 0 ? "clients' packets" : "clients' packets and the backends' ICMP errors"}: n is the position in the capture, t the seconds since its first packet. */`,
    'const PACKETS: CapturedPacket[] = [',
    ...rows,
    '];',
    '',
    'export default scenario({',
    `  description: 'from ${name}: ${flows.length} client flows replayed from the capture (edit: what this scenario shows)',`,
    ...(defaultTopo ? [] : [`  topology: twoArm({ clients: ${a.topo.clients.length}, backends: ${a.topo.backends.length} }),`]),
    "  // The expectations are the model's, on one CPU (which backend each flow got follows from that);",
    '  // the lab has two CPUs and real stacks. Delete this line once they hold there too.',
    "  backends: { lab: 'expectations recorded on sim (one CPU); not yet checked on the lab' },",
    `  services: (${a.backends.length === 0 ? 'topo' : '_topo'}) => [`,
    ...services,
    '  ],',
    '  async run(ctx) {',
    '    const { observe, captures, expect } = ctx;',
    '    await replayCapture(ctx, PACKETS);',
    '    const obs = await observe();',
    '    const links = await captures();',
    ...o.expectations.map((l) => `    ${l}`),
    '  },',
    '});',
    '',
  ];
  return { text: lines.join('\n'), injected: rows.length, left };
}
