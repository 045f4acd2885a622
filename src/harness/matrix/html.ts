// The kernel matrix's part of DIR/index.html: the kernels (release, wall time, boot, counts,
// a run that failed) and the behaviour diff, above the usual failures and result matrix (whose
// columns then carry the kernel too).
import { el, fragment } from '../report/html.ts';
import type { Markup } from '../report/html.ts';
import type { MatrixSummary } from './merge.ts';

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function kernelDiffSection(s: MatrixSummary): Markup {
  const ks = s.matrix.kernels;
  return fragment(
    el(
      'section',
      { id: 'kernels' },
      el('h2', {}, 'Kernels'),
      el(
        'table',
        { class: 'checks' },
        el(
          'tr',
          {},
          ['kernel', 'release', 'how', 'wall', 'boot', 'passed', 'failed', 'skipped', 'report'].map((h) => el('th', {}, h)),
        ),
        ks.map((k) =>
          el(
            'tr',
            { class: k.failure === undefined && k.failed === 0 ? 'passed' : 'failed' },
            el('td', {}, k.label),
            el('td', {}, k.release ?? '?'),
            el('td', {}, k.how),
            el('td', {}, secs(k.wallMs)),
            el('td', {}, k.bootMs === undefined ? '-' : secs(k.bootMs)),
            el('td', {}, String(k.passed)),
            el('td', {}, String(k.failed)),
            el('td', {}, String(k.skipped)),
            el(
              'td',
              {},
              el('a', { href: `kernels/${k.label}/index.html` }, 'its report'),
              k.failure === undefined ? null : el('pre', { class: 'msg error' }, `run failed (exit ${k.exitCode}): ${k.failure}`),
            ),
          ),
        ),
      ),
    ),
    el(
      'section',
      { id: 'behaviour-diff' },
      el('h2', {}, `Behaviour diff between kernels (${s.matrix.diffs.length})`),
      el(
        'p',
        { class: 'hint' },
        'A result whose status, failed checks or observations (frames, counters, conntrack, trace, traffic; no timing; lab, and scenarios that declare observationVaries: the semantic view) differ between kernels, even when every kernel passed it.',
      ),
      s.matrix.diffs.length === 0
        ? el('p', {}, 'None: every result that ran on several kernels behaved the same.')
        : el(
            'ul',
            {},
            s.matrix.diffs.map((d) =>
              el(
                'li',
                {},
                el('b', {}, `${d.scenario} · ${d.backend} · ${d.hook}`),
                ` [${d.kind}]`,
                el('pre', { class: 'msg' }, d.detail.join('\n')),
              ),
            ),
          ),
    ),
  );
}
