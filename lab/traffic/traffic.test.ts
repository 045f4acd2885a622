// Root tests of the traffic tools in a real lab: servers answer with their name, clients record
// who answered, with chosen source ports, keep-alive, rounds and errors; raw injection puts
// exactly the crafted frame on the wire.
import test from 'ava';
import { buildFrame } from '../../src/packet/index.ts';
import { Capture } from '../capture.ts';
import { Lab } from '../lab.ts';
import { injectFrames, runClient, startClient, startServers } from './tools.ts';

let lab: Lab;

test.before(async () => {
  lab = await Lab.up('two-arm', { params: { backends: 3, staticNeighbours: true } });
  await startServers(lab, ['b1', 'b2', 'b3']);
});

test.after.always(async () => {
  await lab?.close();
});

test('TCP: sequential connections from chosen source ports, each records the backend and latency', async (t) => {
  const r = await runClient(lab, 'c1', { proto: 'tcp', target: '198.18.2.11', count: 5, sport: 43000, payload: 1000 });
  t.is(r.summary.ok, 5, JSON.stringify(r.results.map((x) => x.error)));
  t.deepEqual(r.summary.byBackend, { b1: 5 });
  t.deepEqual(
    r.results.map((x) => x.sport),
    [43000, 43001, 43002, 43003, 43004],
  );
  for (const x of r.results) {
    t.true(x.latencyMs !== null && x.latencyMs > 0 && x.latencyMs < 3000);
    t.true(x.connectMs !== null && x.connectMs > 0 && x.connectMs <= (x.latencyMs ?? 0));
    t.is(x.bytesReceived, 1000 + 3);
  }
});

test('TCP over IPv6, concurrent, random source ports', async (t) => {
  const r = await runClient(lab, 'c1', { proto: 'tcp', target: 'fd00:18:2::12', count: 8, concurrency: 8 });
  t.is(r.summary.ok, 8);
  t.deepEqual(r.summary.byBackend, { b2: 8 });
  t.is(new Set(r.results.map((x) => x.sport)).size, 8);
});

test('HTTP keep-alive: one connection carries every round; close: one connection per request', async (t) => {
  const ka = await runClient(lab, 'c1', { proto: 'http', target: '198.18.2.13', rounds: 3, payload: 5000 });
  t.deepEqual(ka.results[0]?.backends, ['b3', 'b3', 'b3']);
  t.is(ka.results[0]?.error, null);
  const close = await runClient(lab, 'c1', { proto: 'http', target: '198.18.2.13', count: 2, keepAlive: false });
  t.is(close.summary.ok, 2);
  t.deepEqual(close.summary.byBackend, { b3: 2 });
});

test('UDP flows over both families', async (t) => {
  const v4 = await runClient(lab, 'c1', { proto: 'udp', target: '198.18.2.11', count: 4, concurrency: 4, sport: 44000 });
  t.deepEqual(v4.summary.byBackend, { b1: 4 });
  t.deepEqual(
    v4.results.map((x) => x.sport),
    [44000, 44001, 44002, 44003],
  );
  const v6 = await runClient(lab, 'c1', { proto: 'udp', target: 'fd00:18:2::13', rounds: 2 });
  t.deepEqual(v6.results[0]?.backends, ['b3', 'b3']);
});

test('errors are recorded per connection, not thrown', async (t) => {
  const tcp = await runClient(lab, 'c1', { proto: 'tcp', target: '198.18.2.11', port: 7999, count: 2 });
  t.is(tcp.summary.errors, 2);
  t.regex(tcp.results[0]?.error ?? '', /ECONNREFUSED/);
  const udp = await runClient(lab, 'c1', { proto: 'udp', target: '198.18.2.11', port: 7999, timeoutMs: 300 });
  t.is(udp.summary.errors, 1);
  t.is(udp.results[0]?.backend, null);
});

test('a stepped client holds its connections open across rounds the test triggers', async (t) => {
  const c = await startClient(lab, 'c1', { proto: 'tcp', target: '198.18.2.12', count: 3, concurrency: 3, rounds: 3 });
  await c.next();
  // Between rounds the connections are established and held.
  const ss = await lab.exec('c1', 'ss', ['-Htn', 'state', 'established', 'dst', '198.18.2.12']);
  t.is(
    ss.stdout
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '').length,
    3,
  );
  await c.next();
  const r = await c.report();
  t.is(r.summary.ok, 3);
  for (const x of r.results) t.deepEqual(x.backends, ['b2', 'b2', 'b2']);
});

// Serial: alone on the wire (ava runs serial tests before the concurrent ones).
test.serial('raw injection: crafted frames (mid-stream ACK, bad checksum, VLAN tag, truncated header) arrive byte for byte', async (t) => {
  const c1 = lab.iface('c1');
  const lbc = lab.iface('lb', 'clients');
  const eth = { src: c1.mac, dst: lbc.mac };
  const frames = [
    buildFrame({ eth, ip: { src: c1.ipv4, dst: '198.18.100.1' }, tcp: { sport: 45000, dport: 80, flags: 'A', seq: 1000, ack: 2000 } }),
    buildFrame({ eth, ip: { src: c1.ipv4, dst: '198.18.100.1' }, udp: { sport: 45001, dport: 53, checksum: 'bad' }, payload: 'x' }),
    buildFrame({ eth, vlan: 42, ip: { src: c1.ipv4, dst: '198.18.100.1' }, udp: { sport: 45002, dport: 53 }, payload: 4 }),
    // An IPv4 header cut after 10 of its 20 bytes.
    buildFrame({ eth, ip: { src: c1.ipv4, dst: '198.18.100.1' }, udp: { sport: 45003, dport: 53 } }).subarray(0, 24),
  ];
  const cap = await Capture.start(lab, { points: [{ node: 'lb', segment: 'clients' }], filter: `ether src ${c1.mac} and not ip6` });
  const sent = await injectFrames(lab, 'c1', c1.ifname, frames);
  t.is(sent.sent, 4);
  await cap.stop();
  const got = await cap.packets('lb', 'clients');
  t.is(got.length, 4);
  got.forEach((p, i) => t.true(Buffer.compare(p.record.data, frames[i] ?? Buffer.alloc(0)) === 0, `frame ${i}`));
  t.is(got[0]?.frame.tcp?.flagString, '.');
  t.is(got[1]?.frame.udp?.checksum.verdict, 'bad');
  t.is(got[2]?.frame.vlans[0]?.id, 42);
  t.is(got[3]?.record.data.length, 24);
  t.is(got[3]?.frame.error?.layer, 'ipv4');
});

test('dsr: with a kernel route standing in for the datapath, backends answer from the VIP via the router', async (t) => {
  const dsr = await Lab.up('dsr', { params: { backends: 2 } });
  try {
    await startServers(dsr, ['b1'], { http: false });
    // What the datapath does in DSR mode: hand the VIP packet to a backend at L2, IP untouched.
    await dsr.exec('lb', 'ip', ['route', 'add', '198.18.100.1/32', 'via', '198.18.2.11']);
    await dsr.exec('lb', 'ip', ['route', 'add', 'fd00:18:100::1/128', 'via', 'fd00:18:2::11']);
    const cap = await Capture.start(dsr, {
      points: [
        { node: 'lb', segment: 'backends' },
        { node: 'rt', segment: 'backends' },
      ],
      filter: 'udp or tcp',
    });
    const udp = await runClient(dsr, 'c1', { proto: 'udp', target: '198.18.100.1', count: 2 });
    t.deepEqual(udp.summary.byBackend, { b1: 2 }, JSON.stringify(udp.results));
    const tcp = await runClient(dsr, 'c1', { proto: 'tcp', target: 'fd00:18:100::1' });
    t.deepEqual(tcp.summary.byBackend, { b1: 1 }, JSON.stringify(tcp.results));
    await cap.stop();
    const viaLb = await cap.packets('lb', 'backends');
    const viaRt = await cap.packets('rt', 'backends');
    // Requests leave the lb towards b1; every reply, from the VIP, goes to the router instead.
    t.true(viaLb.length > 0);
    t.true(
      viaLb.every((p) => p.frame.ip?.dst === '198.18.100.1' || p.frame.ip?.dst === 'fd00:18:100::1'),
      'lb forwards only requests',
    );
    const replies = viaRt.filter((p) => p.frame.eth?.src === dsr.iface('b1').mac);
    t.true(replies.length >= 3);
    t.true(
      replies.every((p) => p.frame.ip?.src === '198.18.100.1' || p.frame.ip?.src === 'fd00:18:100::1'),
      'replies come from the VIP',
    );
  } finally {
    await dsr.close();
  }
});
