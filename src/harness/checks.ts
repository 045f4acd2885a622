// Checks the harness makes on every result, whatever the scenario says: every captured packet
// has valid checksums, nothing a backend sent reaches a client untranslated, and no packet was
// dropped for a reason the scenario did not allow. Each is a named check in the result.
import type { ReasonName } from '../schema/maps.ts';
import { decodeFrame } from '../packet/index.ts';
import type { Expect } from './expect.ts';
import { linkName } from './packet-match.ts';
import type { TopoInfo } from './topo.ts';
import type { LinkCapture, Observation, ServiceInput } from './world.ts';

export interface AutomaticCheckInput {
  expect: Expect;
  topo: TopoInfo;
  services: ServiceInput[];
  obs: Observation;
  links: LinkCapture[];
  allowDrops: ReasonName[];
}

/** Valid IPv4 header and L4 checksums on every captured packet ('partial': checksum offload, allowed). */
function checksumsValid(x: AutomaticCheckInput): void {
  const bad: string[] = [];
  let n = 0;
  for (const link of x.links) {
    for (const p of link.packets) {
      const d = decodeFrame(p.frame);
      n++;
      const verdicts: [string, string | undefined][] = [
        ['ip', d.ip?.version === 4 ? d.ip.checksum.verdict : undefined],
        [d.l4?.proto ?? 'l4', d.l4?.checksum.verdict],
      ];
      for (const [layer, v] of verdicts)
        if (v === 'bad')
          bad.push(`${linkName(link)} at ${p.timeMs.toFixed(1)} ms: ${layer} checksum bad (${d.ip?.src ?? '?'} → ${d.ip?.dst ?? '?'})`);
    }
  }
  x.expect.ok(bad.length === 0, `valid checksums on all ${n} captured packets`, `${bad.length} bad: ${bad.slice(0, 5).join('; ')}`);
}

/**
 * Under DNAT and full NAT a client only ever talks to the VIP: a packet on a client's link with a
 * backend endpoint as its source leaked past the LB untranslated.
 */
function nothingLeaked(x: AutomaticCheckInput): void {
  const endpoints = new Set<string>();
  for (const s of x.services) if (s.mode !== 'dsr') for (const e of s.endpoints) endpoints.add(`${e.ip}|${e.port}`);
  if (endpoints.size === 0) return;
  const clients = new Set(x.topo.clients.map((c) => c.name));
  const leaks: string[] = [];
  let seen = 0;
  for (const link of x.links.filter((l) => clients.has(l.node))) {
    for (const p of link.packets) {
      const d = decodeFrame(p.frame);
      const sport = d.tcp?.sport ?? d.udp?.sport;
      if (d.ip === undefined) continue;
      seen++;
      if (
        endpoints.has(`${d.ip.src}|${sport ?? 0}`) ||
        (d.icmp !== undefined && [...endpoints].some((e) => e.startsWith(`${d.ip?.src ?? ''}|`)) && d.icmp.typeName.startsWith('echo'))
      ) {
        leaks.push(`${linkName(link)} at ${p.timeMs.toFixed(1)} ms: ${d.ip.src}:${sport ?? '-'} → ${d.ip.dst}`);
      }
    }
  }
  x.expect.ok(
    leaks.length === 0,
    `no backend address reached a client untranslated (${seen} packets on client links)`,
    `${leaks.length} leaked: ${leaks.slice(0, 5).join('; ')}`,
  );
}

/** Drops are failures unless the scenario allows their reason (Cilium's no-unexpected-packet-drops). */
function noUnexpectedDrops(x: AutomaticCheckInput): void {
  const allowed = new Set<ReasonName>(x.allowDrops);
  const byReason = new Map<string, number>();
  for (const ev of x.obs.trace)
    if (ev.verdict === 'drop' && !allowed.has(ev.reason)) byReason.set(ev.reason, (byReason.get(ev.reason) ?? 0) + 1);
  for (const [reason, n] of x.obs.reasons)
    if (reason.startsWith('drop_') && !allowed.has(reason) && n > 0 && !byReason.has(reason)) byReason.set(reason, n);
  const list = [...byReason].map(([r, n]) => `${r} ×${n}`);
  x.expect.ok(
    list.length === 0,
    `no unexpected drops${allowed.size > 0 ? ` (allowed: ${[...allowed].join(', ')})` : ''}`,
    `dropped: ${list.join(', ')}`,
  );
}

export function automaticChecks(x: AutomaticCheckInput): void {
  checksumsValid(x);
  nothingLeaked(x);
  noUnexpectedDrops(x);
}
