// The model's verdicts as expectations: the generated scenario is first run once on sim with a
// recording block in place of its expectations (it writes the reason counters and every link's
// frames to a file); the frames are then grouped into "what reached which node" and written as
// expect.reasons / expect.packet lines.
import { REASON } from '../../schema/maps.ts';
import { decodeFields } from '../packet-match.ts';
import type { Fields } from '../packet-match.ts';
import type { TopoInfo } from '../topo.ts';

export const RECORD_ENV = 'XLB_FROM_PCAP_RECORD';

export interface Recording {
  reasons: Record<string, number>;
  links: { node: string; frames: string[] }[];
}

/** The recording block of pass 1 (inside run(), where obs and links exist). */
export const RECORD_LINES = [
  `const rec = process.env.${RECORD_ENV};`,
  "if (rec !== undefined) (await import('node:fs')).writeFileSync(rec, JSON.stringify({ reasons: Object.fromEntries(obs.reasons), links: links.map((l) => ({ node: l.node, frames: l.packets.map((p) => Buffer.from(p.frame).toString('hex')) })) }));",
  "expect.ok(rec !== undefined, 'recording run');",
];

/** The fields that say which packet it is, not its bytes. */
const KEY_FIELDS = ['ip.src', 'ip.dst', 'tcp.sport', 'tcp.dport', 'tcp.flags', 'udp.sport', 'udp.dport', 'icmp.type', 'icmp.code'];

function lit(v: string | number | boolean): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

export function expectationsFrom(rec: Recording, topo: TopoInfo): { lines: string[]; allowDrops: string[] } {
  const lines: string[] = [];
  const reasons = Object.entries(rec.reasons).filter(([k, v]) => v > 0 && (REASON as readonly string[]).includes(k));
  lines.push(`expect.reasons(obs, { ${reasons.map(([k, v]) => `${k}: ${v}`).join(', ')} }, 'reason counters (the model, as recorded)');`);
  const allowDrops = reasons.map(([k]) => k).filter((k) => k.startsWith('drop_'));
  // What arrived at each host (the LB is crossed, not a destination): packets on a node's links addressed to it.
  const own = new Map<string, string[]>();
  for (const h of [...topo.clients, ...topo.backends]) own.set(h.name, [h.ipv4, ...(h.ipv6 === undefined ? [] : [h.ipv6])]);
  const groups = new Map<string, { node: string; fields: Fields; count: number }>();
  for (const l of rec.links) {
    const mine = own.get(l.node);
    if (mine === undefined) continue;
    for (const hex of l.frames) {
      const f = decodeFields(Buffer.from(hex, 'hex'));
      if (!mine.includes(String(f['ip.dst']))) continue;
      const fields: Fields = {};
      for (const k of KEY_FIELDS) if (f[k] !== undefined) fields[k] = f[k];
      const key = `${l.node} ${JSON.stringify(fields)}`;
      const g = groups.get(key) ?? { node: l.node, fields, count: 0 };
      g.count += 1;
      groups.set(key, g);
    }
  }
  for (const g of groups.values()) {
    const fields = Object.entries(g.fields)
      .map(([k, v]) => `'${k}': ${lit(v)}`)
      .join(', ');
    const f = g.fields;
    const port = (k: 'sport' | 'dport'): string => String(f[`tcp.${k}`] ?? f[`udp.${k}`] ?? '');
    const l4 =
      f['tcp.flags'] !== undefined
        ? ` tcp [${String(f['tcp.flags'])}]`
        : f['udp.sport'] !== undefined
          ? ' udp'
          : f['icmp.type'] !== undefined
            ? ` icmp ${String(f['icmp.type'])}/${String(f['icmp.code'])}`
            : '';
    const ep = (ip: string, p: string): string => (p === '' ? ip : ip.includes(':') ? `[${ip}]:${p}` : `${ip}:${p}`);
    const what = `${ep(String(f['ip.src']), port('sport'))} → ${ep(String(f['ip.dst']), port('dport'))}${l4}`;
    lines.push(
      `expect.packet(links, { on: '${g.node}', pattern: { fields: { ${fields} } }, count: ${g.count} }, '${g.node} got ${g.count} × ${what} (the model, as recorded)');`,
    );
  }
  return { lines, allowDrops };
}
