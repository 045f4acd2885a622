// The virtual network without any datapath: hosts, a router, TCP/UDP/ICMP, captures, pcaps,
// determinism. Nothing here needs root.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { buildFrame, checksumProblems, decodeFrame, readPcapFile } from '../../packet/index.ts';
import { clientOptions } from '../../traffic/types.ts';
import type { ClientRequest } from '../../traffic/types.ts';
import { StepLimitError, VirtualClock } from './clock.ts';
import { runVirtualClient } from './client.ts';
import { VirtualNetwork } from './net.ts';
import type { NetworkOptions } from './net.ts';
import { B1, C1, ROUTED } from './test-topologies.ts';

function network(opts: Partial<NetworkOptions> = {}): VirtualNetwork {
  return new VirtualNetwork(ROUTED, { seed: 7, ...opts });
}

function run(net: VirtualNetwork, req: ClientRequest, node = 'c1'): ReturnType<typeof runVirtualClient> {
  return net.clock.runUntilSettled(runVirtualClient(net.node(node), clientOptions(req)), 'the test client');
}

function decoded(net: VirtualNetwork, node: string, segment: string): ReturnType<typeof decodeFrame>[] {
  return net.iface(node, segment).capture.packets.map((p) => decodeFrame(p.frame));
}

test('TCP echo through a router: banner, echo, FIN close; TTL decremented; every checksum right', async (t) => {
  const net = network();
  const r = await run(net, { proto: 'tcp', target: B1.ipv4, count: 3, payload: 2000 });
  t.deepEqual(r.summary, { count: 3, ok: 3, errors: 0, byBackend: { b1: 3 } });
  for (const c of r.results) {
    t.is(c.bytesReceived, 2000 + 3);
    t.true(c.sport !== null && c.sport >= 32768 && c.sport <= 60999);
    t.true(c.connectMs !== null && c.connectMs > 0);
  }
  // The client is done when its last ACK leaves; let it arrive.
  await net.clock.settle('the last ACK');
  const left = decoded(net, 'c1', 'left');
  const right = decoded(net, 'b1', 'right');
  // Each frame crosses the router: same count on both sides, TTL 64 on the left, 63 on the right.
  t.is(left.length, right.length);
  t.true(left.filter((d) => d.ip?.src === C1.ipv4).every((d) => d.ip?.version === 4 && d.ip.ttl === 64));
  t.true(right.filter((d) => d.ip?.src === C1.ipv4).every((d) => d.ip?.version === 4 && d.ip.ttl === 63));
  for (const d of [...left, ...right]) t.deepEqual(checksumProblems(d), []);
  // 2000 bytes with MSS 1460: two data segments per direction and connection.
  t.is(left.filter((d) => d.ip?.src === C1.ipv4 && (d.payload?.length ?? 0) > 0).length, 3 * 2);
  t.true(left.some((d) => d.tcp?.flagString.includes('F') === true));
  t.is(net.node('rt').forwarded, left.length);
  t.deepEqual(net.drops(), {});
  net.close();
});

test('TCP over IPv6 and HTTP (keep-alive and close) through the router', async (t) => {
  const net = network();
  const v6 = await run(net, { proto: 'tcp', target: B1.ipv6, count: 2 });
  t.deepEqual(v6.summary.byBackend, { b1: 2 });
  const ka = await run(net, { proto: 'http', target: B1.ipv4, count: 2, rounds: 3, payload: 10 });
  t.is(ka.summary.ok, 2);
  t.deepEqual(ka.results[0]?.backends, ['b1', 'b1', 'b1']);
  const close = await run(net, { proto: 'http', target: B1.ipv6, count: 1, rounds: 2, keepAlive: false });
  t.deepEqual(close.results[0]?.backends, ['b1', 'b1']);
  // keep-alive: one connection per client connection; close: one per request.
  const syns = decoded(net, 'c1', 'left').filter((d) => d.tcp?.dport === 80 && d.tcp.flagString === 'S');
  t.is(syns.length, 2 + 2);
  net.close();
});

test('UDP exchange, and ICMP port unreachable for a closed port (ECONNREFUSED on the client)', async (t) => {
  const net = network();
  const r = await run(net, { proto: 'udp', target: B1.ipv4, count: 2, rounds: 2, payload: 30 });
  t.deepEqual(r.summary, { count: 2, ok: 2, errors: 0, byBackend: { b1: 2 } });
  t.is(r.results[0]?.bytesReceived, 2 * (30 + 3));
  const closed = await run(net, { proto: 'udp', target: B1.ipv4, port: 9, count: 1, timeoutMs: 500 });
  t.regex(closed.results[0]?.error ?? '', /^round 1: ECONNREFUSED/);
  const icmp = decoded(net, 'c1', 'left').find((d) => d.icmp?.typeName === 'dest-unreachable');
  t.is(icmp?.icmp?.code, 3);
  t.is(icmp?.icmp?.inner?.udp?.dport, 9);
  t.is(net.node('b1').udp.portUnreachableSent, 1);
  net.close();
});

test('TCP to a closed port: RST, ECONNREFUSED', async (t) => {
  const net = network();
  const r = await run(net, { proto: 'tcp', target: B1.ipv4, port: 9 });
  t.regex(r.results[0]?.error ?? '', /^connect: ECONNREFUSED: connect ECONNREFUSED 198\.18\.2\.10:9$/);
  t.is(net.node('b1').tcp.rstSent, 1);
  net.close();
});

test('the router drops the first SYN: the client retransmits it after 1 s and connects', async (t) => {
  const net = network();
  let dropped = 0;
  net.node('rt').filters.push((frame) => {
    const d = decodeFrame(frame);
    if (dropped === 0 && d.tcp?.flagString === 'S') {
      dropped++;
      return 'drop';
    }
    return 'keep';
  });
  const r = await run(net, { proto: 'tcp', target: B1.ipv4, timeoutMs: 5000 });
  t.is(r.summary.ok, 1);
  const syns = net.iface('c1', 'left').capture.packets.filter((p) => decodeFrame(p.frame).tcp?.flagString === 'S');
  t.is(syns.length, 2);
  t.is((syns[1]?.timeMs ?? 0) - (syns[0]?.timeMs ?? 0), 1000);
  t.true((r.results[0]?.connectMs ?? 0) >= 1000);
  t.is(net.node('c1').tcp.retransmits, 1);
  t.is(net.node('rt').drops.get('filtered'), 1);
  net.close();
});

test('a lost data segment is retransmitted on the RTO (min 200 ms); 300 kB echo respects the 64 KiB window', async (t) => {
  const net = network();
  let lost = 0;
  net.node('rt').filters.push((frame) => {
    const d = decodeFrame(frame);
    if (lost === 0 && d.ip?.src === C1.ipv4 && (d.payload?.length ?? 0) > 0) {
      lost++;
      return 'drop';
    }
    return 'keep';
  });
  const r = await run(net, { proto: 'tcp', target: B1.ipv4, payload: 300_000, timeoutMs: 10_000 });
  t.is(r.summary.ok, 1, r.results[0]?.error ?? '');
  t.is(r.results[0]?.bytesReceived, 300_000 + 3);
  t.true(net.node('c1').tcp.retransmits >= 1);
  const sent = net
    .iface('c1', 'left')
    .capture.packets.map((p) => ({ t: p.timeMs, d: decodeFrame(p.frame) }))
    .filter((x) => x.d.ip?.src === C1.ipv4 && (x.d.payload?.length ?? 0) > 0);
  const first = sent[0];
  const again = sent.find((x, i) => i > 0 && x.d.tcp?.seq === first?.d.tcp?.seq);
  t.true(again !== undefined && again.t - (first?.t ?? 0) >= 200);
  // Never more than the peer's window (65535, no scaling) unacknowledged.
  let acked = 0;
  let maxInFlight = 0;
  for (const p of net.iface('c1', 'left').capture.packets) {
    const d = decodeFrame(p.frame);
    const tcp = d.tcp;
    if (tcp === undefined) continue;
    if (d.ip?.dst === C1.ipv4 && (tcp.flags & 0x10) !== 0) acked = Math.max(acked, (tcp.ack - (first?.d.tcp?.seq ?? 0)) >>> 0);
    else if (d.ip?.src === C1.ipv4 && (d.payload?.length ?? 0) > 0) {
      const end = (tcp.seq + (d.payload?.length ?? 0) - (first?.d.tcp?.seq ?? 0)) >>> 0;
      maxInFlight = Math.max(maxInFlight, end - acked);
    }
  }
  t.true(maxInFlight <= 65535 && maxInFlight > 60000, `max in flight ${maxInFlight}`);
  net.close();
});

test('SYN retransmits back off 1, 2, 4 s; the client times out and abandons the connection', async (t) => {
  const net = network();
  net.node('rt').filters.push(() => 'drop');
  const r = await run(net, { proto: 'tcp', target: B1.ipv4, timeoutMs: 7500 });
  t.is(r.results[0]?.error, 'connect: timeout after 7500 ms connecting');
  const times = net.iface('c1', 'left').capture.packets.map((p) => p.timeMs);
  t.deepEqual(times, [0, 1000, 3000, 7000]);
  // Abandoned at exit: no more SYNs, however long we wait.
  await net.clock.runForAsync(200_000);
  t.is(net.iface('c1', 'left').capture.packets.length, 4);
  net.close();
});

test('TIME_WAIT: the tuple cannot be reused for 60 s (EADDRNOTAVAIL), then it can', async (t) => {
  const net = network();
  const req: ClientRequest = { proto: 'tcp', target: B1.ipv4, sport: 40000 };
  t.is((await run(net, req)).summary.ok, 1);
  t.is([...net.node('c1').tcp.conns.values()][0]?.state, 'TIME_WAIT');
  const again = await run(net, req);
  t.regex(again.results[0]?.error ?? '', /^connect: EADDRNOTAVAIL/);
  await net.clock.runForAsync(59_000);
  t.regex((await run(net, req)).results[0]?.error ?? '', /EADDRNOTAVAIL/);
  await net.clock.runForAsync(1_000);
  t.is(net.node('c1').tcp.conns.size, 0);
  t.is((await run(net, req)).summary.ok, 1);
  // An ephemeral port is never one in TIME_WAIT.
  const eph = await run(net, { proto: 'tcp', target: B1.ipv4, count: 5 });
  t.false(eph.results.some((c) => c.sport === 40000));
  net.close();
});

test('TIME_WAIT length is configurable', async (t) => {
  const net = network({ timeWaitMs: 2000 });
  t.is((await run(net, { proto: 'tcp', target: B1.ipv4, sport: 40000 })).summary.ok, 1);
  await net.clock.runForAsync(2000);
  t.is((await run(net, { proto: 'tcp', target: B1.ipv4, sport: 40000 })).summary.ok, 1);
  net.close();
});

test('ICMP: echo replies (IPv4 and ICMPv6), time exceeded at TTL 1; bad checksums and VLAN tags dropped and counted', async (t) => {
  const net = network();
  const c1 = net.iface('c1', 'left');
  const rtMac = net.iface('rt', 'left').mac;
  const eth = { src: c1.mac, dst: rtMac };
  c1.transmit(buildFrame({ eth, ip: { src: C1.ipv4, dst: B1.ipv4 }, icmp: { type: 'echo-request', id: 7, seq: 1 }, payload: 'ping' }));
  c1.transmit(buildFrame({ eth, ip: { src: C1.ipv6, dst: B1.ipv6 }, icmp: { type: 'echo-request', id: 8, seq: 2 }, payload: 'ping6' }));
  c1.transmit(buildFrame({ eth, ip: { src: C1.ipv4, dst: B1.ipv4, ttl: 1 }, udp: { sport: 5000, dport: 7001 }, payload: 'x' }));
  c1.transmit(buildFrame({ eth, ip: { src: C1.ipv4, dst: B1.ipv4 }, tcp: { sport: 5000, dport: 7000, checksum: 'bad' } }));
  c1.transmit(buildFrame({ eth, ip: { src: C1.ipv4, dst: B1.ipv4, checksum: 'bad' }, udp: { sport: 5000, dport: 7001 } }));
  c1.transmit(buildFrame({ eth, vlan: 10, ip: { src: C1.ipv4, dst: B1.ipv4 }, udp: { sport: 5000, dport: 7001 } }));
  await net.clock.settle('test frames');
  const got = decoded(net, 'c1', 'left').filter((d) => d.ip?.dst === C1.ipv4 || d.ip?.dst === C1.ipv6);
  const replies = got.filter((d) => d.icmp?.typeName === 'echo-reply');
  t.deepEqual(
    replies.map((d) => [d.ip?.src, d.icmp?.id, d.icmp?.seq, Buffer.from(d.payload ?? []).toString()]),
    [
      [B1.ipv4, 7, 1, 'ping'],
      [B1.ipv6, 8, 2, 'ping6'],
    ],
  );
  const te = got.find((d) => d.icmp?.typeName === 'time-exceeded');
  t.is(te?.ip?.src, '198.18.1.1');
  t.is(te?.icmp?.inner?.udp?.dport, 7001);
  for (const d of got) t.deepEqual(checksumProblems(d), []);
  // The bad TCP checksum travels through the router (it does not check L4) and dies at b1; the
  // bad IPv4 header checksum dies at the router.
  t.is(net.node('b1').drops.get('bad_checksum'), 1);
  t.is(net.node('rt').drops.get('bad_checksum'), 1);
  t.is(net.node('rt').drops.get('ttl_exceeded'), 1);
  t.is(net.node('rt').drops.get('vlan'), 1);
  net.close();
});

test('a frame for another MAC is dropped by the receiving node, not forwarded', async (t) => {
  const net = network();
  const c1 = net.iface('c1', 'left');
  c1.transmit(
    buildFrame({ eth: { src: c1.mac, dst: '02:00:00:00:99:99' }, ip: { src: C1.ipv4, dst: B1.ipv4 }, udp: { sport: 1, dport: 7001 } }),
  );
  await net.clock.settle('test frame');
  t.is(net.node('rt').drops.get('other_host'), 1);
  t.is(net.node('rt').forwarded, 0);
  net.close();
});

test('pcaps: one per interface, read back with the packet toolkit, timestamps = virtual time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xlb-vnet-'));
  try {
    const net = network({ artifactsDir: dir });
    await run(net, { proto: 'tcp', target: B1.ipv4, count: 2 });
    await net.clock.runForAsync(1500);
    await run(net, { proto: 'udp', target: B1.ipv4 });
    const caps = net.captures();
    net.close();
    t.is(caps.length, 4);
    for (const cap of caps) {
      t.truthy(cap.pcapPath);
      const file = await readPcapFile(cap.pcapPath ?? '');
      t.is(file.linkType, 'ethernet');
      t.is(file.records.length, cap.packets.length);
      file.records.forEach((rec, i) => {
        const p = cap.packets[i];
        t.true(p !== undefined && rec.data.equals(p.frame));
        t.is(rec.tsSec * 1000 + rec.tsNsec / 1e6, p?.timeMs ?? Number.NaN);
      });
    }
    t.true(caps.some((c) => c.packets.some((p) => p.timeMs > 1500)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function pcapsOf(seed: number): Promise<Buffer[]> {
  const dir = mkdtempSync(join(tmpdir(), 'xlb-vnet-'));
  try {
    const net = new VirtualNetwork(ROUTED, { seed, artifactsDir: dir });
    await run(net, { proto: 'tcp', target: B1.ipv4, count: 4, concurrency: 2 });
    await run(net, { proto: 'udp', target: B1.ipv6, count: 2 });
    const caps = net.captures();
    net.close();
    return caps.map((c) => readFileSync(c.pcapPath ?? ''));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('determinism: the same seed gives byte-identical pcaps, another seed other ISNs and ports', async (t) => {
  const a = await pcapsOf(11);
  const b = await pcapsOf(11);
  const c = await pcapsOf(12);
  t.is(a.length, 4);
  a.forEach((x, i) => t.true(x.equals(b[i] ?? Buffer.alloc(0)), `pcap ${i} differs between two runs with seed 11`));
  t.false(a.every((x, i) => x.equals(c[i] ?? Buffer.alloc(0))));
});

test('clock: equal times fire in scheduling order; a run that never settles hits the step cap', (t) => {
  const clock = new VirtualClock({ maxSteps: 1000 });
  const order: string[] = [];
  clock.setTimeout(() => order.push('b'), 5);
  clock.setTimeout(() => order.push('a0'), 0);
  clock.setTimeout(() => order.push('c'), 5);
  const x = clock.setTimeout(() => order.push('cancelled'), 1);
  x.cancel();
  clock.runFor(4);
  t.deepEqual(order, ['a0']);
  t.is(clock.nowMs, 4);
  clock.runUntilIdle();
  t.deepEqual(order, ['a0', 'b', 'c']);
  const loop = (): void => void clock.setTimeout(loop, 1);
  loop();
  const err = t.throws(() => clock.runUntilIdle(), { instanceOf: StepLimitError });
  t.regex(err?.message ?? '', /more than 1000 events/);
});

test('clock: a promise nothing will ever resolve is reported, not hung', async (t) => {
  const clock = new VirtualClock();
  await t.throwsAsync(clock.runUntilSettled(new Promise(() => undefined), 'a stuck host'), {
    message: /nothing left to run while a stuck host/,
  });
});

test('HTTP connection: close from a fixed source port: the server closes first, its TIME_WAIT gives way to the next SYN', async (t) => {
  const net = network();
  // A request right after the previous response would find that connection still closing
  // (LAST_ACK: EADDRNOTAVAIL, as on Linux); 10 ms between rounds let it finish.
  const r = await run(net, { proto: 'http', target: B1.ipv4, sport: 41000, rounds: 3, roundGapMs: 10, keepAlive: false });
  t.deepEqual(r.results[0]?.backends, ['b1', 'b1', 'b1'], r.results[0]?.error ?? '');
  await net.clock.settle('the last ACK');
  // The server is the side in TIME_WAIT; each new SYN (higher ISN) reopened it.
  t.deepEqual(
    [...net.node('c1').tcp.conns.values()].map((c) => c.state),
    [],
  );
  t.deepEqual(
    [...net.node('b1').tcp.conns.values()].map((c) => c.state),
    ['TIME_WAIT'],
  );
  net.close();
});

test('lost FINs are retransmitted on the RTO; both ends still close', async (t) => {
  const net = network();
  const lost = new Set<string>();
  net.node('rt').filters.push((frame) => {
    const d = decodeFrame(frame);
    const key = `${d.ip?.src}`;
    if (d.tcp?.flagString.includes('F') === true && !lost.has(key)) {
      lost.add(key);
      return 'drop';
    }
    return 'keep';
  });
  const r = await run(net, { proto: 'tcp', target: B1.ipv4, timeoutMs: 5000 });
  t.is(r.summary.ok, 1);
  await net.clock.runForAsync(5000);
  t.is(lost.size, 2);
  t.deepEqual(
    [...net.node('b1').tcp.conns.values()].map((c) => c.state),
    [],
  );
  t.deepEqual(
    [...net.node('c1').tcp.conns.values()].map((c) => c.state),
    ['TIME_WAIT'],
  );
  const fins = net.iface('c1', 'left').capture.packets.filter((p) => decodeFrame(p.frame).tcp?.flagString.includes('F') === true);
  // c1's FIN (lost), c1's again, then b1's second (its first was lost): b1 answers a FIN with one.
  t.is(fins.length, 3);
  t.true(net.node('c1').tcp.retransmits >= 1 && net.node('b1').tcp.retransmits >= 1);
  net.close();
});
