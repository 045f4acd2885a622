// The loader: pinned maps survive a reload (an agent restart keeps every flow), option checks
// say what to do, a reload with another Maglev size is refused, pinned sizes are adopted, and a
// program left attached after every user-space fd closed still tail-calls its slow path.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { execa } from 'execa';
import path from 'node:path';
import { BpfMap, ifindex, inNetns, numPossibleCpus } from '../bpf/index.ts';
import { buildFrame } from '../packet/index.ts';
import { CFG_F, counters as counterCodec, REASON, u32Key } from '../schema/maps.ts';
import { EMPTY_FIB_TABLE } from './prog-run.ts';
import { loadDatapath } from './loader.ts';
import { ROOT } from '../root.ts';
import { withVethNamespace } from './scratch-netns.ts';
import { lookupFlow, putService, readReasons, writeEndpoints } from './maps.ts';
import { ctKey } from '../schema/maps.ts';

const VIP = '198.18.100.1';

test('a reload from the same pin directory keeps flows, services and config; the fast path continues', (t) => {
  const pinDir = `/sys/fs/bpf/xlb/test-${randomBytes(4).toString('hex')}`;
  try {
    const cfg = { flags: CFG_F.fibTable, fib_table: EMPTY_FIB_TABLE };
    const a = loadDatapath({ hook: 'xdp', pinDir, ctEntries: 1024, maxServices: 8, config: cfg });
    writeEndpoints(a, 1, 0, [{ ip: '198.18.1.11', port: 80 }]);
    putService(a, { id: 1, vip: VIP, port: 80, proto: 'tcp', mode: 'dnat', algo: 'rr', epCount: 1, gen: 0 });
    const pkt = (flags: string): Buffer => buildFrame({ ip: { src: '198.18.0.10', dst: VIP }, tcp: { sport: 5, dport: 80, flags } });
    a.main.testRun({ data: pkt('S') });
    a.main.testRun({ data: buildFrame({ ip: { src: '198.18.1.11', dst: '198.18.0.10' }, tcp: { sport: 80, dport: 5, flags: 'SA' } }) });
    a.main.testRun({ data: pkt('A') });
    a.close();
    t.true(existsSync(`${pinDir}/xlb_ct`));

    const b = loadDatapath({ hook: 'xdp', pinDir, ctEntries: 1024, maxServices: 8 });
    try {
      const key = ctKey.encode({
        saddr: Buffer.from([198, 18, 0, 10, ...Array<number>(12).fill(0)]),
        daddr: Buffer.from([198, 18, 100, 1, ...Array<number>(12).fill(0)]),
        sport: 5,
        dport: 80,
        proto: 6,
        family: 4,
      });
      t.is(lookupFlow(b, ctKey.decode(key))?.state, 3);
      t.is(b.readConfig().fib_table, EMPTY_FIB_TABLE);
      const before = readReasons(b).fast_path.packets;
      b.main.testRun({ data: pkt('PA') });
      t.is(readReasons(b).fast_path.packets, before + 1n);
    } finally {
      b.close();
    }
    t.throws(() => loadDatapath({ hook: 'xdp', pinDir, ctEntries: 1024, maxServices: 8, maglevSize: 65537 }), {
      message: /Maglev size 4099/,
    });
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
  }
});

test('option errors say what to do', (t) => {
  t.throws(() => loadDatapath({ hook: 'tc', pinDir: '/sys/fs/bpf/xlb/test-never', maglevSize: 4096 }), { message: /must be a prime/ });
  t.throws(() => loadDatapath({ hook: 'tc', pinDir: '/sys/fs/bpf/xlb/test-never', maxServices: 0 }), { message: /maxServices/ });
  t.false(existsSync('/sys/fs/bpf/xlb/test-never'));
});

test('a reload adopts the pinned map sizes and Maglev size', (t) => {
  const pinDir = `/sys/fs/bpf/xlb/test-${randomBytes(4).toString('hex')}`;
  try {
    const a = loadDatapath({ hook: 'tc', pinDir, ctEntries: 1024, maxServices: 8, maglevSize: 251 });
    t.false(a.reusedPins);
    t.is(a.maps.services.maxEntries, 8);
    a.close({ detached: true });
    const b = loadDatapath({ hook: 'tc', pinDir, ctEntries: 4096, maxServices: 32 });
    try {
      t.true(b.reusedPins);
      t.is(b.maglevSize, 251);
      t.is(b.maxServices, 8);
      t.is(b.maps.ct.maxEntries, 1024);
      t.is(b.maps.sched.maxEntries, 8 * 2 * 4); // ceil(251 / 64) entries of 64 positions per table
    } finally {
      b.close({ detached: true });
    }
    t.deepEqual(
      readdirSync(pinDir).filter((f) => f.startsWith('xlb_progs_')),
      [],
      'detached loads leave no tail-call-table pin',
    );
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
  }
});

// An older release's pins: xlb_reasons with one slot fewer (before pass_fragment_no_record) and
// xlb_fwd as today. libbpf refuses a pin of another size; the loader carries the old counters
// into the new map (every CPU's value, slot for slot), which takes the pin. A larger pin (a
// newer release's) is refused with what to do, and leaves the pins as they were.
test('a pinned counter map of an older, smaller schema is carried into the new size; a larger one is refused', (t) => {
  const pinDir = `/sys/fs/bpf/xlb/test-${randomBytes(4).toString('hex')}`;
  const cpus = numPossibleCpus();
  const counters = (packets: number): Buffer => {
    const b = Buffer.alloc(counterCodec.size);
    b.writeBigUInt64LE(BigInt(packets), 0);
    b.writeBigUInt64LE(BigInt(packets * 100), 8);
    return b;
  };
  const pinOld = (slots: number): void => {
    const m = BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: counterCodec.size, maxEntries: slots, name: 'xlb_reasons' });
    try {
      for (let i = 0; i < slots; i++)
        m.updatePerCpu(
          u32Key(i),
          Array.from({ length: cpus }, (_, cpu) => counters(1000 * i + cpu + 1)),
        );
      m.pin(`${pinDir}/xlb_reasons`);
    } finally {
      m.close();
    }
  };
  try {
    mkdirSync(pinDir, { recursive: true });
    pinOld(REASON.length - 1);
    // a load that fails (an object the verifier refuses) puts the old pin back, values and all
    t.throws(() =>
      loadDatapath({
        hook: 'tc',
        pinDir,
        ctEntries: 1024,
        maxServices: 8,
        objectPath: path.join(ROOT, 'build', 'bpf', 'test', 'binding_reject.bpf.o'),
      }),
    );
    const back = BpfMap.openPinned(`${pinDir}/xlb_reasons`);
    t.is(back.maxEntries, REASON.length - 1, 'the old pin is back after the failed load');
    t.is(back.lookupPerCpu(u32Key(3))?.[0]?.readBigUInt64LE(0), 3001n);
    back.close();
    const dp = loadDatapath({ hook: 'tc', pinDir, ctEntries: 1024, maxServices: 8 });
    try {
      t.is(dp.maps.reasons.maxEntries, REASON.length);
      for (let i = 0; i < REASON.length - 1; i++) {
        const v = dp.maps.reasons.lookupPerCpu(u32Key(i));
        t.deepEqual(
          v?.map((b) => b.readBigUInt64LE(0)),
          Array.from({ length: cpus }, (_, cpu) => BigInt(1000 * i + cpu + 1)),
          `${REASON[i]}: every CPU's packets carried`,
        );
        t.is(v?.[0]?.readBigUInt64LE(8), BigInt((1000 * i + 1) * 100), `${REASON[i]}: bytes carried`);
      }
      t.is(readReasons(dp).pass_fragment_no_record.packets, 0n, 'the new slot starts at 0');
    } finally {
      dp.close({ detached: true });
    }
    t.deepEqual(
      readdirSync(pinDir).filter((f) => f.startsWith('xlb_reasons')),
      ['xlb_reasons'],
      'one pin, the new map',
    );
    // a reload at the same size reuses the carried map as it is
    const again = loadDatapath({ hook: 'tc', pinDir, ctEntries: 1024, maxServices: 8 });
    t.is(
      readReasons(again).fast_path.packets,
      BigInt(Array.from({ length: cpus }, (_, cpu) => 1000 * REASON.indexOf('fast_path') + cpu + 1).reduce((a, b) => a + b, 0)),
    );
    again.close({ detached: true });
    rmSync(`${pinDir}/xlb_reasons`);
    pinOld(REASON.length + 1);
    const e = t.throws(() => loadDatapath({ hook: 'tc', pinDir, ctEntries: 1024, maxServices: 8 }));
    t.regex(
      e?.message ?? '',
      /has \d+ slots, this release's xlb_reasons has \d+: the pins were left by a newer xlb\. Run that release, or remove .*xlb_reasons/,
    );
    t.true(existsSync(`${pinDir}/xlb_reasons`), 'the newer pin is left in place');
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
  }
});

// The kernel empties a PROG_ARRAY when its last user-space reference goes; the loader pins it.
test.serial(
  'tc: after the loader closed every fd, the attached program still runs its slow path (new flow, not pass_tailcall)',
  async (t) => {
    const pinDir = `/sys/fs/bpf/xlb/test-${randomBytes(4).toString('hex')}`;
    const lbMac = '02:00:00:00:00:aa';
    try {
      await withVethNamespace('ldr', lbMac, async (ns, ip) => {
        // the client side: xlb1 sends to the VIP straight to xlb0, whose TC ingress runs the LB
        await ip('addr', 'add', '198.18.0.10/24', 'dev', 'xlb1');
        await ip('route', 'add', `${VIP}/32`, 'dev', 'xlb1');
        await ip('neigh', 'replace', VIP, 'lladdr', lbMac, 'dev', 'xlb1', 'nud', 'permanent');
        const a = loadDatapath({
          hook: 'tc',
          pinDir,
          ctEntries: 1024,
          maxServices: 8,
          config: { flags: CFG_F.fibTable, fib_table: EMPTY_FIB_TABLE },
        });
        writeEndpoints(a, 1, 0, [{ ip: '198.18.1.11', port: 80 }]);
        putService(a, { id: 1, vip: VIP, port: 80, proto: 'udp', mode: 'dnat', algo: 'rr', epCount: 1, gen: 0 });
        inNetns(ns, () => a.attach(ifindex('xlb0')));
        a.close();
        t.true(existsSync(a.progsPin), 'the tail-call table stays pinned while the program may be attached');
        // The kernel clears an unreferenced prog array from a work queue: give it time to.
        await new Promise((r) => setTimeout(r, 300));
        for (let i = 0; i < 3; i++) {
          // bash's /dev/udp: one datagram from xlb1 to the VIP, into xlb0's TC ingress
          await execa('ip', ['netns', 'exec', ns, 'bash', '-c', `echo x > /dev/udp/${VIP}/80`]);
        }
        const b = loadDatapath({ hook: 'tc', pinDir });
        try {
          const r = readReasons(b);
          t.is(r.pass_tailcall.packets, 0n);
          // each send is a new source port: three new flows, each selected by the slow path
          t.is(r.new_flow.packets, 3n);
        } finally {
          b.close({ detached: true });
        }
      });
    } finally {
      rmSync(pinDir, { recursive: true, force: true });
    }
  },
);
