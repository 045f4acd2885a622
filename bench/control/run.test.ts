// The control bench's smoke (in the test command): `--quick` end to end on the kernel (root) or
// on the test double, every path, and the numbers it reports are the ones it measured.
import test from 'ava';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../../src/root.ts';
import { formatControlBench, parseControlArgs, runControlBench, services } from './run.ts';

const root = process.getuid?.() === 0;

test('services: distinct VIP/port per service at 100,000', (t) => {
  const list = services(100_000, 2, 'rr');
  t.is(new Set(list.map((s) => `${s.vip as string}:${s.port as number}`)).size, 100_000);
  // Every service its own endpoints by default, all distinct; `pools` shares sets.
  const eps = (l: Record<string, unknown>[]): string[] =>
    l.flatMap((s) => (s.endpoints as { ip: string; port: number }[]).map((e) => `${e.ip}:${e.port}`));
  t.is(new Set(eps(list)).size, 200_000);
  t.is(new Set(eps(services(1000, 8, 'rr', 0, 10))).size, 80);
  t.deepEqual(services(2, 2, 'maglev', 1)[1]?.endpoints, [
    { ip: '198.18.2.3', port: 28080 },
    { ip: '198.18.2.4', port: 8080 },
  ]);
});

test.serial('control bench --quick: every path on fresh maps, peak memory, µs per write, conntrack listing', async (t) => {
  const o = parseControlArgs(['--quick', '--backend', root ? 'kernel' : 'double']);
  if (o === 'help') throw new Error('unexpected help');
  const t0 = performance.now();
  const r = await runControlBench(o);
  const ms = performance.now() - t0;
  t.log(`${Math.round(ms)} ms`);
  t.deepEqual(
    r.rows.map((x) => `${x.path}/${x.algorithm}`),
    ['controller/maglev', 'rest-bulk/maglev', 'rest-each/maglev', 'controller/rr'],
  );
  for (const x of r.rows) {
    t.is(x.services, 100);
    t.true(x.ms > 0 && x.servicesPerS > 0 && x.maxRssMb > 20, `${x.path}: ${JSON.stringify(x)}`);
    if (root) {
      t.true(x.kernelMapMb > 0);
      t.true(x.mappedMapMb > 0 && x.mappedMapMb < x.maxRssMb, `${x.path}: maps mapped ${x.mappedMapMb} MB of ${x.maxRssMb} MB`);
    }
  }
  t.is(r.perOp.length, 2);
  t.true((r.perOp[0]?.tableBuildUs ?? 0) > (r.perOp[1]?.tableBuildUs ?? 0), 'a Maglev table costs more to build than an rr generation');
  if (root) t.true((r.perOp[0]?.tableBuildNativeUs ?? 0) > 0);
  if (root) {
    t.is(r.conntrack?.entries, 10_000);
    t.is(r.conntrack?.flows, 5_000, 'two entries per flow, merged');
    t.is(r.conntrack?.serviceFlows, 50);
  } else t.is(r.conntrack, undefined);
  t.regex(formatControlBench(r), /\| rest-each \| maglev \| 100 \|/);
});

// `xlb bench` runs from dist/ (the compiled launcher), where a module's own folder is not the
// project's: the control suite once looked for dist/bench/control/phase.ts and stopped the whole
// bench. Through the real launcher, so the compiled path is the one tested.
(root ? test.serial : test.serial.skip)('xlb bench --suite control --quick through the launcher (dist/) runs its phases', async (t) => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'xlb-control-launcher-'));
  try {
    const r = await execa(path.join(ROOT, 'xlb'), ['bench', '--suite', 'control', '--quick', '--out', out], {
      reject: false,
      timeout: 180_000,
    });
    t.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')) as {
      other?: { control?: { result?: { rows?: unknown[] } } };
    };
    t.is(report.other?.control?.result?.rows?.length, 4, JSON.stringify(report.other).slice(0, 400));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
