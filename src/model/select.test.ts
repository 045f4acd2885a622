// Endpoint selection in the model: each algorithm, the probe past unusable slots, persistence
// on the virtual clock, least-connection counts, the policer, and the tuple hash against values
// computed by hand from the spec's definition.
import test from 'ava';
import { buildFrame } from '../packet/index.ts';
import { openModelDatapath } from './index.ts';
import { flowHash } from './select.ts';
import { program } from './case-service.ts';
import { zeroKey } from './types.ts';
import type { CaseService } from './case-service.ts';

const VIP = '198.18.100.1';
const BACKENDS = ['198.18.1.1', '198.18.1.2', '198.18.1.3', '198.18.1.4'];

function syn(client: string, sport: number, dport = 80): Buffer {
  return buildFrame({ ip: { src: client, dst: VIP }, tcp: { sport, dport, flags: 'S' } });
}

/** The endpoint address each SYN went to. */
function picks(s: Partial<CaseService>, frames: Buffer[], prepare?: (m: ReturnType<typeof openModelDatapath>) => void): string[] {
  const m = openModelDatapath({ hook: 'xdp', maglevSize: 251 });
  program(m.control, { id: 1, vip: VIP, port: 80, endpoints: BACKENDS.map((ip) => ({ ip, port: 80 })), ...s });
  prepare?.(m);
  return frames.map((f) => {
    const r = m.packets.process(f, 1);
    return r.reason === 'new_flow' ? `${r.frame[30]}.${r.frame[31]}.${r.frame[32]}.${r.frame[33]}` : r.reason;
  });
}

test('flowHash follows the definition (murmur3 mixing of the ten key words)', (t) => {
  // by hand: the zero key -> every word 0; x = 0, h = rotl(h,13)*5 + 0xe6546b64, ten times, then fmix
  let h = 0x9747b28c;
  for (let i = 0; i < 10; i++) h = (Math.imul(((h << 13) | (h >>> 19)) >>> 0, 5) + 0xe6546b64) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  t.is(flowHash(zeroKey()), h);
  const k = { ...zeroKey(), sport: 1 };
  t.not(flowHash(k), h);
});

test('rr cycles through the active slots and skips inactive ones', (t) => {
  const eps = BACKENDS.map((ip, i) => ({ ip, port: 80, active: i !== 1 }));
  const got = picks(
    { endpoints: eps },
    Array.from({ length: 6 }, (_, i) => syn('198.18.0.10', 1000 + i)),
  );
  t.deepEqual(got, ['198.18.1.1', '198.18.1.3', '198.18.1.4', '198.18.1.1', '198.18.1.3', '198.18.1.4']);
});

test('wrr follows the smooth weighted schedule', (t) => {
  const eps = [
    { ip: BACKENDS[0] ?? '', port: 80, weight: 3 },
    { ip: BACKENDS[1] ?? '', port: 80, weight: 1 },
  ];
  const got = picks(
    { algorithm: 'wrr', endpoints: eps },
    Array.from({ length: 8 }, (_, i) => syn('198.18.0.10', 1000 + i)),
  );
  t.is(got.filter((g) => g === BACKENDS[0]).length, 6);
  t.is(got.filter((g) => g === BACKENDS[1]).length, 2);
});

test('hash and maglev: a tuple always lands on the same endpoint; the spread covers all', (t) => {
  for (const algorithm of ['hash', 'maglev'] as const) {
    const frames = Array.from({ length: 400 }, (_, i) => syn(`198.18.${(i >> 8) & 255}.${i & 255}`, 2000 + i));
    const a = picks({ algorithm }, frames);
    const b = picks({ algorithm }, frames);
    t.deepEqual(a, b, algorithm);
    for (const ip of BACKENDS) t.true(a.filter((x) => x === ip).length > 50, `${algorithm} ${ip}`);
  }
});

test('maglev: removing one endpoint moves only its flows', (t) => {
  const frames = Array.from({ length: 400 }, (_, i) => syn(`198.18.2.${i & 255}`, 3000 + i));
  const before = picks({ algorithm: 'maglev' }, frames);
  const after = picks({ algorithm: 'maglev', endpoints: BACKENDS.map((ip, i) => ({ ip, port: 80, active: i !== 2 })) }, frames);
  const moved = before.filter((b, i) => b !== BACKENDS[2] && b !== after[i]).length;
  t.true(moved <= 12, `${moved} flows of the remaining endpoints moved`);
});

test('lc picks the slot with the fewest counted connections; a close releases the count', (t) => {
  const m = openModelDatapath({ hook: 'tc' });
  program(m.control, { id: 1, vip: VIP, port: 80, algorithm: 'lc', endpoints: BACKENDS.slice(0, 2).map((ip) => ({ ip, port: 80 })) });
  m.packets.process(syn('198.18.0.10', 1), 1);
  m.packets.process(syn('198.18.0.10', 2), 1);
  t.deepEqual([m.packets.endpointConnections(1, 0), m.packets.endpointConnections(1, 1)], [1, 1]);
  const rst = m.packets.process(buildFrame({ ip: { src: '198.18.0.10', dst: VIP }, tcp: { sport: 1, dport: 80, flags: 'R', seq: 1 } }), 1);
  t.is(rst.reason, 'tracked');
  t.deepEqual([m.packets.endpointConnections(1, 0), m.packets.endpointConnections(1, 1)], [0, 1]);
  const r = m.packets.process(syn('198.18.0.10', 3), 1);
  t.is(m.packets.conntrack().find((e) => !e.reply && e.key.sport === 3)?.endpointSlot, 0, r.reason);
});

test('random: seeded, every endpoint gets a share', (t) => {
  const frames = Array.from({ length: 400 }, (_, i) => syn('198.18.0.10', 4000 + i));
  const a = picks({ algorithm: 'random' }, frames);
  for (const ip of BACKENDS) t.true(a.filter((x) => x === ip).length > 60, ip);
  t.deepEqual(a, picks({ algorithm: 'random' }, frames), 'same seed, same picks');
});

test('persistence holds the endpoint within the timeout, the algorithm chooses after it', (t) => {
  const m = openModelDatapath({ hook: 'tc' });
  program(m.control, { id: 1, vip: VIP, port: 80, persistenceTimeoutS: 10, endpoints: BACKENDS.map((ip) => ({ ip, port: 80 })) });
  const slot = (sport: number): number | undefined => {
    m.packets.process(syn('198.18.0.10', sport), 1);
    return m.packets.conntrack().find((e) => !e.reply && e.key.sport === sport)?.endpointSlot;
  };
  t.is(slot(1), 0);
  m.packets.advance(9_000);
  t.is(slot(2), 0, 'within 10 s: same endpoint (rr would give slot 1)');
  m.packets.advance(10_001);
  t.is(slot(3), 1, 'expired: rr chooses');
  t.is(slot(4), 1, 'and the new choice is held');
});

test('policer: burst + 1 packets at once, then one per interval', (t) => {
  const m = openModelDatapath({ hook: 'xdp' });
  program(m.control, { id: 1, vip: VIP, port: 80, policer: { ratePps: 10, burst: 2 }, endpoints: [{ ip: BACKENDS[0] ?? '', port: 80 }] });
  const reasons = Array.from({ length: 5 }, (_, i) => m.packets.process(syn('198.18.0.10', 100 + i), 1).reason);
  t.deepEqual(reasons, ['new_flow', 'new_flow', 'new_flow', 'drop_policed', 'drop_policed']);
  m.packets.advance(100);
  t.is(m.packets.process(syn('198.18.0.10', 200), 1).reason, 'new_flow');
  t.is(m.packets.process(syn('198.18.0.10', 201), 1).reason, 'drop_policed');
  t.is(m.control.counters().drops.get('drop_policed'), 3);
});

test('no usable endpoint: drop_no_endpoint, counted as a service drop', (t) => {
  const got = picks(
    {
      endpoints: [
        { ip: 'fd00::1', port: 80 },
        { ip: BACKENDS[0] ?? '', port: 80, active: false },
      ],
    },
    [syn('198.18.0.10', 1)],
  );
  t.deepEqual(got, ['drop_no_endpoint']);
});

test("hash and random: an inactive slot's share is spread over the usable slots (rehash), not handed to the next slot", (t) => {
  // issue 11 item 13: with a linear probe, slot 2 took slot 1's whole share (about half of all
  // flows with 4 slots); rehashing gives each of the three usable slots about a third
  const eps = BACKENDS.map((ip, i) => ({ ip, port: 80, active: i !== 1 }));
  const frames = Array.from({ length: 1200 }, (_, i) => syn(`198.18.${(i >> 8) & 255}.${i & 255}`, 3000 + i));
  for (const algorithm of ['hash', 'random'] as const) {
    const got = picks({ algorithm, endpoints: eps }, frames);
    t.is(got.filter((g) => g === BACKENDS[1]).length, 0, `${algorithm}: the inactive endpoint gets nothing`);
    for (const b of [BACKENDS[0], BACKENDS[2], BACKENDS[3]]) {
      const share = got.filter((g) => g === b).length / frames.length;
      t.true(share > 0.27 && share < 0.4, `${algorithm}: ${b} gets ${(share * 100).toFixed(1)} % (a third expected)`);
    }
  }
});
