import test from 'ava';
import { Controller } from './controller.ts';
import { MemoryDatapath } from './memory-datapath.ts';
import { Reconciler, assignSlots } from './reconcile.ts';
import { DatapathRefusal, EMPTY_SLOT } from './datapath.ts';
import { ValidationError } from './validate.ts';

const ep = (n: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ ip: `198.18.2.${n}`, port: 8080, ...extra });
const svc = (
  name: string,
  vipLast: number,
  eps: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  name,
  vip: `198.18.100.${vipLast}`,
  port: 80,
  algorithm: 'maglev',
  endpoints: eps,
  ...extra,
});

test('a second reconcile of the same state writes nothing', (t) => {
  const dp = new MemoryDatapath();
  const c = new Controller(dp);
  const r1 = c.load({ services: [svc('a', 1, [ep(1), ep(2)]), svc('b', 2, [ep(3)])] });
  t.deepEqual(r1.created.sort(), ['a', 'b']);
  const writes = dp.writes;
  t.is(writes, 4); // one generation + one service entry each
  const r2 = c.reconcileAll();
  t.is(dp.writes, writes);
  t.is(r2.unchanged, 2);
  t.deepEqual(c.put('a', svc('a', 1, [ep(1), ep(2)])).action, 'unchanged');
  t.is(dp.writes, writes);
});

test('a change writes the inactive generation, then flips the service entry', (t) => {
  const dp = new MemoryDatapath();
  const c = new Controller(dp);
  c.load({ services: [svc('a', 1, [ep(1), ep(2)])] });
  const key = { vip: '198.18.100.1', port: 80, protocol: 'tcp' as const };
  t.is(dp.getService(key)?.generation, 0);
  dp.log.length = 0;
  t.is(c.put('a', svc('a', 1, [ep(1), ep(2), ep(3)])).action, 'updated');
  t.deepEqual(dp.log, [
    { op: 'writeGeneration', id: 1, generation: 1, count: 3 },
    { op: 'putService', id: 1, generation: 1, key: 'tcp:198.18.100.1:80' },
  ]);
  t.deepEqual(
    dp.activeEndpoints(key)?.map((e) => e.ip),
    ['198.18.2.1', '198.18.2.2', '198.18.2.3'],
  );
  c.put('a', svc('a', 1, [ep(3)]));
  t.is(dp.getService(key)?.generation, 0);
});

test('endpoint slots are stable; holes are reused and trailing holes trimmed', (t) => {
  const e = (n: number) => ({ ip: `198.18.2.${n}`, port: 80, weight: 1, active: true });
  t.deepEqual(assignSlots([e(1), e(2), e(3)], [e(3), e(1)]), [e(1), EMPTY_SLOT, e(3)]);
  t.deepEqual(assignSlots([e(1), EMPTY_SLOT, e(3)], [e(3), e(1), e(4), e(5)]), [e(1), e(4), e(3), e(5)]);
  t.deepEqual(assignSlots([e(1), e(2), e(3)], [e(1)]), [e(1)]);
});

test('service ids are stable across a controller restart and no write happens', (t) => {
  const dp = new MemoryDatapath();
  const state = { services: [svc('a', 1, [ep(1)]), svc('b', 2, [ep(2)]), svc('c', 3, [ep(3)])] };
  const c1 = new Controller(dp);
  c1.load(state);
  c1.remove('b');
  c1.put('d', svc('d', 4, [ep(4)]));
  const ids = Object.fromEntries(['a', 'c', 'd'].map((n) => [n, c1.serviceId(n)]));
  t.deepEqual(ids, { a: 1, c: 3, d: 2 });
  const writes = dp.writes;
  // A new controller (restarted agent) over the same datapath, the same desired state.
  const c2 = new Controller(dp);
  const r = c2.load({ services: [svc('d', 4, [ep(4)]), svc('c', 3, [ep(3)]), svc('a', 1, [ep(1)])] });
  t.is(r.unchanged, 3);
  t.is(dp.writes, writes);
  t.deepEqual(Object.fromEntries(['a', 'c', 'd'].map((n) => [n, c2.serviceId(n)])), ids);
});

test('full reconcile deletes services nobody wants and repairs drift', (t) => {
  const dp = new MemoryDatapath();
  const c = new Controller(dp);
  c.load({ services: [svc('a', 1, [ep(1), ep(2)]), svc('b', 2, [ep(3)])] });
  // Drift: someone wrote the map behind the controller's back.
  const a = dp.getService({ vip: '198.18.100.1', port: 80, protocol: 'tcp' });
  if (a === undefined) return t.fail();
  dp.services.set('tcp:198.18.100.1:80', { ...a, mode: 'dsr' });
  const r = c.load({ services: [svc('a', 1, [ep(1), ep(2)])] });
  t.deepEqual(r.updated, ['a']);
  t.deepEqual(r.deleted, [{ vip: '198.18.100.2', port: 80, protocol: 'tcp' }]);
  t.is(dp.getService({ vip: '198.18.100.1', port: 80, protocol: 'tcp' })?.mode, 'dnat');
});

test('an invalid config changes nothing, a conflicting PUT changes nothing', (t) => {
  const dp = new MemoryDatapath();
  const c = new Controller(dp);
  c.load({ services: [svc('a', 1, [ep(1)])] });
  const writes = dp.writes;
  const err = t.throws(() => c.load({ services: [svc('a', 1, [ep(1)]), svc('b', 2, [ep(1, { ip: 'x' })])] }), {
    instanceOf: ValidationError,
  });
  t.regex(err?.message ?? '', /services\[b\]\.endpoints\[0\]\.ip/);
  t.throws(() => c.put('z', svc('z', 1, [ep(5)])), { message: /port: tcp:198\.18\.100\.1:80 overlaps service 'a'/ });
  t.is(dp.writes, writes);
  t.deepEqual(
    c.services().map((s) => s.name),
    ['a'],
  );
});

test('moving a service to another VIP creates the new key before deleting the old', (t) => {
  const dp = new MemoryDatapath();
  const c = new Controller(dp);
  c.load({ services: [svc('a', 1, [ep(1)])] });
  dp.log.length = 0;
  c.put('a', svc('a', 9, [ep(1)]));
  t.deepEqual(
    dp.log.map((l) => l.op),
    ['writeGeneration', 'putService', 'deleteService'],
  );
  t.deepEqual(
    dp.listServices().map((s) => s.key.vip),
    ['198.18.100.9'],
  );
});

test('health: a down endpoint becomes an inactive slot; purge policy deletes its flows', (t) => {
  const dp = new MemoryDatapath();
  const c = new Controller(dp);
  c.load({ services: [svc('a', 1, [ep(1), ep(2)], { deadFlowPolicy: 'purge' }), svc('k', 2, [ep(1), ep(2)])] });
  const flow = (serviceId: number, n: number) => ({
    serviceId,
    protocol: 'tcp' as const,
    client: { ip: '198.18.0.10', port: 40000 + n },
    vip: { ip: '198.18.100.1', port: 80 },
    endpoint: { ip: `198.18.2.${n}`, port: 8080 },
    endpointSlot: n - 1,
    state: 'ESTABLISHED',
    packets: 1,
    bytes: 60,
    ageMs: 0,
    idleMs: 0,
  });
  dp.flows = [flow(1, 1), flow(1, 2), flow(2, 1)];
  t.is(c.setHealth('a', { ip: '198.18.2.1', port: 8080 }, false), 'updated');
  t.deepEqual(
    dp.activeEndpoints({ vip: '198.18.100.1', port: 80, protocol: 'tcp' })?.map((e) => e.active),
    [false, true],
  );
  t.deepEqual(
    dp.flows.map((f) => `${f.serviceId}/${f.endpoint.ip}`),
    ['1/198.18.2.2', '2/198.18.2.1'],
  );
  t.is(c.setHealth('a', { ip: '198.18.2.1', port: 8080 }, false), 'unchanged');
  t.is(c.setHealth('k', { ip: '198.18.2.1', port: 8080 }, false), 'updated');
  t.is(dp.flows.length, 2); // keep policy
  t.is(c.setHealth('a', { ip: '198.18.2.1', port: 8080 }, true), 'updated');
  t.deepEqual(
    dp.activeEndpoints({ vip: '198.18.100.1', port: 80, protocol: 'tcp' })?.map((e) => e.active),
    [true, true],
  );
});

test('running out of service ids is a clear error and leaves the desired state as it was', (t) => {
  const dp = new MemoryDatapath({ maxServices: 3 });
  const c = new Controller(dp);
  c.put('a', svc('a', 1, []));
  c.put('b', svc('b', 2, []));
  t.throws(() => c.put('c', svc('c', 3, [])), { message: /maximum of 2 services/ });
  t.deepEqual(
    c.services().map((s) => s.name),
    ['a', 'b'],
  );
  t.true(new Reconciler(dp).reconcileAll([]).deleted.length === 2);
});

test('a datapath refusal of one service refuses the whole change before any write', (t) => {
  const dp = new MemoryDatapath();
  dp.refuse = (s) => (s.mode === 'fullnat' ? 'mode fullnat needs a source address for IPv4' : undefined);
  const c = new Controller(dp);
  c.load({ services: [svc('a', 1, [ep(1)])] });
  const writes = dp.writes;
  t.throws(() => c.load({ services: [svc('a', 1, [ep(2)]), svc('b', 2, [ep(1)], { mode: 'fullnat' })] }), {
    instanceOf: DatapathRefusal,
    message: /^service 'b': mode fullnat needs a source address/,
  });
  t.throws(() => c.put('b', svc('b', 2, [ep(1)], { mode: 'fullnat' })), { instanceOf: DatapathRefusal });
  t.is(dp.writes, writes);
  t.deepEqual(
    c.services().map((s) => s.name),
    ['a'],
  );
  t.throws(
    () => c.put('r2', svc('r2', 1, [], { port: 3000, portEnd: 3010 })) && c.put('r3', svc('r3', 1, [], { port: 4000, portEnd: 4010 })),
    {
      message: /portEnd: 198\.18\.100\.1 tcp already has the port range of service 'r2'/,
    },
  );
});
