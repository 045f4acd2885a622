// The loader: pinned maps survive a reload (an agent restart keeps every flow), option checks
// say what to do, a reload with another Maglev size is refused.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { buildFrame } from '../packet/index.ts';
import { CFG_F } from '../schema/maps.ts';
import { EMPTY_FIB_TABLE } from './test-support.ts';
import { loadDatapath } from './loader.ts';
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
      const key = ctKey.encode({ saddr: Buffer.from([198, 18, 0, 10, ...Array<number>(12).fill(0)]), daddr: Buffer.from([198, 18, 100, 1, ...Array<number>(12).fill(0)]), sport: 5, dport: 80, proto: 6, family: 4 });
      t.is(lookupFlow(b, ctKey.decode(key))?.state, 3);
      t.is(b.readConfig().fib_table, EMPTY_FIB_TABLE);
      const before = readReasons(b).FAST_PATH.packets;
      b.main.testRun({ data: pkt('PA') });
      t.is(readReasons(b).FAST_PATH.packets, before + 1n);
    } finally {
      b.close();
    }
    t.throws(() => loadDatapath({ hook: 'xdp', pinDir, ctEntries: 1024, maxServices: 8, maglevSize: 65537 }), { message: /Maglev size 4099/ });
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
  }
});

test('option errors say what to do', (t) => {
  t.throws(() => loadDatapath({ hook: 'tc', pinDir: '/sys/fs/bpf/xlb/test-never', maglevSize: 4096 }), { message: /must be a prime/ });
  t.throws(() => loadDatapath({ hook: 'tc', pinDir: '/sys/fs/bpf/xlb/test-never', maxServices: 0 }), { message: /maxServices/ });
  t.false(existsSync('/sys/fs/bpf/xlb/test-never'));
});
