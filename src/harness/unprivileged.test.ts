// `xlb run --backend sim` works as an unprivileged user, and prog/lab are skipped there (with
// the reason), not failed. Run as root, this test drops to `nobody` with runuser.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import type { RunSummary } from './results.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('as nobody: sim runs, prog and lab are skipped with the reason', async (t) => {
  if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/runuser')) {
    t.log('skipped: needs root (to become nobody) and runuser');
    t.pass();
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-nobody-'));
  chmodSync(dir, 0o777);
  try {
    const report = path.join(dir, 'r');
    const r = await execa(
      'runuser',
      [
        '-u',
        'nobody',
        '--',
        path.join(ROOT, 'xlb'),
        'run',
        path.join(ROOT, 'scenarios/lb/rr-udp.ts'),
        '--hook',
        'tc',
        '--seed',
        '3',
        '--report',
        report,
        '--tap',
      ],
      { reject: false, all: true, cwd: ROOT },
    );
    t.is(r.exitCode, 0, r.all);
    const s = JSON.parse(readFileSync(path.join(report, 'summary.json'), 'utf8')) as RunSummary;
    const by = Object.fromEntries(s.results.map((x) => [x.backend, x]));
    t.is(by.sim?.status, 'passed');
    t.is(by.prog?.status, 'skipped');
    t.regex(by.prog?.skipReason ?? '', /prog needs root .*--backend sim/);
    t.is(by.lab?.status, 'skipped');
    t.is(s.failed, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
