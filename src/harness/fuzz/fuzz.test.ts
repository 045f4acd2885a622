// Differential fuzzing, tested: (1) the model against a model with a deliberate fault
// (l4-checksum-stale: port rewrites leave the TCP/UDP checksum stale) is caught, shrunk to a
// short reproducer, and the reproducer file replays it (no root); (2) as root, 100,000 packets
// per hook through the model and the real programs at TC and XDP must agree.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { objectPathFor } from '../../datapath/loader.ts';
import { MODEL_FAULTS } from '../../model/index.ts';
import { runRepro } from './repro.ts';
import type { ReproHeader } from './repro.ts';
import { runFuzz } from './run.ts';
import type { FuzzStep } from './steps.ts';

test('a model with a stale-checksum fault is found, shrunk to a short reproducer, and the reproducer replays it', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlb-fuzz-'));
  try {
    const lines: string[] = [];
    const r = runFuzz({
      packets: 2000,
      seed: 5,
      hooks: ['tc'],
      ref: { kind: 'model' },
      other: { kind: 'model', faults: ['l4-checksum-stale'] },
      reportDir: dir,
      maxDisagreements: 3,
      log: (s) => lines.push(s),
    });
    const h = r.hooks[0]!;
    t.true(h.disagreements.length > 0, 'the fault is found');
    const first = h.disagreements[0]!;
    t.is(first.signature, 'packet output bytes', 'it shows in the output bytes (the checksum)');
    t.true(first.reproducible);
    t.truthy(first.shrunk);
    t.true(first.shrunk!.steps <= 3, `shrunk to ${first.shrunk!.steps} steps (a port-rewriting packet is enough)`);
    t.regex(first.shrunk!.detail, /cksum bad/, 'the detail shows the stale checksum');
    t.true(
      lines.some((l) => l.includes(`seed 5, sequence ${first.sequence}`) && l.includes(`step ${first.step}`)),
      'the seed and step are printed',
    );
    t.true(
      lines.some((l) => l.includes(`re-run: ${first.shrunk!.command}`) && first.shrunk!.command.endsWith(first.shrunk!.file)),
      'the command is printed',
    );
    // the file's steps, replayed: they still disagree; without the fault they agree
    const text = readFileSync(first.shrunk!.file, 'utf8');
    const m = /runRepro\((\{.*\}), \[\n([\s\S]*)\n\]\);/.exec(text);
    t.truthy(m, 'the reproducer names its header and steps');
    const header = JSON.parse(m![1]!) as ReproHeader;
    const steps = m![2]!.split('\n').map((l) => JSON.parse(l.replace(/, \/\/ .*$/, '')) as FuzzStep);
    t.is(steps.length, first.shrunk!.steps);
    const out: string[] = [];
    t.is(
      runRepro(header, steps, (s) => out.push(s)),
      1,
      out.join('\n'),
    );
    t.is(
      runRepro({ ...header, other: { kind: 'model' } }, steps, () => undefined),
      0,
      'the model agrees with itself on the reproducer',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every deliberate model fault is found within 20,000 packets and shrunk to at most 6 steps', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlb-fuzz-'));
  try {
    for (const fault of Object.keys(MODEL_FAULTS)) {
      const r = runFuzz({
        packets: 20_000,
        seed: 1,
        hooks: ['xdp'],
        ref: { kind: 'model' },
        other: { kind: 'model', faults: [fault] },
        reportDir: dir,
        maxDisagreements: 1,
        log: () => undefined,
      });
      const h = r.hooks[0]!;
      const d = h.disagreements[0];
      t.truthy(d, `${fault}: not found in ${h.packets} packets`);
      if (d === undefined) continue;
      t.log(`${fault}: found after ${h.packets} packets (${d.signature}), shrunk to ${d.shrunk?.steps} steps`);
      t.true(d.shrunk !== undefined && d.shrunk.steps <= 6, `${fault}: shrunk to ${d.shrunk?.steps} steps`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the model agrees with itself on 20,000 fuzz packets (the generator and the comparison are deterministic)', (t) => {
  const r = runFuzz({
    packets: 20_000,
    seed: 11,
    hooks: ['xdp'],
    ref: { kind: 'model' },
    other: { kind: 'model' },
    reportDir: os.tmpdir(),
    batch: 8000,
    checkEvery: 500,
    log: (s) => t.log(s),
  });
  t.is(r.hooks[0]!.packets, 20_000);
  t.deepEqual(r.hooks[0]!.disagreements, []);
});

const why =
  process.getuid?.() !== 0
    ? 'needs root (BPF_PROG_TEST_RUN)'
    : !existsSync(objectPathFor('tc')) || !existsSync(objectPathFor('xdp'))
      ? 'needs build/bpf/xlb_{tc,xdp}.bpf.o: run ./scripts/build.sh'
      : undefined;
const PROG_PACKETS = 100_000;

for (const hook of ['tc', 'xdp'] as const) {
  if (why !== undefined) {
    test.skip(`${hook}: model = prog on ${PROG_PACKETS} fuzz packets (skipped: ${why})`, () => undefined);
    continue;
  }
  test.serial(`${hook}: model = prog on ${PROG_PACKETS} fuzz packets`, (t) => {
    t.timeout(180_000);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xlb-fuzz-'));
    const seed = Number(process.env.XLB_FUZZ_SEED ?? 1);
    try {
      const r = runFuzz({
        packets: PROG_PACKETS,
        seed,
        hooks: [hook],
        ref: { kind: 'model' },
        other: { kind: 'prog' },
        reportDir: dir,
        maxShrinks: 1,
        maxDisagreements: 5,
        shrinkBudget: { maxTests: 60, maxMs: 30_000 },
        log: (s) => t.log(s),
      });
      const h = r.hooks[0]!;
      t.log(
        `${hook}: ${h.packets} packets compared (+${h.skipped} not runnable), ${h.seconds.toFixed(1)} s, ${h.packetsPerSecond} packets/s`,
      );
      t.deepEqual(h.signatures, {}, `disagreements (seed ${seed}); reproducers in ${dir}`);
      t.true(h.packets + h.skipped >= PROG_PACKETS);
    } finally {
      if (t.passed) rmSync(dir, { recursive: true, force: true });
    }
  });
}
