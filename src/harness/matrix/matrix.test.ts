// The kernel matrix without a VM: the observation record is deterministic (the same scenario and
// seed twice give the same digests, and sim and prog, which the strict differential says agree,
// give the same strict digest), the merge names a result whose observations differ between
// kernels although both passed, a status difference, a kernel that produced nothing; the
// feature probe reads the kernel's BTF and a scenario that requires a missing feature is skipped
// with the reason.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { btfStrings, featuresFromBtf, missingText, probeKernelFeatures } from '../../datapath/kernel-features.ts';
import type { FeatureProbe } from '../../datapath/kernel-features.ts';
import { loadScenarios } from '../runner.ts';
import type { ResultRecord, RunSummary } from '../results.ts';
import { runOne, skipReason } from '../run-one.ts';
import { scenario } from '../scenario.ts';
import type { BackendName } from '../world.ts';
import { formatMatrix, mergeKernelRuns } from './merge.ts';
import type { KernelRun } from './merge.ts';
import type { ObservationRecord } from './observation.ts';
import { canonicalJson } from './observation.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const isRoot = process.getuid?.() === 0;

async function observe(backend: BackendName, dir: string): Promise<ObservationRecord | undefined> {
  const [s] = await loadScenarios([path.join(ROOT, 'scenarios/lb/rr-tcp-dnat.ts')], path.join(ROOT, 'scenarios'));
  if (s === undefined) throw new Error('scenario not loaded');
  const out = await runOne({
    scenario: s.scenario,
    name: s.name,
    file: s.file,
    backend,
    hook: 'tc',
    seed: 42,
    artifactsDir: path.join(dir, backend, String(Math.random())),
    keepOnFail: false,
    reproduce: '',
  });
  if (out.record.status !== 'passed')
    throw new Error(`${backend}: ${out.record.status}: ${out.record.error ?? JSON.stringify(out.record.checks.filter((c) => !c.ok))}`);
  return out.record.observation;
}

test('canonical JSON sorts keys at every level', (t) => {
  t.is(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 3n } }), '{"a":{"c":"3","d":[2,{"y":2,"z":1}]},"b":1}');
});

test('the observation record is deterministic for a seed, and sim and prog agree on it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-matrix-'));
  try {
    const a = await observe('sim', dir);
    const b = await observe('sim', dir);
    t.truthy(a);
    t.deepEqual(a, b);
    t.deepEqual(Object.keys(a?.parts ?? {}).sort(), ['conntrack', 'fwd', 'links', 'reasons', 'trace', 'traffic']);
    // Small: digests and counters, never the frames themselves.
    t.true(JSON.stringify(a).length < 2000, JSON.stringify(a));
    if (!isRoot) return;
    const p = await observe('prog', dir);
    t.is(p?.strict, a?.strict, 'prog on this kernel observes exactly what the model does');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function rec(
  scenario: string,
  backend: ResultRecord['backend'],
  status: ResultRecord['status'],
  obs?: Partial<ObservationRecord>,
  extra: Partial<ResultRecord> = {},
): ResultRecord {
  const observation: ObservationRecord = {
    strict: 's1',
    semantic: 'm1',
    parts: { links: 'l1', reasons: 'r1' },
    values: { newFlows: 3 },
    ...obs,
  };
  return {
    scenario,
    file: `${scenario}.ts`,
    backend,
    hook: 'tc',
    status,
    durationMs: 1234,
    seed: 5,
    checks: [{ name: 'c', ok: status !== 'failed' }],
    reproduce: '',
    log: [],
    ...(status === 'skipped' ? {} : { observation }),
    ...extra,
  };
}

function summary(results: ResultRecord[]): RunSummary {
  return {
    passed: results.filter((r) => r.status === 'passed').length,
    failed: results.filter((r) => r.status === 'failed').length,
    knownFailures: 0,
    unexpectedPasses: 0,
    skipped: results.filter((r) => r.status === 'skipped').length,
    seed: 5,
    startedAt: '',
    durationMs: 1,
    wallMsByBackend: {},
    results,
  };
}

function run(label: string, results: ResultRecord[] | undefined): KernelRun {
  return {
    label,
    release: `${label}-rel`,
    how: label === 'host' ? 'host' : 'vm, tcg',
    wallMs: 60_000,
    exitCode: results === undefined ? 125 : 0,
    reportDir: `/r/${label}`,
    ...(results === undefined ? { failure: 'timeout' } : { summary: summary(results) }),
  };
}

test('merge: a column per kernel, and a passing result whose frames differ is named', (t) => {
  const m = mergeKernelRuns(
    [
      run('6.1', [
        rec('a', 'prog', 'passed'),
        rec('b', 'prog', 'passed', { strict: 's2', parts: { links: 'l2', reasons: 'r1' }, values: { newFlows: 4 } }),
        rec('c', 'prog', 'failed'),
        rec('d', 'lab', 'passed', { strict: 'x' }),
      ]),
      run('host', [
        rec('a', 'prog', 'passed'),
        rec('b', 'prog', 'passed'),
        rec('c', 'prog', 'passed'),
        rec('d', 'lab', 'passed', { strict: 'y' }),
      ]),
    ],
    5,
    new Date(),
  );
  t.is(m.results.length, 8);
  t.deepEqual([...new Set(m.results.map((r) => r.kernel))], ['6.1', 'host']);
  t.is(m.failed, 1);
  const byScenario = Object.fromEntries(m.matrix.diffs.map((d) => [d.scenario, d]));
  t.false('a' in byScenario);
  t.is(byScenario.b?.kind, 'observation');
  t.true(
    byScenario.b?.detail[0]?.includes('links') === true && byScenario.b.detail[0].includes('reasons') === false,
    byScenario.b?.detail.join('\n'),
  );
  t.true(byScenario.b?.detail.some((l) => l.startsWith('newFlows: 6.1 4 | host 3')) === true, byScenario.b?.detail.join('\n'));
  t.is(byScenario.c?.kind, 'status');
  // lab compares the semantic view only: its frames (ISNs, ports) are not stable from run to run.
  t.false('d' in byScenario);
  const text = formatMatrix(m);
  t.regex(text, /^result\s+6\.1\s+host/m);
  t.regex(text, /^b {2}prog tc\s+ok 1\.2 s\s+ok 1\.2 s\s+≠$/m);
  t.regex(text, /behaviour diff: 2 result/);
});

test('merge: a prog result whose scenario declares observationVaries is compared on the semantic view', (t) => {
  const varies = 'endpoints drawn from bpf_get_prandom_u32';
  const m = mergeKernelRuns(
    [
      run('6.1', [
        rec('r', 'prog', 'passed', { strict: 's2', varies }),
        rec('q', 'prog', 'passed', { strict: 's2', semantic: 'm2', varies, values: { newFlows: 4 } }),
      ]),
      run('host', [rec('r', 'prog', 'passed', { varies }), rec('q', 'prog', 'passed', { varies })]),
    ],
    5,
    new Date(),
  );
  const byScenario = Object.fromEntries(m.matrix.diffs.map((d) => [d.scenario, d]));
  // Same semantic view, different frames: not a behaviour difference.
  t.false('r' in byScenario);
  // A different semantic view still is, and says why the frames were not compared.
  t.is(byScenario.q?.kind, 'observation');
  t.true(byScenario.q?.detail[0]?.includes(varies) === true, byScenario.q?.detail.join('\n'));
});

test('merge: a skip on one kernel only is a difference; a kernel whose run failed fails the matrix once', (t) => {
  const m = mergeKernelRuns(
    [
      run('6.1', [rec('a', 'prog', 'skipped', {}, { skipReason: 'kernel lacks tcx' })]),
      run('6.12', [rec('a', 'prog', 'passed')]),
      run('6.6', undefined),
    ],
    5,
    new Date(),
  );
  t.is(m.failed, 1, 'the lost kernel');
  t.is(m.matrix.diffs.length, 1);
  t.is(m.matrix.diffs[0]?.kind, 'status');
  t.deepEqual(m.matrix.diffs[0]?.detail, ['6.1: skipped (kernel lacks tcx)', '6.12: passed']);
  t.regex(formatMatrix(m), /RUN FAILED \(exit 125\): timeout/);
});

test('kernel features come from the BTF string table; a missing one skips prog and lab with the reason, never sim', (t) => {
  const probe = probeKernelFeatures();
  if (probe.source === '/sys/kernel/btf/vmlinux') {
    const names = btfStrings(readFileSync('/sys/kernel/btf/vmlinux'));
    t.true(names.has('BPF_FUNC_map_lookup_elem'));
    t.true(probe.have.ringbuf);
  }
  const have = featuresFromBtf(
    new Set([
      'BPF_MAP_TYPE_RINGBUF',
      'BPF_FUNC_fib_lookup',
      'BPF_FUNC_redirect_neigh',
      'BPF_FUNC_ktime_get_coarse_ns',
      'BPF_FUNC_check_mtu',
    ]),
  );
  t.true(have.btf && have.redirect_neigh);
  t.false(have.tcx);
  const old: FeatureProbe = { kernel: '6.1.0-test', source: 'test', have };
  const s = scenario({ description: 'needs tcx', services: [], requires: ['tcx'], run: async () => {} });
  t.is(skipReason(s, 'sim', 'tc', old), undefined);
  t.is(skipReason(s, 'prog', 'tc', old), missingText(['tcx'], old));
  t.regex(skipReason(s, 'lab', 'xdp', old) ?? '', /^kernel 6\.1\.0-test lacks tcx \(BPF_TCX_INGRESS, Linux 6\.6/);
  const plain = scenario({ description: 'needs nothing more', services: [], run: async () => {} });
  t.is(skipReason(plain, 'prog', 'tc', old), undefined);
  const noNeigh: FeatureProbe = { ...old, have: { ...have, redirect_neigh: false } };
  t.regex(skipReason(plain, 'prog', 'tc', noNeigh) ?? '', /lacks redirect_neigh/, 'the datapath’s own needs apply to every scenario');
  t.throws(() => scenario({ description: 'typo', services: [], requires: ['tcxx' as 'tcx'], run: async () => {} }), {
    message: /requires tcxx: not a kernel feature/,
  });
});
