// The `prog` datapath (root): the controller programs a service through `control`, frames go
// through process() (BPF_PROG_TEST_RUN of the real objects), and what comes back has the shapes
// of packet-datapath.ts: verdict, rewritten bytes (checked against frames built independently by
// the packet toolkit), one reason, the fwd result, the trace event, conntrack entries; the
// virtual clock expires a flow; one CPU; the pin directory goes on close. TC and XDP.
import test from 'ava';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getCpuAffinity } from '../bpf/index.ts';
import { Controller } from '../controller/controller.ts';
import { buildFrame } from '../packet/index.ts';
import type { FrameSpec } from '../packet/index.ts';
import { HOOKS } from './prog-run.ts';
import { PROG_PIN_PREFIX, openProgDatapath } from './prog-datapath.ts';
import type { ProgDatapathUnderTest } from './prog-datapath.ts';

const CLIENT = '198.18.0.10';
const VIP = '198.18.100.1';
const BACKEND = '198.18.1.11';
const IF_CLIENT = 7;

type Tcp = NonNullable<FrameSpec['tcp']>;
const c2s = (tcp: Partial<Tcp>, dst = VIP, dport = 80): Buffer =>
  buildFrame({ ip: { src: CLIENT, dst, id: 7 }, tcp: { sport: 40000, dport, ...tcp } as Tcp });
const s2c = (tcp: Partial<Tcp>, src = BACKEND, sport = 8080): Buffer =>
  buildFrame({ ip: { src, dst: CLIENT, id: 9 }, tcp: { sport, dport: 40000, ...tcp } as Tcp });

function withDut(hook: 'tc' | 'xdp', fn: (dut: ProgDatapathUnderTest, ctl: Controller) => void): string {
  const dut = openProgDatapath({ hook, maxServices: 16 });
  try {
    const ctl = new Controller(dut.control);
    ctl.put('web', { vip: VIP, port: 80, protocol: 'tcp', endpoints: [{ ip: BACKEND, port: 8080 }] });
    fn(dut, ctl);
  } finally {
    dut.close();
  }
  return dut.pinDir;
}

for (const hook of HOOKS) {
  test(`${hook}: DNAT TCP handshake through process(), reasons, trace, conntrack; pins gone after close`, (t) => {
    const before = getCpuAffinity();
    const pinDir = withDut(hook, (dut) => {
      const p = dut.packets;
      t.true(dut.pinDir.startsWith(PROG_PIN_PREFIX) && existsSync(dut.pinDir));
      t.deepEqual(getCpuAffinity(), [dut.cpu], 'the thread runs on one CPU while the datapath is open');
      t.is(p.implementation, 'kernel');
      t.is(p.hook, hook);

      const syn = p.process(c2s({ seq: 1000, flags: 'S' }), IF_CLIENT);
      t.is(syn.verdict, 'pass');
      t.is(syn.reason, 'new_flow');
      t.is(syn.fwd, 'pass_fib');
      t.deepEqual(syn.frame, c2s({ seq: 1000, flags: 'S' }, BACKEND, 8080));
      t.deepEqual(syn.trace, {
        timeNs: 0n,
        tuple: { family: 4, proto: 'tcp', src: CLIENT, dst: VIP, sport: 40000, dport: 80 },
        serviceId: dut.control.listServices()[0]!.id,
        ifindex: IF_CLIENT,
        reason: 'new_flow',
        endpointSlot: 0,
        verdict: 'pass',
        ctBefore: 'NONE',
        ctAfter: 'SYN_SENT',
        length: syn.frame.length,
      });

      p.advance(5);
      const synAck = p.process(s2c({ seq: 5000, ack: 1001, flags: 'SA' }), 9);
      t.is(synAck.reason, 'tracked');
      t.deepEqual(synAck.frame, s2c({ seq: 5000, ack: 1001, flags: 'SA' }, VIP, 80));
      t.is(synAck.trace.ctBefore, 'SYN_SENT');
      t.is(synAck.trace.ctAfter, 'SYN_RECV');
      t.is(synAck.trace.ifindex, 9);
      // The program's clock follows the virtual one (it may read up to a coarse tick ahead).
      t.true(synAck.trace.timeNs >= 5_000_000n && synAck.trace.timeNs < 5_000_000n + 20_000_000n, `trace time ${synAck.trace.timeNs}`);

      const ack = p.process(c2s({ seq: 1001, ack: 5001, flags: 'A' }), IF_CLIENT);
      t.is(ack.reason, 'tracked');
      t.is(ack.trace.ctAfter, 'ESTABLISHED');
      const data = p.process(c2s({ seq: 1001, ack: 5001, flags: 'PA' }), IF_CLIENT);
      t.is(data.reason, 'fast_path');
      t.is(data.fwd, 'pass_fib');

      const ct = p.conntrack().sort((a, b) => Number(a.reply) - Number(b.reply));
      t.is(ct.length, 2);
      const [fwd, rev] = ct;
      t.like(fwd, {
        key: { family: 4, proto: 'tcp', src: CLIENT, dst: VIP, sport: 40000, dport: 80 },
        reply: false,
        state: 'ESTABLISHED',
        endpointSlot: 0,
        nat: { src: CLIENT, dst: BACKEND, sport: 40000, dport: 8080 },
        xlate: { saddr: false, daddr: true, sport: false, dport: true },
        packets: 3,
      });
      t.like(rev, {
        key: { family: 4, proto: 'tcp', src: BACKEND, dst: CLIENT, sport: 8080, dport: 40000 },
        reply: true,
        state: 'ESTABLISHED',
        nat: { src: VIP, dst: CLIENT, sport: 80, dport: 40000 },
        xlate: { saddr: true, daddr: false, sport: true, dport: false },
        packets: 1,
      });
      t.true(rev!.flags.includes('reply') && !fwd!.flags.includes('reply'));
      t.is(fwd!.createdNs < 2_000_000n, true, `created at ${fwd!.createdNs} ns (virtual)`);

      const reasons = p.reasons();
      t.is(reasons.get('new_flow'), 1);
      t.is(reasons.get('tracked'), 2);
      t.is(reasons.get('fast_path'), 1);
      t.is(
        [...reasons.values()].reduce((a, b) => a + b, 0),
        4,
      );
      t.is(p.fwdResults().get('pass_fib'), 4);

      // a packet for no service: passed untouched, no fwd result
      const other = buildFrame({ ip: { src: CLIENT, dst: '198.18.9.9' }, udp: { sport: 1, dport: 2 } });
      const o = p.process(other, IF_CLIENT);
      t.is(o.verdict, 'pass');
      t.is(o.reason, 'pass_no_service');
      t.is(o.fwd, undefined);
      t.deepEqual(o.frame, other);
      t.is(o.trace.endpointSlot, -1);

      t.true(p.deleteConntrack(rev!.key));
      t.false(p.deleteConntrack(rev!.key));
      t.is(p.conntrack().length, 1);
    });
    t.false(existsSync(pinDir), `${pinDir} removed on close`);
    t.deepEqual(getCpuAffinity(), before, 'affinity restored on close');
  });

  test(`${hook}: the virtual clock expires a flow; settings set the timeouts; a dropped frame comes back as sent`, (t) => {
    withDut(hook, (dut, ctl) => {
      const p = dut.packets;
      p.configure({ timeoutsS: { SYN_SENT: 3 } });
      t.is(dut.control.readConfig().timeouts_s[1], 3);
      t.is(p.process(c2s({ seq: 1, flags: 'S' }), IF_CLIENT).reason, 'new_flow');
      p.advance(2000);
      t.is(p.now(), 2_000_000_000n);
      // still alive: a retransmitted SYN is the tracked flow
      t.is(p.process(c2s({ seq: 1, flags: 'S' }), IF_CLIENT).reason, 'tracked');
      t.is(dut.control.listFlows().length, 1);
      p.advance(3500);
      // past the 3 s SYN_SENT timeout, for the control side too (its clock is the same)
      t.is(dut.control.listFlows().length, 0);
      t.deepEqual(dut.control.maintainConntrack(), { expired: 2, lcSlotsFixed: 0 });
      // the same SYN makes a new flow
      const again = p.process(c2s({ seq: 1, flags: 'S' }), IF_CLIENT);
      t.is(again.reason, 'new_flow');
      t.is(again.trace.ctBefore, 'NONE');
      t.true(
        p.conntrack().every((e) => e.createdNs >= 5_500_000_000n),
        'the entries were recreated at the new time',
      );

      // every endpoint down: drop_no_endpoint, the frame as it came in
      ctl.put('web', { vip: VIP, port: 80, protocol: 'tcp', endpoints: [{ ip: BACKEND, port: 8080, active: false }] });
      const syn = c2s({ sport: 40001, seq: 1, flags: 'S' });
      const d = p.process(syn, IF_CLIENT);
      t.is(d.verdict, 'drop');
      t.is(d.reason, 'drop_no_endpoint');
      t.deepEqual(d.frame, syn);
      t.is(d.trace.verdict, 'drop');
    });
  });

  test(`${hook}: packets/s through process()`, (t) => {
    withDut(hook, (dut) => {
      const p = dut.packets;
      const n = 3000;
      const frames = Array.from({ length: n }, (_, i) =>
        buildFrame({
          ip: { src: CLIENT, dst: VIP },
          tcp: { sport: 10000 + (i % 1000), dport: 80, flags: i < 1000 ? 'S' : 'A', seq: 1, ack: 1 },
        }),
      );
      const t0 = process.hrtime.bigint();
      for (const f of frames) p.process(f, IF_CLIENT);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const pps = Math.round(n / s);
      t.log(
        `${hook}: ${pps} packets/s through process() (${n} packets: 1000 new flows, 2000 tracked/fast path; each with its counters, trace and clock write)`,
      );
      t.is(p.reasons().get('new_flow'), 1000);
    });
  });
}

test('a load that fails leaves no pin directory and restores the affinity', (t) => {
  const before = getCpuAffinity();
  const progDirs = (): string[] => readdirSync('/sys/fs/bpf/xlb').filter((f) => f.startsWith('prog-'));
  const dirsBefore = progDirs();
  const bogus = path.join(tmpdir(), `xlb-not-bpf-${process.pid}.o`);
  writeFileSync(bogus, 'not an ELF object');
  try {
    const err = t.throws(() => openProgDatapath({ hook: 'tc', objectPath: bogus }));
    t.truthy(err.message);
  } finally {
    rmSync(bogus, { force: true });
  }
  t.deepEqual(progDirs(), dirsBefore);
  t.deepEqual(getCpuAffinity(), before);
});
