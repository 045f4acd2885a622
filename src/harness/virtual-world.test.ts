// The sim/prog World's plumbing with a pass-through test double on the LB (see
// virtual/pass-through-datapath.ts: it is no datapath and these tests claim nothing about
// one): frames reach the datapath with ifindex 1 and then the LB's own stack, which forwards
// them; time moves the datapath clock; the controller validates; stepped clients; inject; a
// switched segment. Datapath behaviour is tested with the model and the real programs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { builtinTopology } from '../topology/builtins.ts';
import { buildFrame, decodeFrame } from '../packet/index.ts';
import type { OpenDatapathOptions } from '../datapath/packet-datapath.ts';
import { PassThroughDatapath } from './virtual/pass-through-datapath.ts';
import { MemoryDatapath } from '../controller/memory-datapath.ts';
import type { FrameResult, Verdict } from '../datapath/packet-datapath.ts';
import { VirtualWorld } from './virtual-world.ts';
import type { WorldOptions } from './world.ts';

/**
 * A test double that answers each frame with the verdict a test script chooses (and the frame
 * the script makes), to exercise the LB node's handling of drop / tx / redirect. Not a datapath.
 */
class ScriptedVerdictTestDouble extends PassThroughDatapath {
  script: ((frame: Buffer) => { verdict: Verdict; frame?: Buffer } | undefined) | undefined;
  override process(frame: Uint8Array, ifindex: number): FrameResult {
    const r = super.process(frame, ifindex);
    const s = this.script?.(Buffer.from(frame));
    if (s === undefined) return r;
    return { ...r, verdict: s.verdict, frame: s.frame ?? r.frame, trace: { ...r.trace, verdict: s.verdict } };
  }
}

async function withWorld(
  t: ExecutionContext,
  topology: WorldOptions['topology'],
  fn: (w: VirtualWorld, dp: ScriptedVerdictTestDouble, opened: OpenDatapathOptions) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xlb-vworld-'));
  let dp: ScriptedVerdictTestDouble | undefined;
  let opened: OpenDatapathOptions | undefined;
  const w = new VirtualWorld({ backend: 'sim', hook: 'tc', topology, seed: 3, artifactsDir: dir }, (o) => {
    opened = o;
    dp = new ScriptedVerdictTestDouble(o.hook);
    return { control: new MemoryDatapath(), packets: dp, close: () => undefined };
  });
  try {
    if (dp === undefined || opened === undefined) throw new Error('open was not called');
    await fn(w, dp, opened);
  } finally {
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  }
  t.pass();
}

test('two-arm: every frame the LB receives goes through the datapath (ifindex 1), then its stack forwards it', (t) =>
  withWorld(t, builtinTopology('two-arm'), async (w, dp, opened) => {
    t.deepEqual(opened.settings, { trace: true, snatV4: '198.18.2.1', snatV6: 'fd00:18:2::1' });
    const r = await w.client('c1', { proto: 'tcp', target: '198.18.2.12', count: 2 });
    t.deepEqual(r.summary.byBackend, { b2: 2 });
    await w.advance(0);
    const obs = await w.observe();
    const lbIn = w.net.node('lb').ifaces.reduce((n, i) => n + i.stats.rxFrames, 0);
    t.is(dp.frames, lbIn);
    t.is(obs.trace.length, lbIn);
    t.true(obs.trace.every((e) => e.ifindex === 1 && e.verdict === 'pass'));
    t.is(obs.reasons.get('pass_no_service'), lbIn);
    // The real interfaces are in the events and captures.
    t.deepEqual(new Set(w.events.map((e) => e.iface.segment.name)), new Set(['clients', 'backends']));
    const caps = await w.captures();
    t.deepEqual(
      caps.map((c) => `${c.node}/${c.segment}`),
      ['lb/clients', 'lb/backends', 'c1/clients', 'b1/backends', 'b2/backends', 'b3/backends'],
    );
    const atB2 = caps.find((c) => c.node === 'b2')?.packets.map((p) => decodeFrame(p.frame)) ?? [];
    t.true(atB2.filter((d) => d.ip?.src === '198.18.1.11').every((d) => d.ip?.version === 4 && d.ip.ttl === 63));
    t.deepEqual(w.net.drops(), {});
  }));

test('advance moves the datapath clock with the virtual clock; timers fire', (t) =>
  withWorld(t, builtinTopology('two-arm'), async (w, dp) => {
    await w.advance(1.5);
    t.is(dp.now(), 1_500_000_000n);
    await w.client('c1', { proto: 'tcp', target: '198.18.2.11', sport: 40000 });
    t.is(w.net.node('c1').tcp.conns.size, 1);
    await w.advance(60);
    t.is(w.net.node('c1').tcp.conns.size, 0);
    t.is(dp.now(), BigInt(w.clock.nowUs) * 1000n);
  }));

test('apply: the controller fills defaults and validates; its errors reach the caller', (t) =>
  withWorld(t, builtinTopology('two-arm'), async (w) => {
    await w.apply([
      {
        name: 'web',
        vip: '198.18.100.1',
        port: 80,
        protocol: 'tcp',
        algorithm: 'rr',
        mode: 'dnat',
        endpoints: [{ ip: '198.18.2.11', port: 80 }],
      },
    ]);
    const svcs = w.dut.control.listServices();
    t.is(svcs.length, 1);
    t.deepEqual(w.dut.control.readEndpoints(svcs[0]?.id ?? 0, svcs[0]?.generation ?? 0, 1), [
      { ip: '198.18.2.11', port: 80, weight: 1, active: true },
    ]);
    t.is(w.controller.get('web')?.deadFlowPolicy, 'keep');
    await t.throwsAsync(
      w.apply([{ name: 'bad', vip: '198.18.100.1', port: 70000, protocol: 'tcp', algorithm: 'rr', mode: 'dnat', endpoints: [] }]),
      { name: 'ValidationError', message: /port/ },
    );
  }));

test('startClient: rounds after the first wait for next(); time can move in between', (t) =>
  withWorld(t, builtinTopology('two-arm'), async (w) => {
    const s = await w.startClient('c1', { proto: 'tcp', target: '198.18.2.13', count: 2, rounds: 3 });
    const open = (): string[] => [...w.net.node('c1').tcp.conns.values()].map((c) => c.state);
    t.deepEqual(open(), ['ESTABLISHED', 'ESTABLISHED']);
    await w.advance(5);
    await s.next();
    t.deepEqual(open(), ['ESTABLISHED', 'ESTABLISHED']);
    await s.next();
    await t.throwsAsync(s.next(), { message: /no round is waiting/ });
    const r = await s.report();
    t.deepEqual(
      r.results.map((c) => c.backends),
      [
        ['b3', 'b3', 'b3'],
        ['b3', 'b3', 'b3'],
      ],
    );
    t.true((r.results[0]?.totalMs ?? 0) >= 5000);
    t.deepEqual(open(), ['TIME_WAIT', 'TIME_WAIT']);
  }));

test('startClient: report() runs the rounds nobody asked for', (t) =>
  withWorld(t, builtinTopology('two-arm'), async (w) => {
    const s = await w.startClient('c1', { proto: 'udp', target: '198.18.2.11', rounds: 4 });
    const r = await s.report();
    t.deepEqual(r.results[0]?.backends, ['b1', 'b1', 'b1', 'b1']);
  }));

test('inject: frames leave the node, replies arrive before it returns', (t) =>
  withWorld(t, builtinTopology('two-arm'), async (w) => {
    const c1 = w.net.iface('c1');
    const lbMac = w.net.iface('lb', 'clients').mac;
    await w.inject('c1', [
      buildFrame({
        eth: { src: c1.mac, dst: lbMac },
        ip: { src: c1.ipv4, dst: '198.18.2.11' },
        icmp: { type: 'echo-request', id: 1, seq: 1 },
      }),
    ]);
    const got = c1.capture.packets.map((p) => decodeFrame(p.frame));
    t.deepEqual(
      got.map((d) => d.icmp?.typeName),
      ['echo-request', 'echo-reply'],
    );
  }));

test('one-arm: the switch delivers by MAC (the LB sees nothing of c1 <-> b1), floods unknown and broadcast MACs', (t) =>
  withWorld(t, builtinTopology('one-arm'), async (w, dp) => {
    // c1 (198.18.1.11) to b1 (198.18.1.101) on the same segment: the LB is not involved.
    const r = await w.client('c1', { proto: 'tcp', target: '198.18.1.101' });
    t.deepEqual(r.summary.byBackend, { b1: 1 });
    t.is(dp.frames, 0);
    t.is(w.net.iface('b2').stats.rxFrames, 0);
    const c1 = w.net.iface('c1');
    const frame = (dst: string): Buffer =>
      buildFrame({ eth: { src: c1.mac, dst }, ip: { src: c1.ipv4, dst: '198.18.1.101' }, udp: { sport: 1, dport: 7001 } });
    const members = ['lb', 'b1', 'b2', 'b3'];
    const before = members.map((n) => w.net.iface(n).stats.rxFrames);
    await w.inject('c1', [frame('02:00:00:00:99:99'), frame('ff:ff:ff:ff:ff:ff')]);
    t.is(w.net.segments.get('lan')?.flooded, 2);
    // Every other member got both. b1 took the broadcast one (its IP) and answered; c1, with no
    // socket on port 1, sent it a port unreachable: b1's third frame. The LB, a router, did not
    // forward the broadcast one (Linux forwards only frames to its own MAC).
    members.forEach((n, i) => t.is(w.net.iface(n).stats.rxFrames - (before[i] ?? 0), n === 'b1' ? 3 : 2, n));
    t.is(dp.frames, 2);
    t.is(w.net.node('lb').forwarded, 0);
    t.is(w.net.node('b2').drops.get('other_host'), 1);
    t.is(w.net.node('b2').drops.get('not_local'), 1);
  }));

test('verdicts: drop is gone (counted), tx goes back out of the same interface, redirect leaves by destination as the program left it', (t) =>
  withWorld(t, builtinTopology('two-arm'), async (w, dp) => {
    const c1 = w.net.iface('c1');
    const lbC = w.net.iface('lb', 'clients');
    const lbB = w.net.iface('lb', 'backends');
    const b1 = w.net.iface('b1');
    const udp = (dport: number): Buffer =>
      buildFrame({
        eth: { src: c1.mac, dst: lbC.mac },
        ip: { src: c1.ipv4, dst: b1.ipv4, ttl: 20 },
        udp: { sport: 5000, dport },
        payload: 'v',
      });
    dp.script = (f) => {
      const d = decodeFrame(f);
      if (d.udp?.dport === 1) return { verdict: 'drop' };
      if (d.udp?.dport === 2)
        return {
          verdict: 'tx',
          frame: buildFrame({
            eth: { src: lbC.mac, dst: c1.mac },
            ip: { src: b1.ipv4, dst: c1.ipv4 },
            udp: { sport: 2, dport: 5000 },
            payload: 'tx',
          }),
        };
      if (d.udp?.dport === 3)
        return {
          verdict: 'redirect',
          frame: buildFrame({
            eth: { src: lbB.mac, dst: b1.mac },
            ip: { src: c1.ipv4, dst: b1.ipv4, ttl: 20 },
            udp: { sport: 5000, dport: 7001 },
            payload: 'rd',
          }),
        };
      return undefined;
    };
    await w.inject('c1', [udp(1), udp(2), udp(3)]);
    t.is(w.net.node('lb').drops.get('datapath_drop'), 1);
    // Then passes only: b1's answer, and c1's two port unreachables (no socket on port 5000).
    t.deepEqual(
      (await w.observe()).trace.map((e) => e.verdict),
      ['drop', 'tx', 'redirect', 'pass', 'pass', 'pass'],
    );
    // tx: back to c1 on the clients link, as the script made it.
    const atC1 = c1.capture.packets.map((p) => decodeFrame(p.frame)).filter((d) => d.ip?.dst === c1.ipv4);
    t.true(atC1.some((d) => d.udp?.sport === 2 && Buffer.from(d.payload ?? []).toString() === 'tx'));
    // redirect: to b1 untouched (TTL 20: the program's business), b1 answered (the 4th frame: pass).
    const atB1 = b1.capture.packets.map((p) => decodeFrame(p.frame));
    const rd = atB1.find((d) => d.udp?.dport === 7001);
    t.true(rd?.ip?.version === 4 && rd.ip.ttl === 20);
    t.false(atB1.some((d) => d.udp?.dport === 1 || d.udp?.dport === 2));
    t.true(atC1.some((d) => d.udp?.sport === 7001 && Buffer.from(d.payload ?? []).toString() === 'b1\nrd'));
    // Out of the backends interface: the redirected frame and c1's two port unreachables.
    t.is(lbB.stats.txFrames, 3);
  }));

test('a datapath that breaks a TCP checksum shows up: the backend drops and counts, the client fails', (t) =>
  withWorld(t, builtinTopology('two-arm'), async (w, dp) => {
    dp.script = (f) => {
      const d = decodeFrame(f);
      const tcp = d.tcp;
      if (tcp === undefined || d.ip?.dst !== '198.18.2.11') return undefined;
      const out = Buffer.from(f);
      out[tcp.offset + 16] = (out[tcp.offset + 16] ?? 0) ^ 0x01;
      return { verdict: 'pass', frame: out };
    };
    const r = await w.client('c1', { proto: 'tcp', target: '198.18.2.11', timeoutMs: 2500 });
    t.is(r.results[0]?.error, 'connect: timeout after 2500 ms connecting');
    // The SYN at 0 s and its retransmission at 1 s (the next, at 3 s, is after the client gave up).
    t.is(w.net.node('b1').drops.get('bad_checksum'), 2);
    t.is(w.net.node('lb').forwarded, 2);
  }));

test('two clients at once on one clock (Promise.all): both complete, in one virtual timeline', (t) =>
  withWorld(t, builtinTopology('two-arm', { clients: 2 }), async (w) => {
    const [a, b] = await Promise.all([
      w.client('c1', { proto: 'tcp', target: '198.18.2.11', count: 3, holdMs: 500 }),
      w.client('c2', { proto: 'udp', target: '198.18.2.12', count: 3, rounds: 2, roundGapMs: 200 }),
    ]);
    t.deepEqual(a.summary.byBackend, { b1: 3 });
    t.deepEqual(b.summary.byBackend, { b2: 3 });
    t.true(w.clock.nowMs >= 500 && w.clock.nowMs < 600);
  }));
