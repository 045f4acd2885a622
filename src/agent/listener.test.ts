// The agent's early API socket (listener.ts): /healthz is a truthful 503 "starting" until the
// agent serves; other requests are held, then answered by the API in order; a failed start
// answers them 503; and startAgent serves on it (the test double as datapath).
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemoryDatapath } from '../controller/memory-datapath.ts';
import { startAgent } from './agent.ts';
import { listenApi } from './listener.ts';
import { createLogger } from './log.ts';

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));

test('before the API serves: /healthz is 503 starting, other requests wait and are answered by the API in order', async (t) => {
  const l = await listenApi({ host: '127.0.0.1', port: 0 });
  t.teardown(() => l.close());
  const base = `http://127.0.0.1:${l.address.port}`;
  t.not(l.address.port, 0);
  const h = await fetch(`${base}/healthz`);
  t.is(h.status, 503);
  t.is(h.headers.get('retry-after'), '1');
  t.like(await h.json(), { status: 'starting' });

  let answered = 0;
  const first = fetch(`${base}/v1/services`).then(async (r) => ((answered += 1), [r.status, await r.text()] as const));
  const second = fetch(`${base}/v1/stats`).then(async (r) => ((answered += 1), [r.status, await r.text()] as const));
  await settle();
  t.is(answered, 0, 'held while the agent starts');
  const seen: string[] = [];
  l.serve((req, res) => {
    seen.push(req.url ?? '');
    res.end(`served ${req.url ?? ''}`);
  });
  t.deepEqual(await first, [200, 'served /v1/services']);
  t.deepEqual(await second, [200, 'served /v1/stats']);
  t.deepEqual(seen, ['/v1/services', '/v1/stats'], 'in the order they came');
  t.is(await (await fetch(`${base}/healthz`)).text(), 'served /healthz', 'then the API answers /healthz itself');
});

test('a failed start answers the held requests, and later ones, 503 with the reason', async (t) => {
  const l = await listenApi({ host: '127.0.0.1', port: 0 });
  t.teardown(() => l.close());
  const base = `http://127.0.0.1:${l.address.port}`;
  const held = fetch(`${base}/v1/services`);
  await settle();
  l.fail('the agent failed to start (see its log)');
  const r = await held;
  t.is(r.status, 503);
  t.deepEqual(await r.json(), { error: 'unavailable', message: 'the agent failed to start (see its log)' });
  t.is((await fetch(`${base}/healthz`)).status, 503);
});

test('a port in use is refused before anything else starts', async (t) => {
  const l = await listenApi({ host: '127.0.0.1', port: 0 });
  t.teardown(() => l.close());
  await t.throwsAsync(listenApi({ host: '127.0.0.1', port: l.address.port }), { code: 'EADDRINUSE' });
});

test('startAgent serves its API on the early socket: a request held during the start gets the real answer', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-listener-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const l = await listenApi({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${l.address.port}`;
  const held = fetch(`${base}/v1/services`);
  await settle();
  const dp = new MemoryDatapath();
  const agent = await startAgent(
    { datapath: dp, describe: 'test double', attach() {}, detach() {}, close() {} },
    {
      configFile: path.join(dir, 'agent.yaml'),
      ifaces: [],
      api: { host: '127.0.0.1', port: 0 },
      listener: l,
      detachOnExit: false,
      log: createLogger({ write: () => {} }),
    },
  );
  t.deepEqual(agent.address, l.address, 'the address is the early socket');
  const r = await held;
  t.is(r.status, 200);
  t.deepEqual(await r.json(), { services: [] });
  const ok = (await (await fetch(`${base}/healthz`)).json()) as { status: string };
  t.is(ok.status, 'ok');
  await agent.stop();
  await t.throwsAsync(fetch(`${base}/healthz`), undefined, 'stop closes the early socket');
});
