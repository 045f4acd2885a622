// The prog pool (prog-pool.ts) reuses one load across results: a result must not depend on the
// one before it. Proven two ways: (1) a sequence of stateful scenarios run one after the other
// on the pooled load (each scenario twice in a row: the second run meets exactly what the first
// left) gives, result for result, the same digest (every frame on every link, conntrack,
// counters, trace, traffic reports) and checks as each run alone on a fresh load; and the same
// sequence without the reset differs, so the comparison can fail. (2) After a result, every
// map of the parked load is byte for byte what a fresh load holds. Root needed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { Hook } from '../datapath/packet-datapath.ts';
import { loadProgDatapath } from '../datapath/prog-datapath.ts';
import { backendUnavailable } from './backends.ts';
import { closePooledProgLoads, parkedProgLoads, setResetBetweenResultsForTest } from './prog-pool.ts';
import { artifactsDirFor, runOne } from './run-one.ts';
import type { RunOneOutcome } from './run-one.ts';
import { loadScenarios } from './runner.ts';
import type { LoadedScenario } from './runner.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// Each leaves state a fresh load does not have: round-robin cursors, least-connection counts,
// persistence entries, policer buckets, flood-guard windows, fragment entries, statistics,
// conntrack entries of every kind.
const STATEFUL = [
  'lb/rr-tcp-dnat',
  'lb/lc-held-open',
  'lb/persistence-hold-expire',
  'lb/policer',
  'robustness/midstream-flood',
  'robustness/fragments',
  'stats/service-endpoint-counters',
];

const unavailable = backendUnavailable('prog');

async function loaded(): Promise<LoadedScenario[]> {
  return loadScenarios(
    STATEFUL.map((n) => path.join(ROOT, 'scenarios', `${n}.ts`)),
    path.join(ROOT, 'scenarios'),
  );
}

async function run(s: LoadedScenario, hook: Hook, dir: string, fresh: boolean): Promise<RunOneOutcome> {
  const before = process.env.XLB_PROG_REUSE;
  if (fresh) process.env.XLB_PROG_REUSE = '0';
  try {
    return await runOne({
      scenario: s.scenario,
      name: s.name,
      file: s.file,
      backend: 'prog',
      hook,
      seed: 7,
      artifactsDir: artifactsDirFor(dir, s.name, 'prog', hook),
      keepOnFail: false,
      reproduce: '',
    });
  } finally {
    if (before === undefined) delete process.env.XLB_PROG_REUSE;
    else process.env.XLB_PROG_REUSE = before;
  }
}

/** What a result is compared on: its status, every check, and the digest. */
function outcomeOf(o: RunOneOutcome): unknown {
  return { status: o.record.status, error: o.record.error, checks: o.record.checks, digest: o.digest };
}

for (const hook of ['tc', 'xdp'] as const) {
  test.serial(
    `${hook}: each result on the reused load equals the same scenario alone on a fresh load${hook === 'tc' ? '; without the reset it does not' : ''}`,
    async (t) => {
      if (unavailable !== undefined) {
        t.log(`skipped: ${unavailable}`);
        t.pass();
        return;
      }
      const dir = mkdtempSync(path.join(tmpdir(), 'xlb-progpool-'));
      try {
        const scenarios = await loaded();
        const fresh = new Map<string, unknown>();
        for (const s of scenarios) {
          const o = await run(s, hook, dir, true);
          t.is(o.record.status, 'passed', `${s.name} passes on a fresh load: ${o.record.error ?? ''}`);
          fresh.set(s.name, outcomeOf(o));
        }
        closePooledProgLoads();
        for (const s of scenarios) {
          for (const round of [1, 2]) {
            const o = await run(s, hook, dir, false);
            t.deepEqual(outcomeOf(o), fresh.get(s.name), `${s.name} (run ${round} in a row on the reused load) differs from a fresh load`);
          }
        }
        t.is(parkedProgLoads().length, 1, 'one load served the whole sequence');
        // The negative control once (at TC): the reset is the same code at both hooks.
        if (hook === 'xdp') return;
        // The same sequence without putting the maps back: some result must differ, or the
        // comparison above proves nothing.
        closePooledProgLoads();
        setResetBetweenResultsForTest(false);
        const differing: string[] = [];
        try {
          for (const s of scenarios)
            for (const round of [1, 2]) {
              const o = await run(s, hook, dir, false);
              if (JSON.stringify(outcomeOf(o)) !== JSON.stringify(fresh.get(s.name))) differing.push(`${s.name}#${round}`);
            }
        } finally {
          setResetBetweenResultsForTest(true);
          closePooledProgLoads();
        }
        t.log(`without the reset, ${differing.length} of ${scenarios.length * 2} results differ: ${differing.join(', ')}`);
        t.true(differing.length >= Math.ceil(scenarios.length / 2), 'without the reset results differ (the comparison can fail)');
      } finally {
        closePooledProgLoads();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

test.serial('after a result, every map of the parked load holds what a fresh load holds, byte for byte', async (t) => {
  if (unavailable !== undefined) {
    t.log(`skipped: ${unavailable}`);
    t.pass();
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-progpool-'));
  const fresh = loadProgDatapath({ hook: 'tc' });
  try {
    const scenarios = await loaded();
    for (const s of scenarios) t.is((await run(s, 'tc', dir, false)).record.status, 'passed', s.name);
    const [parked] = parkedProgLoads();
    if (parked === undefined) throw new Error('no parked load after a passed result');
    const freshMaps = new Map(fresh.loaded.obj.maps().map((m) => [m.name, m]));
    let compared = 0;
    for (const m of parked.loaded.obj.maps()) {
      if (m.type === 'prog_array' || m.type === 'ringbuf') continue;
      const f = freshMaps.get(m.name);
      if (f === undefined) throw new Error(`${m.name}: not in a fresh load`);
      const a = m.lookupBatchRaw();
      const b = f.lookupBatchRaw();
      t.is(a.count, b.count, `${m.name}: entries`);
      // Hash maps are empty on both; arrays compare in index order.
      t.true(a.keys.equals(b.keys) && a.values.equals(b.values), `${m.name}: contents differ from a fresh load's`);
      compared++;
    }
    t.true(compared >= 18, `every resettable map compared (${compared})`);
  } finally {
    fresh.close();
    closePooledProgLoads();
    rmSync(dir, { recursive: true, force: true });
  }
});
