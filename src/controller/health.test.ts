import test from 'ava';
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Controller } from './controller.ts';
import { DatapathTestDouble } from './datapath-test-double.ts';
import { HealthMonitor, probe } from './health.ts';
import type { HealthCheck } from './types.ts';

// Generous timeouts: the probes must not fail because a loaded CI machine is slow.
const hc = (extra: Partial<HealthCheck>): HealthCheck => ({ type: 'tcp', intervalMs: 2000, timeoutMs: 1500, rise: 2, fall: 2, ...extra });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('tcp probe: connected, then refused', async (t) => {
  const srv = createServer((s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  t.like(await probe(hc({}), { ip: '127.0.0.1', port }), { ok: true, detail: 'connected' });
  await new Promise((r) => srv.close(r));
  t.like(await probe(hc({}), { ip: '127.0.0.1', port }), { ok: false, detail: 'ECONNREFUSED' });
});

test('http probe checks the status', async (t) => {
  let status = 200;
  const srv = createHttpServer((req, res) => {
    res.statusCode = req.url === '/health' ? status : 404;
    res.end('x');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const port = (srv.address() as AddressInfo).port;
  t.like(await probe(hc({ type: 'http', path: '/health' }), { ip: '127.0.0.1', port }), { ok: true, detail: 'status 200' });
  status = 503;
  t.like(await probe(hc({ type: 'http', path: '/health' }), { ip: '127.0.0.1', port }), { ok: false, detail: 'status 503, expected 200' });
  t.like(await probe(hc({ type: 'http', path: '/nope', expectStatus: 404 }), { ip: '127.0.0.1', port }), { ok: true });
});

test('udp probe: reply, wrong reply, no listener, silent listener times out', async (t) => {
  const srv = createSocket('udp4');
  srv.on('message', (m, r) => {
    if (m.toString() !== 'quiet') srv.send(`pong ${m.toString()}`, r.port, r.address);
  });
  await new Promise<void>((r) => srv.bind(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const port = srv.address().port;
  t.like(await probe(hc({ type: 'udp', send: 'ping', expect: 'pong' }), { ip: '127.0.0.1', port }), { ok: true });
  t.like(await probe(hc({ type: 'udp', send: 'ping', expect: 'hello' }), { ip: '127.0.0.1', port }), { ok: false, detail: "reply without 'hello'" });
  t.like(await probe(hc({ type: 'udp', send: 'quiet', timeoutMs: 300 }), { ip: '127.0.0.1', port }), { ok: false, detail: 'timeout after 300 ms' });
  const closed = createSocket('udp4');
  await new Promise<void>((r) => closed.bind(0, '127.0.0.1', r));
  const deadPort = closed.address().port;
  closed.close();
  t.like(await probe(hc({ type: 'udp' }), { ip: '127.0.0.1', port: deadPort }), { ok: false, detail: 'ECONNREFUSED' });
});

test('monitor: fall/rise thresholds reach the datapath within one interval', async (t) => {
  const srv = createServer((s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const dp = new DatapathTestDouble();
  const c = new Controller(dp);
  c.load({
    services: [
      {
        name: 'h',
        vip: '198.18.100.1',
        port: 80,
        healthCheck: { type: 'tcp', intervalMs: 200, timeoutMs: 150, rise: 2, fall: 2 },
        endpoints: [{ ip: '127.0.0.1', port }, { ip: '127.0.0.2', port: 1 }],
      },
    ],
  });
  const changes: string[] = [];
  const m = new HealthMonitor(c, { onChange: (h) => changes.push(`${h.ip}:${h.up ? 'up' : 'down'}@${Date.now()}`) });
  t.teardown(() => m.stop());
  m.sync();
  const key = { vip: '198.18.100.1', port: 80, protocol: 'tcp' as const };
  const active = () => dp.activeEndpoints(key)?.map((e) => e.active);
  // 127.0.0.2:1 refuses: down after 2 probes (t=0, t=200ms).
  const t0 = Date.now();
  while (active()?.[1] !== false && Date.now() - t0 < 2000) await sleep(5);
  t.deepEqual(active(), [true, false]);
  // Take the live one down: after it stops, two failing probes, then the datapath flips.
  await new Promise((r) => srv.close(r));
  const stoppedAt = Date.now();
  let flippedAt = 0;
  while (Date.now() - stoppedAt < 3000) {
    if (active()?.[0] === false) {
      flippedAt = Date.now();
      break;
    }
    await sleep(5);
  }
  t.true(flippedAt > 0, 'the endpoint never went down');
  // The deciding (2nd) failing probe starts within 2 intervals of the stop and is applied within
  // the interval it runs in (+ scheduling slack on a loaded machine).
  t.true(flippedAt - stoppedAt <= 3 * 200 + 200, `took ${flippedAt - stoppedAt} ms`);
  t.deepEqual(m.status().map((s) => s.up).sort(), [false, false]);
  // Bring it back on the same port: up again after `rise` successes.
  const srv2 = createServer((s) => s.end());
  await new Promise<void>((r) => srv2.listen(port, '127.0.0.1', r));
  t.teardown(() => srv2.close());
  const t1 = Date.now();
  while (active()?.[0] !== true && Date.now() - t1 < 3000) await sleep(5);
  t.true(Date.now() - t1 <= 3 * 200 + 200, `came back after ${Date.now() - t1} ms`);
  t.deepEqual(active(), [true, false]);
  t.true(changes.length >= 3);
});
