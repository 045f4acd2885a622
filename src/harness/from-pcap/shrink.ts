// `xlb scenario shrink FILE`: given a generated scenario that fails, remove injected packets (the
// rows of its PACKETS table) while it still fails the same way, and write the smallest one found.
// "The same way": every check that failed at first still fails, with the same first line of its
// message (e.g. "1 matching packet(s) wanted on b2, 0 seen"). Delta debugging (ddmin's
// complement step): try removing chunks of half the rows, then quarters, … down to single rows.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunSummary } from '../results.ts';

export interface ShrinkOptions {
  root: string;
  backend: 'sim' | 'prog';
  /** At most this many runs (each is one `xlb run`). */
  maxRuns?: number;
  log?: (line: string) => void;
}

export interface ShrinkResult {
  text: string;
  before: number;
  after: number;
  runs: number;
  /** The failures kept (check name: first line of its message). */
  signature: string[];
}

/** The table rows of a generated scenario: [first row index, rows]. */
function tableOf(lines: string[]): { start: number; end: number } {
  const start = lines.findIndex((l) => l.startsWith('const PACKETS'));
  const end = lines.findIndex((l, i) => i > start && l === '];');
  if (start < 0 || end < 0) throw new Error('not a scenario written by `xlb scenario from-pcap` (no PACKETS table)');
  return { start: start + 1, end };
}

function failures(s: RunSummary): string[] {
  const out = new Set<string>();
  for (const r of s.results) {
    if (r.status !== 'failed') continue;
    if (r.error !== undefined) out.add(`error: ${r.error.split('\n')[0] ?? ''}`);
    for (const c of r.checks) if (!c.ok) out.add(`${c.name}: ${(c.message ?? '').split('\n')[0] ?? ''}`);
  }
  return [...out].sort();
}

export function shrinkScenario(file: string, o: ShrinkOptions): ShrinkResult {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const { start, end } = tableOf(lines);
  const rows = lines.slice(start, end);
  const dir = path.dirname(path.resolve(file));
  const work = mkdtempSync(path.join(tmpdir(), 'xlb-shrink-'));
  // The candidate is written next to the original: its imports are relative to that folder.
  const probe = path.join(dir, `shrink-probe-${process.pid}.ts`);
  let runs = 0;
  const withRows = (keep: string[]): string => [...lines.slice(0, start), ...keep, ...lines.slice(end)].join('\n');
  const run = (keep: string[]): string[] => {
    runs += 1;
    writeFileSync(probe, withRows(keep));
    const report = path.join(work, `r${runs}`);
    spawnSync(
      path.join(o.root, 'xlb'),
      ['run', probe, '--backend', o.backend, '--hook', 'tc', '--seed', '1', '--report', report, '--tap'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    const summary = path.join(report, 'summary.json');
    if (!existsSync(summary)) throw new Error(`xlb run wrote no summary for ${probe}`);
    return failures(JSON.parse(readFileSync(summary, 'utf8')) as RunSummary);
  };
  try {
    const signature = run(rows);
    if (signature.length === 0)
      throw new Error(
        `${file} passes on ${o.backend} (tc): nothing to shrink; shrink a scenario whose expectations describe the bug and fail`,
      );
    const same = (f: string[]): boolean => signature.every((s) => f.includes(s));
    let cur = rows;
    let chunk = Math.max(1, Math.floor(cur.length / 2));
    const max = o.maxRuns ?? 200;
    while (runs < max) {
      let removed = false;
      for (let i = 0; i < cur.length && runs < max;) {
        const cand = [...cur.slice(0, i), ...cur.slice(i + chunk)];
        if (cand.length > 0 && same(run(cand))) {
          o.log?.(`  ${cur.length} → ${cand.length} packets, still failing the same way`);
          cur = cand;
          removed = true;
        } else i += chunk;
      }
      if (chunk === 1 && !removed) break;
      if (!removed) chunk = Math.max(1, Math.floor(chunk / 2));
    }
    const header = `// Shrunk by \`xlb scenario shrink\` (${o.backend}, tc): ${rows.length} → ${cur.length} injected packets, still failing with:\n${signature.map((s) => `//   ${s}`).join('\n')}\n`;
    return { text: header + withRows(cur), before: rows.length, after: cur.length, runs, signature };
  } finally {
    rmSync(probe, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
