// DIR/index.html: the run as a person reads it, one self-contained file (inline CSS, SVG and a
// few lines of JS; no network, opens from disk). Failures first: the headline counts, then every
// failed result in one list, then the matrix scenario × hook × backend, then each result: its
// failed checks with their messages, the seed and the reproduce command, the differential diff,
// the spread charts, the packets worth a look (each a link to its row in the ladder), the packet
// ladder decoded from the pcaps, the conntrack timeline of each flow, links to the pcaps.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ResultRecord, RunSummary } from '../results.ts';
import { loadResultArtifacts } from './artifacts.ts';
import type { ResultArtifacts } from './artifacts.ts';
import type { spreadChart } from './charts.ts';
import { el, fragment, raw } from './html.ts';
import type { Markup } from './html.ts';
import { buildLadder, renderLadder } from './ladder.ts';
import type { Ladder } from './ladder.ts';
import { STYLE, SCRIPT } from './style.ts';
import { checksTable, diffPair } from './diff-view.ts';
import { conntrackTimeline } from './conntrack-view.ts';

const BACKEND_ORDER = ['sim', 'prog', 'lab'];

/** A stable, readable anchor for a result. */
export function resultId(r: Pick<ResultRecord, 'scenario' | 'backend' | 'hook' | 'kernel'>): string {
  return `r-${`${r.scenario}-${r.backend}-${r.hook}${r.kernel === undefined ? '' : `-${r.kernel}`}`.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
}

/** A result's column in the matrix: its backend, and its kernel in a kernel matrix. */
function column(r: ResultRecord): string {
  return r.kernel === undefined ? r.backend : `${r.backend} ${r.kernel}`;
}

function backendRank(b: string): number {
  const i = BACKEND_ORDER.indexOf(b);
  return i >= 0 ? i : b.startsWith('diff:') ? 10 : 5;
}

function statusMark(s: ResultRecord['status']): string {
  return { failed: '✗', passed: '✓', skipped: '–', known_failure: '⚠', unexpected_pass: '✗' }[s];
}

function ms(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${n} ms`;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function firstFailure(r: ResultRecord): string {
  if (r.status === 'unexpected_pass')
    return `marked as a known failure (${r.knownFailure ?? ''}) but passed: remove the knownFailures mark`;
  if (r.error !== undefined) return `error: ${r.error.split('\n')[0] ?? ''}`;
  const c = r.checks.find((x) => !x.ok);
  if (c === undefined) return '';
  const lines = (c.message ?? '').split('\n');
  // A differential message is a title line and one line per difference: name where they differ.
  if (r.backend.startsWith('diff:') && lines.length > 1) {
    const at = lines.slice(1).map((l) => /^(.*?):/.exec(l)?.[1] ?? l);
    return `${c.name}: differ at ${at.slice(0, 4).join(', ')}${at.length > 4 ? `, … (${at.length})` : ''}`;
  }
  const msg = lines[0] ?? '';
  return `${c.name}${msg === '' ? '' : `: ${msg}`}`;
}

interface Prepared {
  r: ResultRecord;
  id: string;
  art: ResultArtifacts;
  ladder?: Ladder;
}

// ---- the matrix -------------------------------------------------------------------------------

/** Failures first: a backend's own failure (0) before backends merely disagreeing (1), before the rest. */
function failRank(r: ResultRecord): number {
  if (r.status !== 'failed' && r.status !== 'unexpected_pass') return { known_failure: 2, passed: 3, skipped: 4 }[r.status];
  return r.backend.startsWith('diff:') ? 1 : 0;
}

function scenarioRank(results: Prepared[], scenario: string): number {
  return Math.min(...results.filter((p) => p.r.scenario === scenario).map((p) => failRank(p.r)));
}

function matrix(results: Prepared[]): Markup {
  const cols = [
    ...new Map(results.map((p) => [`${p.r.hook}|${column(p.r)}`, { hook: p.r.hook, backend: p.r.backend, col: column(p.r) }])).values(),
  ].sort(
    (a, b) =>
      a.hook.localeCompare(b.hook) ||
      backendRank(a.backend) - backendRank(b.backend) ||
      a.col.localeCompare(b.col, 'en', { numeric: true }),
  );
  const hooks = [...new Set(cols.map((c) => c.hook))];
  const scenarios = [...new Set(results.map((p) => p.r.scenario))].sort(
    (a, b) => scenarioRank(results, a) - scenarioRank(results, b) || a.localeCompare(b),
  );
  const cell = new Map(results.map((p) => [`${p.r.scenario}|${p.r.hook}|${column(p.r)}`, p]));
  return el(
    'table',
    { class: 'matrix' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', { rowspan: 2 }, 'scenario'),
        hooks.map((h) => el('th', { colspan: cols.filter((c) => c.hook === h).length, class: 'hook' }, h)),
      ),
      el(
        'tr',
        {},
        cols.map((c) => el('th', {}, c.col)),
      ),
    ),
    el(
      'tbody',
      {},
      scenarios.map((s) =>
        el(
          'tr',
          {},
          el('th', { class: 'scn' }, s),
          cols.map((c) => {
            const p = cell.get(`${s}|${c.hook}|${c.col}`);
            if (p === undefined)
              return el(
                'td',
                {
                  class: 'none',
                  title: c.backend.startsWith('diff:')
                    ? 'not compared: a backend failed or was skipped, so its digest was not kept'
                    : 'not run',
                },
                c.backend.startsWith('diff:') ? 'not compared' : '',
              );
            const r = p.r;
            const tip =
              r.status === 'failed' || r.status === 'unexpected_pass'
                ? firstFailure(r)
                : r.status === 'known_failure'
                  ? `known failure (${r.knownFailure ?? ''}): ${firstFailure(r)}`
                  : r.status === 'skipped'
                    ? (r.skipReason ?? 'skipped')
                    : `${r.checks.length} checks passed`;
            return el(
              'td',
              { class: r.status },
              el(
                'a',
                { href: `#${p.id}`, title: tip },
                el('span', { class: 'mark' }, statusMark(r.status)),
                ' ',
                r.status === 'skipped' ? 'skip' : r.backend.startsWith('diff:') ? 'diff' : ms(r.durationMs),
              ),
            );
          }),
        ),
      ),
    ),
  );
}

// ---- one result -------------------------------------------------------------------------------

function suspects(p: Prepared): Markup | null {
  const l = p.ladder;
  if (l === undefined) return null;
  const bad = l.packets.filter((x) => x.problem !== undefined);
  if (bad.length === 0) return null;
  return el(
    'div',
    { class: 'suspects' },
    el('b', {}, `Packets to look at (${bad.length}):`),
    el(
      'ol',
      {},
      bad
        .slice(0, 12)
        .map((x) =>
          el(
            'li',
            {},
            el('a', { href: `#${p.id}-p-${x.n}`, class: 'jump' }, `#${x.n}`),
            ` ${x.timeMs.toFixed(3)} ms ${x.from} → ${x.to}: `,
            el('b', {}, x.problem ?? ''),
            el('code', {}, ` ${x.proto} ${x.src}:${x.sport ?? ''} → ${x.dst}:${x.dport ?? ''} ${x.flags}`),
          ),
        ),
    ),
    bad.length > 12 ? el('p', {}, `… and ${bad.length - 12} more (red rows in the ladder).`) : null,
  );
}

function relatedResults(p: Prepared, all: Prepared[]): Markup | null {
  if (!p.r.backend.startsWith('diff:')) return null;
  const pair: string[] = diffPair(p.r);
  const rel = all.filter(
    (q) => q.r.scenario === p.r.scenario && q.r.hook === p.r.hook && q.r.kernel === p.r.kernel && pair.includes(q.r.backend),
  );
  if (rel.length === 0) return null;
  return el(
    'p',
    {},
    'Compared results: ',
    rel.map((q, i) => fragment(i > 0 ? ', ' : '', el('a', { href: `#${q.id}` }, `${q.r.backend} ${q.r.hook}`))),
    ' (their ladders and conntrack tables show both sides).',
  );
}

type ChartFn = typeof spreadChart;

function resultSection(p: Prepared, dir: string, all: Prepared[], chart: ChartFn | undefined): Markup {
  const r = p.r;
  const failed = r.status === 'failed';
  const pcapLinks = p.art.pcaps.map((f) => el('a', { href: path.relative(dir, f).split(path.sep).join('/') }, path.basename(f)));
  const otherFiles = ['trace.json', 'conntrack.json', 'topology.json'].filter(() => p.art.pcaps.length > 0);
  const charts = r.checks
    .filter((c) => c.spread !== undefined)
    .map((c) =>
      el(
        'figure',
        { class: c.ok ? 'chart' : 'chart bad' },
        c.spread === undefined || chart === undefined
          ? null
          : chart(c.spread, c.ok ? 'connections per backend' : 'connections per backend — outside the band'),
        el('figcaption', {}, c.name),
      ),
    );
  const ct = p.art.trace.length > 0 ? conntrackTimeline(p.art) : null;
  return el(
    'section',
    { id: p.id, class: `result ${r.status}` },
    el(
      'h3',
      {},
      el('span', { class: `badge ${r.status}` }, `${statusMark(r.status)} ${r.status}`),
      ` ${r.scenario} `,
      el('span', { class: 'bh' }, `${r.backend} · ${r.hook}${r.kernel === undefined ? '' : ` · ${r.kernel}`}`),
      el('span', { class: 'dur' }, r.backend.startsWith('diff:') ? '' : ms(r.durationMs)),
      el('a', { class: 'up', href: '#matrix' }, '↑ matrix'),
    ),
    r.skipReason === undefined ? null : el('p', {}, `Skipped: ${r.skipReason}`),
    r.knownFailure === undefined
      ? null
      : el(
          'p',
          {},
          r.status === 'unexpected_pass'
            ? `Marked as a known failure but passed: remove the knownFailures mark (${r.knownFailure})`
            : `Known failure: ${r.knownFailure}`,
        ),
    r.error === undefined ? null : el('pre', { class: 'msg error' }, `error: ${r.error}`),
    checksTable(r),
    relatedResults(p, all),
    suspects(p),
    r.log.length === 0 ? null : el('div', { class: 'log' }, el('b', {}, 'Diagnosis and log'), el('pre', {}, r.log.join('\n'))),
    el(
      'dl',
      { class: 'meta' },
      el('dt', {}, 'seed'),
      el('dd', {}, el('code', {}, String(r.seed))),
      el('dt', {}, 'reproduce'),
      el(
        'dd',
        {},
        el('code', { class: 'cmd' }, r.reproduce),
        ' ',
        el('button', { type: 'button', class: 'copy', 'data-copy': r.reproduce }, 'copy'),
      ),
      r.artifactsDir === undefined ? null : fragment(el('dt', {}, 'artifacts'), el('dd', {}, el('code', {}, r.artifactsDir))),
      pcapLinks.length === 0
        ? null
        : fragment(
            el('dt', {}, 'pcaps'),
            el(
              'dd',
              { class: 'files' },
              pcapLinks,
              otherFiles.map((f) =>
                el(
                  'a',
                  {
                    href: path
                      .relative(dir, path.join(r.artifactsDir ?? '', f))
                      .split(path.sep)
                      .join('/'),
                  },
                  f,
                ),
              ),
            ),
          ),
    ),
    charts.length === 0 ? null : el('div', { class: 'charts' }, charts),
    p.ladder === undefined || p.ladder.packets.length === 0
      ? null
      : el(
          'details',
          { class: 'ladder-box', open: failed },
          el(
            'summary',
            {},
            `Packet ladder: ${p.ladder.packets.length} packets across ${p.ladder.nodes.join(', ')}`,
            p.ladder.omitted > 0 ? ` (first ${p.ladder.packets.length}; ${p.ladder.omitted} more in the pcaps)` : '',
            el(
              'span',
              { class: 'legend' },
              el('span', { class: 'hot' }, 'orange'),
              ' = field rewritten by the LB, ',
              el('span', { class: 'bad' }, 'red'),
              ' = RST / ICMP error / dropped; hover a row for seq, ttl, trace',
            ),
          ),
          el('div', { class: 'scroll' }, renderLadder(p.ladder, `${p.id}-p`)),
        ),
    ct === null
      ? null
      : el(
          'details',
          { class: 'ct-box', open: failed },
          el('summary', {}, 'Conntrack state timeline per flow (from the LB’s trace events)'),
          ct,
        ),
  );
}

// ---- the page ---------------------------------------------------------------------------------

/** `extra`: a section shown right after the headline (the kernel matrix's kernels and behaviour diff). */
export async function buildHtmlReport(summary: RunSummary, dir: string, extra?: Markup): Promise<string> {
  const prepared: Prepared[] = [];
  for (const r of summary.results) {
    const art = loadResultArtifacts(r.artifactsDir);
    const p: Prepared = { r, id: resultId(r), art };
    if (art.pcaps.length > 0) p.ladder = await buildLadder(art.pcaps, art.nodes, art.trace, r.status === 'failed' ? 600 : 250);
    prepared.push(p);
  }
  // ECharts is loaded only when some result has a spread check to draw.
  const chart = summary.results.some((r) => r.checks.some((c) => c.spread !== undefined))
    ? (await import('./charts.ts')).spreadChart
    : undefined;
  const sorted = [...prepared].sort((a, b) => failRank(a.r) - failRank(b.r));
  const failed = sorted.filter((p) => p.r.status === 'failed' || p.r.status === 'unexpected_pass');
  const wall = Object.entries(summary.wallMsByBackend)
    .map(([b, v]) => `${b} ${ms(v ?? 0)}`)
    .join(', ');
  const headline = el(
    'header',
    { class: summary.failed > 0 ? 'red' : 'green' },
    el(
      'h1',
      {},
      summary.failed > 0 ? `✗ ${summary.failed} failed` : '✓ all passed',
      el(
        'span',
        { class: 'counts' },
        ` · ${summary.passed} passed${summary.knownFailures > 0 ? ` · ${summary.knownFailures} known failures` : ''} · ${summary.skipped} skipped`,
      ),
    ),
    el(
      'p',
      {},
      `xlb run started ${summary.startedAt}, ${ms(summary.durationMs)}; seed ${summary.seed}${wall === '' ? '' : `; time per backend: ${wall}`}`,
    ),
  );
  const failList =
    failed.length === 0
      ? null
      : el(
          'section',
          { class: 'failures' },
          el('h2', {}, 'Failures'),
          el(
            'ul',
            {},
            failed.map((p) => {
              const first = p.ladder?.packets.find((x) => x.problem !== undefined);
              return el(
                'li',
                {},
                el('a', { href: `#${p.id}`, class: 'fail-link' }, `✗ ${p.r.scenario} · ${column(p.r)} · ${p.r.hook}`),
                el('span', { class: 'why' }, ` ${clip(firstFailure(p.r), 180)}`),
                first === undefined
                  ? null
                  : fragment(
                      ' — first suspect packet ',
                      el('a', { href: `#${p.id}-p-${first.n}`, class: 'jump' }, `#${first.n} ${first.problem ?? ''}`),
                    ),
              );
            }),
          ),
        );
  const skipped = sorted.filter((p) => p.r.status === 'skipped');
  const body = fragment(
    headline,
    extra,
    failList,
    el(
      'section',
      { id: 'matrix' },
      el('h2', {}, 'Scenario × hook × backend'),
      el('p', { class: 'hint' }, 'Failed scenarios on top. Each cell links to its result; hover for the first failure.'),
      matrix(prepared),
    ),
    el('h2', {}, 'Results'),
    sorted.filter((p) => p.r.status !== 'skipped').map((p) => resultSection(p, dir, prepared, chart)),
    skipped.length === 0
      ? null
      : el(
          'section',
          { class: 'skipped' },
          el('h2', {}, 'Skipped'),
          el(
            'ul',
            {},
            skipped.map((p) => el('li', { id: p.id }, `${p.r.scenario} · ${column(p.r)} · ${p.r.hook}: ${p.r.skipReason ?? ''}`)),
          ),
        ),
  );
  return `<!doctype html>\n${el('html', { lang: 'en' }, el('head', {}, el('meta', { charset: 'utf-8' }), el('title', {}, `xlb run: ${summary.failed} failed, ${summary.passed} passed`), el('style', {}, raw(STYLE))), el('body', {}, body, el('script', {}, raw(SCRIPT)))).html}\n`;
}

/** Writes DIR/index.html from the summary and the artifacts under DIR; returns its path. */
export async function writeHtmlReport(dir: string, summary: RunSummary, extra?: Markup): Promise<string> {
  const file = path.join(dir, 'index.html');
  writeFileSync(file, await buildHtmlReport(summary, dir, extra));
  return file;
}
