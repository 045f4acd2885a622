import test from 'ava';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import type { Service } from '../controller/types.ts';
import { validateService } from '../controller/validate.ts';
import { ConfigStore, journalPath, replayJournal } from './config-store.ts';

const svc = (name: string, n = 1): Service => {
  const r = validateService({ name, vip: `198.18.100.${n}`, port: 80, endpoints: [{ ip: '198.18.2.1', port: 8080 }] });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
};

function tmp(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-store-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'agent.yaml');
}

const names = (services: unknown): string[] => (services as { name: string }[]).map((s) => s.name);
const fileNames = (file: string): string[] => names((parse(readFileSync(file, 'utf8')) as { services: unknown }).services);

test('one journal line per change, group-committed; file + journal is the state; compaction empties the journal', async (t) => {
  const file = tmp(t);
  writeFileSync(file, 'services: []\n');
  const state = new Map<string, Service>();
  const store = new ConfigStore({ file, agent: {}, state: () => [...state.values()], idleMs: 60_000 });
  // 50 concurrent changes: far fewer syncs than changes, each promise resolved after its line is on disk.
  const done: Promise<void>[] = [];
  for (let i = 1; i <= 50; i++) {
    const s = svc(`s${i}`, i);
    state.set(s.name, s);
    done.push(store.put(s));
  }
  state.delete('s7');
  done.push(store.delete('s7'));
  await Promise.all(done);
  t.is(store.stats.appends, 51);
  t.true(store.stats.syncs < 10, `${store.stats.syncs} syncs for 51 changes`);
  t.deepEqual(fileNames(file), [], 'the file is not rewritten per change');
  const lines = readFileSync(journalPath(file), 'utf8').trim().split('\n');
  t.is(lines.length, 51);
  const replayed = replayJournal(file, []);
  t.deepEqual(names(replayed.services), [...state.keys()]);
  t.is(replayed.applied, 51);
  await store.compact();
  t.deepEqual(fileNames(file), [...state.keys()]);
  t.is(readFileSync(journalPath(file), 'utf8'), '');
  t.is(store.stats.compactions, 1);
  await store.close();
});

test('the journal is compacted once it outgrows the file, and after idleMs without changes', async (t) => {
  const file = tmp(t);
  const state = new Map<string, Service>();
  const store = new ConfigStore({ file, agent: {}, state: () => [...state.values()], idleMs: 150, minCompactBytes: 2000 });
  const s1 = svc('one');
  state.set('one', s1);
  await store.put(s1);
  t.true(existsSync(file), 'the first change creates the file');
  t.is(store.stats.compactions, 1);
  // Rewriting one service over and over: the journal passes max(file size, 2000 bytes) and compacts.
  for (let i = 0; i < 40; i++) {
    const s = { ...svc('one'), port: 1000 + i };
    state.set('one', s);
    await store.put(s);
  }
  t.true(store.stats.compactions >= 2, `${store.stats.compactions} compactions`);
  const before = store.stats.compactions;
  const s2 = svc('two', 2);
  state.set('two', s2);
  await store.put(s2);
  t.is(store.stats.compactions, before);
  await new Promise((r) => setTimeout(r, 400));
  t.is(store.stats.compactions, before + 1, 'idle compaction');
  t.deepEqual(fileNames(file), ['one', 'two']);
  t.is((parse(readFileSync(file, 'utf8')) as { services: { port: number }[] }).services[0]?.port, 1039);
  await store.close();
});

test('replay: a torn last line is ignored, a put replaces by name, a delete removes; a reload mark supersedes earlier lines', async (t) => {
  const file = tmp(t);
  writeFileSync(file, 'services:\n  - {"name":"a","vip":"198.18.100.1","port":80,"endpoints":[]}\n');
  const jp = journalPath(file);
  appendFileSync(jp, `${JSON.stringify({ op: 'put', service: { name: 'b', vip: '198.18.100.2', port: 80, endpoints: [] } })}\n`);
  appendFileSync(jp, `${JSON.stringify({ op: 'put', service: { name: 'a', vip: '198.18.100.1', port: 81, endpoints: [] } })}\n`);
  appendFileSync(jp, `${JSON.stringify({ op: 'delete', name: 'b' })}\n`);
  appendFileSync(jp, '{"op":"put","service":{"name":"c"');
  const r = replayJournal(file, (parse(readFileSync(file, 'utf8')) as { services: unknown }).services);
  t.deepEqual(r.services, [{ name: 'a', vip: '198.18.100.1', port: 81, endpoints: [] }]);
  t.is(r.applied, 3);
  t.is(r.warnings.length, 1);
  t.regex(r.warnings[0] ?? '', /unfinished last line/);

  // A reload mark: what was journaled before it goes; what comes after stays.
  const state = new Map<string, Service>();
  const store = new ConfigStore({ file, agent: {}, state: () => [...state.values()], idleMs: 60_000 });
  writeFileSync(jp, '');
  const x = svc('x', 9);
  const p1 = store.put(x);
  store.resetAfterReload();
  const y = svc('y', 10);
  const p2 = store.put(y);
  await Promise.all([p1, p2]);
  t.deepEqual(
    readFileSync(jp, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { service: { name: string } }).service.name),
    ['y'],
  );
  await store.close();
});

test('a change that cannot reach the disk is rejected (the API answers 500 for it)', async (t) => {
  // The directory cannot be made: a path component is a file (ENOTDIR).
  const blocker = tmp(t);
  writeFileSync(blocker, 'not a directory\n');
  const file = path.join(blocker, 'sub', 'agent.yaml');
  const store = new ConfigStore({ file, agent: {}, state: () => [], idleMs: 60_000 });
  await t.throwsAsync(store.put(svc('a')));
  await t.throwsAsync(store.delete('a'));
});
