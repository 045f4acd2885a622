// The checks of one result in the HTML report, failed first; a differential result's
// `key: "A" vs "B"` messages become tables with the tokens that differ marked.
import type { ResultRecord } from '../results.ts';
import { el, fragment } from './html.ts';
import type { Markup } from './html.ts';

/** A quoted side of a difference; the differential shortens long values (ending in … without the closing quote). */
function unquote(s: string): string | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return s.startsWith('"') ? s.slice(1).replace(/"$/, '') : undefined;
  }
}

/** `key: "A" vs "B"` lines of a differential message as a table, the tokens that differ marked. */
function diffView(message: string, names: [string, string]): Markup {
  const rows: Markup[] = [];
  const plain: string[] = [];
  for (const line of message.split('\n')) {
    const m = /^(.*?): (".*?(?:"|…)) vs (".*)$/.exec(line);
    const a = m === null ? undefined : unquote(m[2] ?? '');
    const b = m === null ? undefined : unquote(m[3] ?? '');
    if (m === null || a === undefined || b === undefined) {
      plain.push(line);
      continue;
    }
    const [ma, mb] = tokenDiff(a, b);
    rows.push(
      el('tr', {}, el('th', { rowspan: 2 }, m[1] ?? ''), el('td', { class: 'side' }, names[0]), el('td', {}, el('code', {}, ma))),
      el('tr', {}, el('td', { class: 'side' }, names[1]), el('td', {}, el('code', {}, mb))),
    );
  }
  return fragment(
    plain.length > 0 ? el('pre', { class: 'msg' }, plain.join('\n')) : null,
    rows.length > 0 ? el('table', { class: 'diff' }, rows) : null,
  );
}

/** Marks the tokens of a and b outside their longest common subsequence. */
export function tokenDiff(a: string, b: string): [Markup, Markup] {
  const split = (s: string): string[] => s.split(/([\s,[\]>]+)/).filter((t) => t !== '');
  const ta = split(a);
  const tb = split(b);
  const L: number[][] = Array.from({ length: ta.length + 1 }, () => new Array<number>(tb.length + 1).fill(0));
  for (let i = ta.length - 1; i >= 0; i--)
    for (let j = tb.length - 1; j >= 0; j--)
      (L[i] as number[])[j] = ta[i] === tb[j] ? (L[i + 1]?.[j + 1] ?? 0) + 1 : Math.max(L[i + 1]?.[j] ?? 0, L[i]?.[j + 1] ?? 0);
  const ka = new Array<boolean>(ta.length).fill(false);
  const kb = new Array<boolean>(tb.length).fill(false);
  let i = 0;
  let j = 0;
  while (i < ta.length && j < tb.length) {
    if (ta[i] === tb[j]) {
      ka[i++] = true;
      kb[j++] = true;
    } else if ((L[i + 1]?.[j] ?? 0) >= (L[i]?.[j + 1] ?? 0)) i++;
    else j++;
  }
  const mark = (ts: string[], keep: boolean[]): Markup => fragment(ts.map((t, k) => (keep[k] === true ? t : el('mark', {}, t))));
  return [mark(ta, ka), mark(tb, kb)];
}

/** The two backends a differential result compared ('diff:sim-prog' → sim, prog). */
export function diffPair(r: ResultRecord): [string, string] {
  const [a = 'A', b = 'B'] = r.backend.slice('diff:'.length).split('-');
  return [a, b];
}

/** A result's checks, failed first; a differential result's messages as diff tables. */
export function checksTable(r: ResultRecord): Markup {
  const checks = [...r.checks].sort((a, b) => Number(a.ok) - Number(b.ok));
  return el(
    'table',
    { class: 'checks' },
    checks.map((c) =>
      el(
        'tr',
        { class: c.ok ? 'passed' : 'failed' },
        el('td', { class: 'mark' }, c.ok ? '✓' : '✗'),
        el(
          'td',
          {},
          el('div', { class: 'cname' }, c.name),
          c.ok || c.message === undefined
            ? null
            : r.backend.startsWith('diff:')
              ? diffView(c.message, diffPair(r))
              : el('pre', { class: 'msg' }, c.message),
        ),
      ),
    ),
  );
}
