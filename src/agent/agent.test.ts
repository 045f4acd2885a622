import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { MemoryDatapath } from '../controller/memory-datapath.ts';
import { isLoopback, parseListen, startAgent } from './agent.ts';
import { replayJournal } from './config-store.ts';
import type { DatapathHandle } from '../controller/datapath.ts';
import { createLogger } from './log.ts';

function double(): DatapathHandle & { attached: Set<string>; closed: boolean; dp: MemoryDatapath } {
  const dp = new MemoryDatapath();
  const h = {
    dp,
    datapath: dp,
    describe: 'test double',
    attached: new Set<string>(),
    closed: false,
    attach(i: string) {
      h.attached.add(i);
    },
    detach(i: string) {
      h.attached.delete(i);
    },
    close() {
      h.closed = true;
    },
  };
  return h;
}

const svc = (vip: string) => ({ vip, port: 80, endpoints: [{ ip: '198.18.2.1', port: 8080 }] });

test('config: loaded at start, written atomically on change, SIGHUP-style reload, bad reload keeps state', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-agent-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'agent.yaml');
  writeFileSync(
    file,
    'agent:\n  hook: tc\nservices:\n  - name: a\n    vip: 198.18.100.1\n    port: 80\n    endpoints: [{ ip: 198.18.2.1, port: 8080 }]\n',
  );
  const lines: string[] = [];
  const h = double();
  const agent = await startAgent(h, {
    configFile: file,
    ifaces: ['veth0'],
    api: { host: '127.0.0.1', port: 0 },
    detachOnExit: false,
    log: createLogger({ write: (l) => lines.push(l) }),
  });
  t.deepEqual([...h.attached], ['veth0']);
  t.is(h.dp.services.size, 1);
  const put = await fetch(`http://127.0.0.1:${agent.address.port}/v1/services/b`, {
    method: 'PUT',
    body: JSON.stringify(svc('198.18.100.2')),
    headers: { 'content-type': 'application/json' },
  });
  t.is(put.status, 201);
  // Durable when the PUT answered: the file as it was plus the journal line of b (config-store.ts).
  const saved = parse(readFileSync(file, 'utf8')) as { agent: unknown; services: { name: string }[] };
  t.deepEqual(saved.agent, { hook: 'tc' });
  t.deepEqual(
    saved.services.map((s) => s.name),
    ['a'],
  );
  t.deepEqual(
    (replayJournal(file, saved.services).services as { name: string }[]).map((s) => s.name),
    ['a', 'b'],
  );
  // Edit the file by hand and reload: b goes, c comes.
  writeFileSync(
    file,
    'services:\n  - name: a\n    vip: 198.18.100.1\n    port: 80\n    endpoints: [{ ip: 198.18.2.1, port: 8080 }]\n  - name: c\n    vip: 198.18.100.3\n    port: 80\n    endpoints: []\n',
  );
  const r = agent.reload();
  t.like(r, { ok: true, created: 1, deleted: 1, unchanged: 1 });
  t.deepEqual(
    agent.controller.services().map((s) => s.name),
    ['a', 'c'],
  );
  // A broken edit is rejected whole.
  writeFileSync(file, 'services:\n  - name: a\n    vip: 198.18.100.1\n    port: 80\n    endpoints: [{ ip: 198.18.2.999, port: 8080 }]\n');
  const writes = h.dp.writes;
  const bad = agent.reload();
  t.false(bad.ok);
  if (!bad.ok) t.regex(bad.error, /services\[a\]\.endpoints\[0\]\.ip: '198\.18\.2\.999' is not an IPv4 or IPv6 address/);
  t.is(h.dp.writes, writes);
  t.deepEqual(
    agent.controller.services().map((s) => s.name),
    ['a', 'c'],
  );
  await agent.stop();
  t.true(h.closed);
  t.deepEqual([...h.attached], ['veth0'], 'programs stay attached by default');
  const logs = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
  t.true(logs.some((l) => l.msg === 'config reload rejected; the running state is unchanged' && l.level === 50));
  t.true(logs.every((l) => typeof l.msg === 'string'));
});

test('an invalid config file at start changes nothing in the datapath', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-agent-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'agent.yaml');
  writeFileSync(file, 'services:\n  - name: a\n    vip: 198.18.100.1\n    port: 80\n    algorithm: best\n    endpoints: []\n');
  const h = double();
  await t.throwsAsync(
    startAgent(h, {
      configFile: file,
      ifaces: ['veth0'],
      api: { host: '127.0.0.1', port: 0 },
      detachOnExit: true,
      log: createLogger({ write: () => {} }),
    }),
    {
      message: /services\[a\]\.algorithm: 'best' is not one of/,
    },
  );
  t.is(h.dp.writes, 0);
  t.is(h.attached.size, 0);
});

test('--detach-on-exit detaches; a non-loopback API needs a token', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-agent-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const h = double();
  const agent = await startAgent(h, {
    configFile: path.join(dir, 'x.yaml'),
    ifaces: ['veth0'],
    api: { host: '127.0.0.1', port: 0 },
    detachOnExit: true,
    log: createLogger({ write: () => {} }),
  });
  await agent.stop();
  t.is(h.attached.size, 0);
  await t.throwsAsync(
    startAgent(double(), {
      configFile: path.join(dir, 'y.yaml'),
      ifaces: [],
      api: { host: '0.0.0.0', port: 0 },
      detachOnExit: false,
      log: createLogger({ write: () => {} }),
    }),
    {
      message: /not loopback, without a token/,
    },
  );
  t.deepEqual(parseListen('[::1]:9400'), { host: '::1', port: 9400 });
  t.deepEqual(parseListen('127.0.0.1:9400'), { host: '127.0.0.1', port: 9400 });
  t.throws(() => parseListen('9400'), { message: /is not HOST:PORT/ });
  t.true(isLoopback('127.0.0.2'));
  t.false(isLoopback('198.18.0.1'));
});

test('a restarted agent starts endpoints in the health it persisted', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-agent-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'agent.yaml');
  const up = createServer((s) => s.end());
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  t.teardown(() => up.close());
  // A port nothing listens on (yet): its probes are refused.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const downPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const config = (hc: string) =>
    `services:\n  - name: h\n    vip: 198.18.100.1\n    port: 80\n    healthCheck: ${hc}\n    endpoints: [{ ip: 127.0.0.1, port: ${(up.address() as AddressInfo).port} }, { ip: 127.0.0.1, port: ${downPort} }]\n`;
  writeFileSync(file, config('{ type: tcp, intervalMs: 100, timeoutMs: 50, rise: 1, fall: 1 }'));
  const opts = {
    configFile: file,
    ifaces: [],
    api: { host: '127.0.0.1', port: 0 },
    detachOnExit: false,
    log: createLogger({ write: () => {} }),
  };
  const key = { vip: '198.18.100.1', port: 80, protocol: 'tcp' as const };
  const first = double();
  const a = await startAgent(first, opts);
  const healthFile = path.join(dir, 'agent.health.json');
  const t0 = Date.now();
  while (!(existsSync(healthFile) && readFileSync(healthFile, 'utf8').includes(String(downPort))) && Date.now() - t0 < 5000)
    await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(
    first.dp.activeEndpoints(key)?.map((e) => e.active),
    [true, false],
  );
  await a.stop();
  t.deepEqual((JSON.parse(readFileSync(healthFile, 'utf8')) as { down: unknown }).down, [
    { service: 'h', ip: '127.0.0.1', port: downPort },
  ]);
  // Now the endpoint answers, but needs 100 successes a minute apart to count as up: what the
  // restarted agent shows is the persisted state, not a probe's.
  const back = createServer((s) => s.end());
  await new Promise<void>((r) => back.listen(downPort, '127.0.0.1', r));
  t.teardown(() => back.close());
  writeFileSync(file, config('{ type: tcp, intervalMs: 60000, timeoutMs: 50, rise: 100, fall: 1 }'));
  const lines: string[] = [];
  const second = double();
  const b = await startAgent(second, { ...opts, log: createLogger({ write: (l) => lines.push(l) }) });
  t.teardown(() => b.stop());
  t.deepEqual(
    second.dp.activeEndpoints(key)?.map((e) => e.active),
    [true, false],
    'the endpoint that was down starts down',
  );
  t.deepEqual(b.controller.downEndpoints(), [{ service: 'h', ip: '127.0.0.1', port: downPort }]);
  t.true(lines.some((l) => l.includes('endpoints start down, as persisted')));
  // Without the file every endpoint starts up (the old behaviour, and a first start).
  await b.stop();
  rmSync(healthFile);
  const third = double();
  const c = await startAgent(third, opts);
  t.teardown(() => c.stop());
  t.deepEqual(
    third.dp.activeEndpoints(key)?.map((e) => e.active),
    [true, true],
  );
});
