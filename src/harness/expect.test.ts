// The expectations themselves: each check passes on what it should accept and fails, with a
// message that says why, on what it should refuse.
import test from 'ava';
import { buildFrame } from '../packet/index.ts';
import type { ClientReport } from '../traffic/types.ts';
import { clientOptions } from '../traffic/types.ts';
import { Expect, stateSequence } from './expect.ts';
import type { LinkCapture } from './world.ts';
import type { DpTraceEvent } from '../datapath/packet-datapath.ts';
import type { CtStateName } from '../schema/maps.ts';

function report(backends: (string | null)[]): ClientReport {
  const byBackend: Record<string, number> = {};
  for (const b of backends) if (b !== null) byBackend[b] = (byBackend[b] ?? 0) + 1;
  return {
    options: clientOptions({ proto: 'tcp', target: '198.18.100.1', count: backends.length }),
    results: backends.map((b, i) => ({
      i,
      sport: 40000 + i,
      backends: [b],
      backend: b,
      latencyMs: 1,
      connectMs: 1,
      totalMs: 1,
      bytesSent: 1,
      bytesReceived: 1,
      error: b === null ? 'timeout after 3000 ms' : null,
    })),
    summary: {
      count: backends.length,
      ok: backends.filter((b) => b !== null).length,
      errors: backends.filter((b) => b === null).length,
      byBackend,
    },
  };
}

test('allConnected fails on a failed connection and names it', (t) => {
  const e = new Expect(['lb'], 1);
  t.true(e.allConnected(report(['b1', 'b2'])));
  t.false(e.allConnected(report(['b1', null])));
  t.regex(e.failed[0]?.message ?? '', /1 of 2 failed.*#1 \(sport 40001\): timeout/);
});

test('round-robin spread: exact on one CPU, within C of n/k on C CPUs', (t) => {
  const one = new Expect(['lb'], 1);
  t.true(one.spread(report(['b1', 'b2', 'b3', 'b1', 'b2', 'b3']), { roundRobin: ['b1', 'b2', 'b3'] }));
  t.false(one.spread(report(['b1', 'b1', 'b3', 'b1', 'b2', 'b3']), { roundRobin: ['b1', 'b2', 'b3'] }));
  const two = new Expect(['lb'], 2);
  t.true(two.spread(report(['b1', 'b1', 'b3', 'b1', 'b2', 'b3']), { roundRobin: ['b1', 'b2', 'b3'] }), '3/1/2 is within 1 of 2 each');
  t.false(two.spread(report(['b1', 'b1', 'b1', 'b1', 'b2', 'b3']), { roundRobin: ['b1', 'b2', 'b3'] }));
  t.false(two.spread(report(['b1', 'b2', 'b4']), { roundRobin: ['b1', 'b2', 'b3'] }), 'a backend outside the set fails');
});

test('uniform and weighted spreads: chi-square with a stated false-failure rate', (t) => {
  const e = new Expect(['lb'], 1);
  const even = Array.from({ length: 300 }, (_, i) => `b${(i % 3) + 1}`);
  t.true(e.spread(report(even), { uniform: ['b1', 'b2', 'b3'] }));
  const skewed = Array.from({ length: 300 }, (_, i) => (i < 200 ? 'b1' : i < 250 ? 'b2' : 'b3'));
  t.false(e.spread(report(skewed), { uniform: ['b1', 'b2', 'b3'] }));
  t.regex(e.failed[0]?.name ?? '', /false-failure rate 0\.0001/);
  t.true(e.spread(report(skewed), { weights: { b1: 4, b2: 1, b3: 1 } }), '200/50/50 fits 4:1:1');
});

const frame = (src: string, dst: string, flags: string): Buffer =>
  buildFrame({ ip: { src, dst }, tcp: { sport: 40000, dport: 7000, flags } });

function links(): LinkCapture[] {
  return [
    { node: 'c1', ifname: 'c1e0', segment: 'clients', packets: [{ timeMs: 1, frame: frame('198.18.1.10', '198.18.100.1', 'S') }] },
    { node: 'lb', ifname: 'lbe1', segment: 'backends', packets: [{ timeMs: 2, frame: frame('198.18.1.10', '198.18.2.11', 'S') }] },
    { node: 'b1', ifname: 'b1e0', segment: 'backends', packets: [{ timeMs: 3, frame: frame('198.18.1.10', '198.18.2.11', 'S') }] },
    { node: 'b2', ifname: 'b2e0', segment: 'backends', packets: [] },
  ];
}

test('packet(): on the named node and nowhere else (transit nodes excepted); a miss shows the nearest packet field by field', (t) => {
  const e = new Expect(['lb'], 1);
  t.true(e.packet(links(), { on: 'b1', pattern: { fields: { 'ip.dst': '198.18.2.11', 'tcp.flags': 'S' } } }));
  t.false(e.packet(links(), { on: 'b2', pattern: { fields: { 'ip.dst': '198.18.2.11' } } }));
  t.false(e.packet(links(), { on: 'b1', pattern: { fields: { 'ip.dst': '198.18.2.12', 'tcp.flags': 'S' } } }));
  t.regex(e.failed[1]?.message ?? '', /nearest on b1\/backends at 3\.0 ms: ip\.dst expected 198\.18\.2\.12, got 198\.18\.2\.11/);
  const stray = links();
  stray[3]?.packets.push({ timeMs: 3, frame: frame('198.18.1.10', '198.18.2.11', 'S') });
  t.false(e.packet(stray, { on: 'b1', pattern: { fields: { 'ip.dst': '198.18.2.11' } } }));
  t.regex(e.failed[2]?.message ?? '', /also reached b2\/backends/);
  t.throws(() => e.packet(links(), { on: 'b1', pattern: { fields: { 'ip.bogus': 1 } } }), { message: /unknown field 'ip.bogus'/ });
});

test("packet(): a whole expected frame with named don't-care fields (PTF mask style)", (t) => {
  const e = new Expect(['lb'], 1);
  const want = { ip: { src: '198.18.1.10', dst: '198.18.2.11', id: 999, ttl: 1 }, tcp: { sport: 40000, dport: 7000, flags: 'S' } };
  t.true(
    e.packet(links(), {
      on: 'b1',
      pattern: {
        frame: want,
        dontCare: ['ip.id', 'ip.ttl', 'eth.src', 'eth.dst', 'tcp.seq', 'tcp.window', 'tcp.options', 'payload', 'payload.length'],
      },
    }),
  );
  t.false(e.packet(links(), { on: 'b1', pattern: { frame: want, dontCare: ['ip.id'] } }), 'the TTL is compared unless named');
});

test('noPacket(): passes only with its sanity half matching somewhere', (t) => {
  const e = new Expect(['lb'], 1);
  t.true(e.noPacket(links(), { on: ['b1', 'b2'], pattern: { fields: { 'ip.dst': '198.18.100.1' } }, sanity: { on: 'c1' } }));
  t.false(e.noPacket(links(), { on: ['b1'], pattern: { fields: { 'ip.dst': '198.18.100.9' } }, sanity: { on: 'c1' } }));
  t.regex(e.failed[0]?.message ?? '', /vacuous/);
  t.false(e.noPacket(links(), { on: ['b1'], pattern: { fields: { 'ip.dst': '198.18.2.11' } }, sanity: { on: 'b1' } }));
});

test('stateSequence(): the states a flow went through, repeats collapsed', (t) => {
  const ev = (ctBefore: CtStateName, ctAfter: CtStateName): DpTraceEvent => ({
    timeNs: 0n,
    tuple: { family: 4, proto: 'tcp', src: 'a', dst: 'b', sport: 1, dport: 2 },
    serviceId: 1,
    ifindex: 1,
    reason: 'tracked',
    endpointSlot: 0,
    verdict: 'pass',
    ctBefore,
    ctAfter,
    length: 60,
  });
  t.deepEqual(
    stateSequence([
      ev('NONE', 'SYN_SENT'),
      ev('SYN_SENT', 'SYN_SENT'),
      ev('SYN_SENT', 'SYN_RECV'),
      ev('SYN_RECV', 'ESTABLISHED'),
      ev('ESTABLISHED', 'ESTABLISHED'),
    ]),
    ['SYN_SENT', 'SYN_RECV', 'ESTABLISHED'],
  );
});
