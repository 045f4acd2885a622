// The mutation run's own checks: the fault list and the fault points in bpf/include are the same
// set; the points do not change the default build (its instructions equal those of the sources
// with every point resolved to its default branch); `xlb run --mutate --faults NAT_L4_PSEUDO`
// on one scenario reports that fault killed (root: it loads BPF programs).
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { backendUnavailable } from '../backends.ts';
import { FAULTS, STAGES, faultTableMarkdown, selectFaults } from './faults.ts';
import { findFaultPoints, resolveFaultPoints } from './points.ts';
import { disassemble } from './run.ts';
import type { MutationReport } from './run.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const INCLUDE = path.join(ROOT, 'bpf/include');

test('the fault list is well-formed: at least 30, every stage, unique names, each with a described point in bpf/include and each point listed', (t) => {
  t.true(FAULTS.length >= 30, `${FAULTS.length} faults`);
  for (const s of STAGES)
    t.true(
      FAULTS.some((f) => f.stage === s),
      `a fault in stage ${s}`,
    );
  const names = FAULTS.map((f) => f.name);
  t.is(new Set(names).size, names.length, 'names are unique');
  for (const f of FAULTS) {
    t.regex(f.name, /^[A-Z0-9_]+$/);
    t.true(f.breaks.length > 10, `${f.name} says what it breaks`);
  }
  const points = findFaultPoints(INCLUDE);
  const pointNames = new Set(points.map((p) => p.name));
  t.deepEqual(
    names.filter((n) => !pointNames.has(n)),
    [],
    'every listed fault has a point in bpf/include',
  );
  t.deepEqual(
    [...pointNames].filter((n) => !names.includes(n)),
    [],
    'every point in bpf/include is in FAULTS',
  );
  for (const p of points) t.regex(p.text, /\/\*.{10,}\*\//, `${p.file}:${p.line} says in a comment what XLB_FAULT_${p.name} breaks`);
  // an #ifdef point holds the fault, then #else and the correct code: without an #else it
  // takes code out of the default build (an #ifndef was meant)
  t.deepEqual(
    points.filter((p) => !p.negated && !p.hasElse).map((p) => `${p.file}:${p.line} XLB_FAULT_${p.name}`),
    [],
    '#ifdef points have an #else with the correct code',
  );
  // single faults: one point per name
  t.deepEqual(
    points.filter((p, i) => points.findIndex((q) => q.name === p.name) !== i).map((p) => `${p.file}:${p.line}`),
    [],
    'one point per fault',
  );
});

test('docs/mutation.md lists the faults of faults.ts (the table between its faults markers)', (t) => {
  const doc = readFileSync(path.join(ROOT, 'docs/mutation.md'), 'utf8');
  const m = /<!-- faults -->\n([\s\S]*?)\n<!-- \/faults -->/.exec(doc);
  t.truthy(m, 'docs/mutation.md has the <!-- faults --> … <!-- /faults --> section');
  t.is(m?.[1], faultTableMarkdown(), 'regenerate the table: see docs/mutation.md, "Adding a fault"');
});

test('--faults names are checked against the list', (t) => {
  t.deepEqual(
    selectFaults('NAT_L4_PSEUDO, XLB_FAULT_CT_SYNACK').map((f) => f.name),
    ['NAT_L4_PSEUDO', 'CT_SYNACK'],
  );
  t.throws(() => selectFaults('NO_SUCH'), { message: /unknown fault NO_SUCH; known faults: .*NAT_L4_PSEUDO/ });
});

test('resolving a point keeps the default branch only', (t) => {
  const src = [
    'a',
    '#ifndef XLB_FAULT_X /* x */',
    'keep1',
    '#ifdef OTHER',
    'o',
    '#endif',
    '#endif',
    '#ifdef XLB_FAULT_Y /* y */',
    'drop',
    '#else',
    'keep2',
    '#endif',
    'b',
  ].join('\n');
  t.is(resolveFaultPoints(src), ['a', 'keep1', '#ifdef OTHER', 'o', '#endif', 'keep2', 'b'].join('\n'));
  t.is(
    resolveFaultPoints('#ifndef XLB_FAULT_A /* a */\n#ifdef XLB_FAULT_B /* b */\nbad\n#else\ngood\n#endif\n#endif'),
    'good',
    'a point nested in another is resolved too',
  );
  t.throws(() => resolveFaultPoints('#ifdef XLB_FAULT_Z\nx\n'), { message: /XLB_FAULT_Z has no #endif/ });
});

test('no fault is on in the default build: its instructions equal those of the sources with every point resolved to its default branch', async (t) => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'xlb-mutate-default-'));
  try {
    // a copy of bpf/ with every point resolved, built beside the real tree's default build
    const copy = path.join(tmp, 'bpf');
    cpSync(path.join(ROOT, 'bpf'), copy, { recursive: true });
    for (const f of readdirSync(path.join(copy, 'include'))) {
      const p = path.join(copy, 'include', f);
      writeFileSync(p, resolveFaultPoints(readFileSync(p, 'utf8'), f));
    }
    t.deepEqual(findFaultPoints(path.join(copy, 'include')), [], 'the copy has no fault point left');
    const objs = ['xlb_tc.bpf.o', 'xlb_xdp.bpf.o'];
    for (const [dir, out] of [
      [path.join(ROOT, 'bpf'), path.join(tmp, 'real')],
      [copy, path.join(tmp, 'resolved')],
    ] as const) {
      const r = await execa('make', ['-s', '-C', dir, `OUT=${out}`, ...objs.map((o) => path.join(out, o))], { reject: false, all: true });
      if (r.exitCode !== 0) throw new Error(`make in ${dir} failed:\n${r.all ?? ''}`);
    }
    for (const o of objs) {
      const [a, b] = await Promise.all([disassemble(path.join(tmp, 'real', o)), disassemble(path.join(tmp, 'resolved', o))]);
      t.true(a.length > 10000, `${o} disassembled`);
      t.true(a === b, `${o}: the default build's instructions equal the resolved sources'`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('xlb run --mutate --faults NAT_L4_PSEUDO on one scenario reports it killed, with the score and the reports', async (t) => {
  const why = backendUnavailable('prog');
  if (why !== undefined) {
    t.log(`skipped: ${why}`);
    t.pass();
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-mutate-test-'));
  try {
    const r = await execa(
      process.execPath,
      [
        '--import',
        `file://${ROOT}/node_modules/tsx/dist/loader.mjs`,
        path.join(ROOT, 'src/cli.ts'),
        'run',
        '--mutate',
        '--faults',
        'NAT_L4_PSEUDO',
        path.join(ROOT, 'scenarios/lb/rr-tcp-dnat.ts'),
        '--hook',
        'tc',
        '--seed',
        '11',
        '--report',
        dir,
      ],
      { reject: false, all: true, cwd: ROOT },
    );
    t.is(r.exitCode, 0, r.all);
    const rep = JSON.parse(readFileSync(path.join(dir, 'mutation.json'), 'utf8')) as MutationReport;
    t.is(rep.baseline.failed.length, 0, 'the scenario passes on the default build');
    t.is(rep.faults.length, 1);
    t.like(rep.faults[0], { name: 'NAT_L4_PSEUDO', stage: 'nat', outcome: 'killed', killedBy: ['lb/rr-tcp-dnat [prog tc]'] });
    t.like(rep, { killed: 1, applicable: 1, score: 1 });
    t.regex(r.all ?? '', /KILLED +NAT_L4_PSEUDO \(nat\)[\s\S]*mutation score 100\.0 % \(1 killed of 1 applicable/);
    t.regex(readFileSync(path.join(dir, 'mutation.md'), 'utf8'), /\| `NAT_L4_PSEUDO` \| nat \| killed \| lb\/rr-tcp-dnat \[prog tc\] \|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
