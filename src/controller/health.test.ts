import test from 'ava';
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Controller } from './controller.ts';
import { MemoryDatapath } from './memory-datapath.ts';
import { HealthMonitor, probe } from './health.ts';
import type { HealthClock } from './health.ts';
import type { HealthCheck } from './types.ts';

// Generous timeouts: the probes must not fail because a loaded CI machine is slow.
const hc = (extra: Partial<HealthCheck>): HealthCheck => ({ type: 'tcp', intervalMs: 2000, timeoutMs: 1500, rise: 2, fall: 2, ...extra });

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
  t.like(await probe(hc({ type: 'udp', send: 'ping', expect: 'hello' }), { ip: '127.0.0.1', port }), {
    ok: false,
    detail: "reply without 'hello'",
  });
  t.like(await probe(hc({ type: 'udp', send: 'quiet', timeoutMs: 300 }), { ip: '127.0.0.1', port }), {
    ok: false,
    detail: 'timeout after 300 ms',
  });
  const closed = createSocket('udp4');
  await new Promise<void>((r) => closed.bind(0, '127.0.0.1', r));
  const deadPort = closed.address().port;
  closed.close();
  t.like(await probe(hc({ type: 'udp' }), { ip: '127.0.0.1', port: deadPort }), { ok: false, detail: 'ECONNREFUSED' });
});

/** A virtual clock: intervals fire only when the test advances time. */
function virtualClock(): HealthClock & { advance(ms: number): Promise<void> } {
  let now = 0;
  const timers = new Map<number, { fn: () => void; ms: number; next: number }>();
  let id = 0;
  return {
    now: () => now,
    setInterval(fn, ms) {
      timers.set(++id, { fn, ms, next: now + ms });
      return id;
    },
    clearInterval(h) {
      timers.delete(h as number);
    },
    async advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.values()].filter((x) => x.next <= end).sort((a, b) => a.next - b.next)[0];
        if (due === undefined) break;
        now = due.next;
        due.next += due.ms;
        due.fn();
        // Let the probe's promise and the monitor's continuation run.
        await new Promise((r) => setImmediate(r));
      }
      now = end;
    },
  };
}

test('monitor: fall/rise thresholds flip the datapath at the deciding probe (virtual clock, scripted probes)', async (t) => {
  const dp = new MemoryDatapath();
  const c = new Controller(dp);
  c.load({
    services: [
      {
        name: 'h',
        vip: '198.18.100.1',
        port: 80,
        healthCheck: { type: 'tcp', intervalMs: 200, timeoutMs: 150, rise: 2, fall: 2 },
        endpoints: [
          { ip: '198.18.2.1', port: 80 },
          { ip: '198.18.2.2', port: 80 },
        ],
      },
    ],
  });
  const alive = new Map([
    ['198.18.2.1', true],
    ['198.18.2.2', false],
  ]);
  const probes: string[] = [];
  const clock = virtualClock();
  const changes: string[] = [];
  const m = new HealthMonitor(
    c,
    { onChange: (h) => changes.push(`${h.ip} ${h.up ? 'up' : 'down'} at ${h.changedAt}`) },
    {
      clock,
      probe: async (_hc, ep) => {
        probes.push(`${ep.ip}@${clock.now()}`);
        const ok = alive.get(ep.ip) === true;
        return { ok, detail: ok ? 'connected' : 'ECONNREFUSED', ms: 1 };
      },
    },
  );
  t.teardown(() => m.stop());
  const key = { vip: '198.18.100.1', port: 80, protocol: 'tcp' as const };
  const active = () => dp.activeEndpoints(key)?.map((e) => e.active);
  m.sync();
  await clock.advance(0);
  // The first probe runs at once (t=0): one failure is not yet `fall`.
  t.deepEqual(active(), [true, true]);
  await clock.advance(199);
  t.deepEqual(active(), [true, true]);
  await clock.advance(1);
  // The second failing probe (t=200) decides, and the datapath has it at once.
  t.deepEqual(active(), [true, false]);
  t.deepEqual(changes, ['198.18.2.2 down at 200']);
  // The live one stops answering at t=250: failures at 400 and 600; down at 600, not before.
  await clock.advance(50);
  alive.set('198.18.2.1', false);
  await clock.advance(349);
  t.deepEqual(active(), [true, false]);
  await clock.advance(1);
  t.deepEqual(active(), [false, false]);
  t.deepEqual(
    m.status().map((s) => s.up),
    [false, false],
  );
  // Back at t=650: `rise` successes (800, 1000) bring it up at 1000.
  await clock.advance(50);
  alive.set('198.18.2.1', true);
  await clock.advance(349);
  t.deepEqual(active(), [false, false]);
  await clock.advance(1);
  t.deepEqual(active(), [true, false]);
  t.deepEqual(changes, ['198.18.2.2 down at 200', '198.18.2.1 down at 600', '198.18.2.1 up at 1000']);
  t.is(probes.filter((p) => p.startsWith('198.18.2.1@')).length, 6, probes.join(' '));
  // Stopping clears every timer: no probe after it.
  m.stop();
  const n = probes.length;
  await clock.advance(1000);
  t.is(probes.length, n);
});
