// Root tests: a run killed with SIGKILL in the middle leaves its lab behind; `xlb lab down
// --stale` (only labs whose owner died, so other engineers' running labs are safe) removes every
// namespace, link, process, pin and state file of it. SIGTERM is cleaned up by the owner itself.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { LAB_ENV, PIN_ROOT, newRunId } from '../src/topology/naming.ts';
import { isAlive } from './procs.ts';
import { readState, ownerIsDead } from './state.ts';
import { labNetnsNames, sweep } from './sweep.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

interface Started {
  child: ReturnType<typeof execa>;
  name: string;
  id: string;
  pids: number[];
}

async function startOwner(mode = 'wait'): Promise<Started> {
  const child = execa(process.execPath, ['--import', 'tsx', path.join(HERE, 'fixtures', 'lab-owner.ts'), mode], {
    cwd: ROOT,
    reject: false,
    buffer: false,
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
    });
    void child.then(() => reject(new Error(`fixture exited early: ${err}`)));
    setTimeout(() => reject(new Error(`fixture not ready after 30 s: ${err}`)), 30_000).unref();
  });
  const info = JSON.parse(line) as { name: string; id: string; pids: number[] };
  return { child, ...info };
}

function envPids(id: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (isAlive(Number(d)) && readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`${LAB_ENV}=${id}`)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

async function nothingLeft(t: ExecutionContext, s: Started): Promise<void> {
  t.deepEqual(
    labNetnsNames().filter((n) => n.includes(`-${s.id}-`)),
    [],
    'namespaces',
  );
  const hostLinks = (await execa('ip', ['-o', 'link', 'show'])).stdout;
  t.false(hostLinks.includes(`xlb${s.id}`), 'host links');
  // A killed orphan may linger a moment as a zombie until init reaps it: that is not running.
  for (const pid of s.pids) t.false(isAlive(pid), `server ${pid}`);
  t.deepEqual(envPids(s.id), [], 'processes with the lab id');
  t.false(existsSync(path.join(PIN_ROOT, s.id)), 'pins');
  t.is(readState(s.name), undefined, 'state file');
}

test('kill -9 of the owner mid-run, then `xlb lab down --stale`, leaves nothing behind', async (t) => {
  const s = await startOwner();
  t.true(existsSync(path.join(PIN_ROOT, s.id)));
  s.child.kill('SIGKILL');
  await s.child;
  // The lab outlived its owner: namespaces and servers are still there.
  const st = readState(s.name);
  t.truthy(st);
  if (st !== undefined) t.true(ownerIsDead(st));
  t.true(labNetnsNames().some((n) => n.includes(`-${s.id}-`)));
  for (const pid of s.pids) t.true(isAlive(pid), `server ${pid} survived its owner`);
  const ls = await execa(path.join(ROOT, 'xlb'), ['lab', 'ls']);
  t.regex(ls.stdout, new RegExp(`${s.name}.*dead`));
  const down = await execa(path.join(ROOT, 'xlb'), ['lab', 'down', '--stale'], { reject: false });
  t.is(down.exitCode, 0, down.stderr);
  t.regex(down.stdout, /removed \d+ lab\(s\)/);
  await nothingLeft(t, s);
});

test('SIGTERM to the owner: it removes its own lab before exiting', async (t) => {
  const s = await startOwner();
  s.child.kill('SIGTERM');
  const r = await s.child;
  t.is(r.exitCode, 143);
  await nothingLeft(t, s);
});

test('SIGINT (Ctrl-C) to the owner: the same', async (t) => {
  const s = await startOwner();
  s.child.kill('SIGINT');
  const r = await s.child;
  t.is(r.exitCode, 130);
  await nothingLeft(t, s);
});

test('an uncaught exception in the owner: the exit hook removes the lab', async (t) => {
  const s = await startOwner('throw');
  const r = await s.child;
  t.is(r.exitCode, 1);
  await nothingLeft(t, s);
});

test('a namespace without a state file (crash before the first write) and a process in it are swept by id', async (t) => {
  const id = newRunId();
  const ns = `xlb-${id}-zz`;
  await execa('ip', ['netns', 'add', ns]);
  // A process that carries no lab id in its environment: found by its network namespace alone.
  const sleeper = execa('nsenter', [`--net=/run/netns/${ns}`, '--', 'sleep', '600'], { reject: false, env: {}, extendEnv: false });
  await new Promise((r) => setTimeout(r, 100));
  t.true(sleeper.pid !== undefined && isAlive(sleeper.pid));
  const r = await sweep({ ids: [id] });
  t.deepEqual(r.namespaces, [ns]);
  t.deepEqual(r.processes, [sleeper.pid]);
  await sleeper;
  t.false(labNetnsNames().includes(ns));
});
