// When a result fails, what the captures say about why, in a few lines: which hosts refused
// connections (RST) or reported errors (ICMP), so "3 of 3 connections failed" comes with "b1
// answered 198.18.1.11:40000 → 198.18.2.11:7999 with a RST" beside it.
import { decodeFrame } from '../packet/index.ts';
import type { LinkCapture } from './world.ts';

const MAX_LINES = 8;

export function diagnoseCaptures(links: LinkCapture[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const link of links) {
    for (const p of link.packets) {
      const d = decodeFrame(p.frame);
      if (d.ip === undefined) continue;
      let line: string | undefined;
      if (d.tcp !== undefined && (d.tcp.flags & 0x04) !== 0) line = `${d.ip.src}:${d.tcp.sport} sent a RST to ${d.ip.dst}:${d.tcp.dport}`;
      else if (
        d.icmp !== undefined &&
        !d.icmp.typeName.startsWith('echo') &&
        d.icmp.typeName !== 'type 133' &&
        d.icmp.typeName !== 'type 134' &&
        d.icmp.type < 128 + 5
      ) {
        const inner = d.icmp.inner?.ip;
        line = `${d.ip.src} sent ICMP ${d.icmp.typeName} (code ${d.icmp.code}) to ${d.ip.dst}${inner === undefined ? '' : ` about ${inner.src} → ${inner.dst}`}`;
      }
      if (line === undefined || seen.has(line)) continue;
      seen.add(line);
      out.push(`seen on ${link.node}/${link.segment} at ${p.timeMs.toFixed(1)} ms: ${line}`);
      if (out.length >= MAX_LINES) return [...out, '(more in the pcaps)'];
    }
  }
  return out;
}
