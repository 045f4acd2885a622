// Reconcile against the real kernel datapath (root): idempotence counted in writes,
// restart over the pinned maps, flows/counters/conntrack maintenance, and a change applied while another
// process feeds packets through BPF_PROG_TEST_RUN without pause.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFrame } from '../packet/index.ts';
import { Controller } from '../controller/controller.ts';
import type { Datapath } from '../controller/datapath.ts';
import { maglevTable } from '../controller/lookup-tables.ts';
import { BpfMap } from '../bpf/index.ts';
import { openKernelDatapath } from './kernel-datapath.ts';
import type { KernelDatapathHandle } from './kernel-datapath.ts';
import { schedBytesPerTable, schedOffset } from './maps.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function pinDir(): string {
  return `/sys/fs/bpf/xlb/test-ctl-${Math.random().toString(36).slice(2, 8)}`;
}

/** Wraps a Datapath and counts the calls that write. */
function counting(dp: Datapath): Datapath & { writes: number } {
  const w = { writes: 0 };
  return new Proxy(dp, {
    get(target, prop, recv) {
      if (prop === 'writes') return w.writes;
      const v = Reflect.get(target, prop, recv) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (prop === 'writeGeneration' || prop === 'putService' || prop === 'deleteService' || prop === 'deleteFlows') w.writes++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Datapath & { writes: number };
}

const svc = (name: string, vip: string, eps: number[], extra: Record<string, unknown> = {}) => ({
  name,
  vip,
  port: 80,
  endpoints: eps.map((n) => ({ ip: `198.18.2.${n}`, port: 8080 })),
  ...extra,
});

function open(dir: string, extra: Partial<Parameters<typeof openKernelDatapath>[0]> = {}): KernelDatapathHandle {
  return openKernelDatapath({ hook: 'tc', pinDir: dir, maxServices: 64, ctEntries: 4096, ...extra });
}

function cleanup(dir: string): void {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

test.serial('kernel: reconcile is idempotent, restart over the pins changes nothing, ids are stable', (t) => {
  const dir = pinDir();
  t.teardown(() => cleanup(dir));
  const state = {
    services: [
      svc('a', '198.18.100.1', [1, 2, 3]),
      svc('b', '198.18.100.2', [4], { algorithm: 'wrr', persistence: { timeoutS: 30 }, policer: { ratePps: 1000, burst: 50 } }),
      { name: 'v6', vip: 'fd00:18:100::1', port: 53, protocol: 'udp', algorithm: 'lc', endpoints: [{ ip: 'fd00:18:2::1', port: 53 }] },
      { name: 'range', vip: '198.18.100.3', port: 1000, portEnd: 2000, mode: 'dsr', endpoints: [{ ip: '198.18.2.9' }] },
    ],
  };
  const h1 = open(dir);
  t.false(h1.reusedPins);
  const dp1 = counting(h1.datapath);
  const c1 = new Controller(dp1);
  const r1 = c1.load(state);
  t.is(r1.created.length, 4);
  t.is(dp1.writes, 8);
  t.is(c1.reconcileAll().unchanged, 4);
  t.is(dp1.writes, 8, 'a second reconcile writes nothing');
  c1.put('a', svc('a', '198.18.100.1', [1, 3, 5]));
  t.is(dp1.writes, 10);
  const ids = Object.fromEntries(['a', 'b', 'v6', 'range'].map((n) => [n, c1.serviceId(n)]));
  const before = JSON.stringify(h1.datapath.listServices());
  h1.close();
  // "Restart": a new process opens the same pins and applies the same desired state.
  const h2 = open(dir);
  t.teardown(() => h2.close());
  t.true(h2.reusedPins);
  const dp2 = counting(h2.datapath);
  const c2 = new Controller(dp2);
  const r2 = c2.load({ services: [state.services[3], state.services[2], state.services[1], svc('a', '198.18.100.1', [1, 3, 5])] });
  t.is(r2.unchanged, 4);
  t.is(dp2.writes, 0);
  t.is(JSON.stringify(h2.datapath.listServices()), before);
  t.deepEqual(Object.fromEntries(['a', 'b', 'v6', 'range'].map((n) => [n, c2.serviceId(n)])), ids);
  const a = h2.datapath.getService({ vip: '198.18.100.1', port: 80, protocol: 'tcp' });
  t.like(a, { generation: 1, endpointCount: 3, algorithm: 'maglev', mode: 'dnat' });
  if (a !== undefined)
    t.deepEqual(
      h2.datapath.readEndpoints(a.id, a.generation, 3).map((e) => e.ip),
      ['198.18.2.1', '198.18.2.5', '198.18.2.3'],
    );
  t.like(h2.datapath.getService({ vip: '198.18.100.3', port: 1000, protocol: 'tcp' }), { portEnd: 2000, mode: 'dsr' });
  t.like(h2.datapath.getService({ vip: '198.18.100.2', port: 80, protocol: 'tcp' }), {
    persistenceTimeoutS: 30,
    policer: { ratePps: 1000, burst: 50 },
  });
});

test.serial('kernel: a service turned into a port range (and back) has one entry', (t) => {
  const dir = pinDir();
  t.teardown(() => cleanup(dir));
  const h = open(dir);
  t.teardown(() => h.close());
  const c = new Controller(h.datapath);
  c.put('s', svc('s', '198.18.100.1', [1]));
  c.put('s', svc('s', '198.18.100.1', [1], { portEnd: 90 }));
  t.deepEqual(
    h.datapath.listServices().map((s) => [s.id, s.key.port, s.portEnd]),
    [[1, 80, 90]],
  );
  c.put('s', svc('s', '198.18.100.1', [1]));
  t.deepEqual(
    h.datapath.listServices().map((s) => [s.id, s.key.port, s.portEnd]),
    [[1, 80, 0]],
  );
  t.is(c.reconcileAll().unchanged, 1);
});

test.serial('kernel: full NAT needs a source address; with one, the client address is replaced', (t) => {
  const dir = pinDir();
  t.teardown(() => cleanup(dir));
  const h1 = open(dir);
  const c1 = new Controller(h1.datapath);
  t.throws(() => c1.put('f', svc('f', '198.18.100.1', [7], { mode: 'fullnat' })), {
    message: /mode fullnat needs a source address for IPv4: start the agent with --snat-v4 ADDR/,
  });
  t.is(h1.datapath.listServices().length, 0);
  h1.close();
  const h = open(dir, { snatV4: '198.18.2.1' });
  t.teardown(() => h.close());
  const c = new Controller(h.datapath);
  c.put('f', svc('f', '198.18.100.1', [7], { mode: 'fullnat' }));
  const r = h.program.testRun({
    data: buildFrame({ ip: { src: '198.18.1.10', dst: '198.18.100.1' }, tcp: { sport: 40000, dport: 80, flags: 'S' } }),
  });
  t.is(
    `${r.data[26]}.${r.data[27]}.${r.data[28]}.${r.data[29]} > ${r.data[30]}.${r.data[31]}.${r.data[32]}.${r.data[33]}`,
    '198.18.2.1 > 198.18.2.7',
  );
});

test.serial('kernel: a packet goes to an endpoint; flows, counters, purge and aging', (t) => {
  const dir = pinDir();
  t.teardown(() => cleanup(dir));
  const h = open(dir);
  t.teardown(() => h.close());
  const c = new Controller(h.datapath);
  c.load({ services: [svc('a', '198.18.100.1', [7], { deadFlowPolicy: 'purge' })] });
  const syn = buildFrame({ ip: { src: '198.18.1.10', dst: '198.18.100.1' }, tcp: { sport: 40000, dport: 80, flags: 'S' } });
  const r = h.program.testRun({ data: syn });
  t.is(`${r.data[30]}.${r.data[31]}.${r.data[32]}.${r.data[33]}`, '198.18.2.7');
  const flows = h.datapath.listFlows();
  t.is(flows.length, 1);
  // queryFlows (GET /v1/conntrack) answers what listFlows + a filter does.
  const q = h.kernel.queryFlows({ serviceId: 1, states: ['SYN_SENT'], limit: 10 });
  t.is(q.total, 1);
  t.deepEqual({ ...q.flows[0], ageMs: 0, idleMs: 0 }, { ...flows[0], ageMs: 0, idleMs: 0 });
  t.is(h.kernel.queryFlows({ serviceId: 2 }).total, 0);
  t.is(h.kernel.queryFlows({ states: ['ESTABLISHED'] }).total, 0);
  t.deepEqual(h.kernel.queryFlows({ limit: 0 }), { total: 1, flows: [] });
  t.like(flows[0], {
    serviceId: 1,
    protocol: 'tcp',
    client: { ip: '198.18.1.10', port: 40000 },
    vip: { ip: '198.18.100.1', port: 80 },
    endpoint: { ip: '198.18.2.7', port: 8080 },
    state: 'SYN_SENT',
    packets: 1,
  });
  // No maintenance ran yet: flowCounts counts in place (state, flags, last seen of each entry), one flow for two entries.
  t.deepEqual(h.kernel.flowCounts().byState, { SYN_SENT: 1 });
  const counters = h.datapath.counters();
  t.is(counters.services.get(1)?.packets, 1);
  t.is(counters.endpoints.get(1)?.get(0)?.packets, 1);
  t.is(counters.verdicts.get('new_flow'), 1);
  // Health takes the endpoint down with the purge policy: its flow goes.
  c.setHealth('a', { ip: '198.18.2.7', port: 8080 }, false);
  t.is(h.datapath.listFlows().length, 0);
  const r2 = h.program.testRun({ data: syn });
  t.is(h.datapath.counters().drops.get('drop_no_endpoint'), 1, `retval ${r2.retval}`);
  c.setHealth('a', { ip: '198.18.2.7', port: 8080 }, true);
  h.program.testRun({ data: syn });
  t.is(h.datapath.listFlows().length, 1);
  // Aging: move the datapath clock past the SYN_SENT timeout; maintainConntrack deletes both entries.
  t.deepEqual(h.kernel.maintainConntrack(), { expired: 0, lcSlotsFixed: 0 });
  h.kernel.writeConfig({ clock_offset_ns: 3600n * 1_000_000_000n });
  t.is(h.datapath.listFlows().length, 0);
  t.is(h.kernel.queryFlows({}).total, 0, 'expired flows are not counted');
  t.is(h.kernel.maintainConntrack().expired, 2);
});

test.serial('kernel: least-connection counts stay right when flows expire (maintenance recount)', (t) => {
  const dir = pinDir();
  t.teardown(() => cleanup(dir));
  const h = open(dir);
  t.teardown(() => h.close());
  const c = new Controller(h.datapath);
  c.put('lc', svc('lc', '198.18.100.1', [1, 2], { algorithm: 'lc' }));
  for (let i = 0; i < 4; i++)
    h.program.testRun({
      data: buildFrame({ ip: { src: '198.18.1.10', dst: '198.18.100.1' }, tcp: { sport: 41000 + i, dport: 80, flags: 'S' } }),
    });
  t.deepEqual(h.kernel.endpointConnections(1, 2), [2, 2], 'lc spreads new flows evenly');
  t.deepEqual(h.kernel.maintainConntrack(), { expired: 0, lcSlotsFixed: 0 }, 'nothing to fix while the flows live');
  // Flows by state come from the maintenance run's count, not from a decode per request.
  const counted = h.kernel.flowCounts();
  t.deepEqual(counted.byState, { SYN_SENT: 4 });
  t.true(counted.ageMs >= 0 && counted.ageMs < 10_000);
  // The flows time out without a FIN or RST: the datapath never decrements for them.
  h.kernel.writeConfig({ clock_offset_ns: 3600n * 1_000_000_000n });
  t.deepEqual(h.kernel.endpointConnections(1, 2), [2, 2]);
  t.deepEqual(h.kernel.flowCounts().byState, { SYN_SENT: 4 }, 'the count is as old as the last maintenance run (at most 10 s)');
  const r = h.kernel.maintainConntrack();
  t.is(r.expired, 8);
  t.deepEqual(h.kernel.endpointConnections(1, 2), [0, 0]);
  t.deepEqual(h.kernel.flowCounts().byState, {});
});

test.serial('kernel: changes applied while packets flow never expose a half-written service', async (t) => {
  const dir = pinDir();
  t.teardown(() => cleanup(dir));
  const h = open(dir, { ctEntries: 1 << 16 });
  t.teardown(() => h.close());
  const c = new Controller(h.datapath);
  const A = [1, 2, 3, 4];
  const B = [11, 12, 13, 14, 15, 16, 17, 18];
  c.load({ services: [svc('a', '198.18.100.1', A)] });
  const feeder = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'src/datapath/feed-packets.ts'),
      '--pin-dir',
      dir,
      '--hook',
      'tc',
      '--vip',
      '198.18.100.1',
      '--port',
      '80',
      '--ms',
      '3000',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  t.teardown(() => feeder.kill('SIGKILL'));
  let out = '';
  feeder.stdout.on('data', (b: Buffer) => (out += b.toString()));
  // The feeder says `ready` once its program runs; a feeder that never does fails the test in 30 s, not at ava's timeout.
  const readyBy = Date.now() + 30_000;
  while (!out.includes('ready\n')) {
    if (feeder.exitCode !== null || Date.now() > readyBy)
      return t.fail(
        `the packet feeder ${feeder.exitCode !== null ? `exited with ${feeder.exitCode}` : 'said nothing in 30 s'} before it was ready: ${out}`,
      );
    await new Promise((r) => setTimeout(r, 10));
  }
  // Flip between the two sets (and algorithms) as fast as possible while the feeder runs.
  let flips = 0;
  const exited = new Promise<number | null>((r) => feeder.on('exit', r));
  let done = false;
  void exited.then(() => (done = true));
  // It runs for 3 s; give up (and kill it, in teardown) after 30.
  const giveUp = setTimeout(() => (done = true), 30_000);
  t.teardown(() => clearTimeout(giveUp));
  const algorithms = ['maglev', 'rr', 'wrr', 'hash', 'random', 'lc'];
  while (!done) {
    const set = flips % 2 === 0 ? B : A;
    c.put('a', svc('a', '198.18.100.1', set, { algorithm: algorithms[flips % algorithms.length] }));
    flips++;
    await new Promise((r) => setImmediate(r));
  }
  t.is(
    feeder.exitCode ?? (await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 30 s'), 1000))])),
    0,
  );
  const result = JSON.parse(out.split('\n').filter((l) => l.startsWith('{'))[0] ?? '{}') as {
    sent: number;
    byDst: Record<string, number>;
    retvals: Record<string, number>;
  };
  t.log(`${flips} flips while ${result.sent} packets ran: ${JSON.stringify(result.byDst)}`);
  t.true(flips > 50, `only ${flips} flips`);
  t.true(result.sent > 1000, `only ${result.sent} packets`);
  const allowed = new Set([...A, ...B].map((n) => `198.18.2.${n}`));
  for (const dst of Object.keys(result.byDst)) t.true(allowed.has(dst), `a packet went to ${dst}`);
  t.is(
    Object.values(result.byDst).reduce((a, b) => a + b, 0),
    result.sent,
  );
  t.is(h.datapath.counters().drops.get('drop_no_endpoint') ?? 0, 0);
});

test.serial(
  'kernel: the Maglev table in xlb_sched equals the reference builder, after changes and for services sharing an endpoint set',
  (t) => {
    const dir = pinDir();
    t.teardown(() => cleanup(dir));
    const h = open(dir);
    t.teardown(() => h.close());
    const c = new Controller(h.datapath);
    const eps = [1, 2, 3, 4, 5, 6, 7, 8];
    // a and b share an endpoint set (the second takes the cached table), c has its own.
    c.load({ services: [svc('a', '198.18.100.1', eps), svc('b', '198.18.100.2', eps), svc('c', '198.18.100.3', [9, 10, 11])] });
    t.deepEqual(h.kernel.maglevStats(), { hits: 1, builds: 2 });
    const sched = BpfMap.openPinned(path.join(dir, 'xlb_sched'));
    t.teardown(() => sched.close());
    const m = h.kernel.maglevSize;
    const check = (name: string): void => {
      const s = h.datapath.getService({ vip: c.get(name)?.vip as string, port: 80, protocol: 'tcp' });
      if (s === undefined) throw new Error(`no entry for ${name}`);
      const slots = h.datapath.readEndpoints(s.id, s.generation, s.endpointCount);
      const bytes = new Uint8Array(schedBytesPerTable(m));
      sched.readMapped(schedOffset(m, s.id, s.generation), bytes);
      t.deepEqual(Uint32Array.from(bytes.subarray(0, m)), maglevTable(slots, m), `${name} generation ${s.generation}`);
      t.true(
        bytes.subarray(m).every((b) => b === 0),
        'zero past the table',
      );
    };
    for (const n of ['a', 'b', 'c']) check(n);
    // Incremental changes: an endpoint removed (a hole), a weight changed, an endpoint added into the hole.
    c.put('a', svc('a', '198.18.100.1', [1, 2, 4, 5, 6, 7, 8]));
    check('a');
    c.put('b', {
      ...svc('b', '198.18.100.2', eps),
      endpoints: eps.map((n) => ({ ip: `198.18.2.${n}`, port: 8080, weight: n === 3 ? 4 : 1 })),
    });
    check('b');
    c.put('a', svc('a', '198.18.100.1', [1, 2, 12, 4, 5, 6, 7, 8]));
    check('a');
    // Health: an endpoint down takes it out of the table.
    c.setHealth('c', { ip: '198.18.2.10', port: 8080 }, false);
    check('c');
  },
);
