// Conntrack rules in the model: RST sanity, refused SYN, mid-stream policies, timeouts on the
// virtual clock, the lost entry rebuilt, LRU eviction, the controller's flow view.
import test from 'ava';
import { buildFrame } from '../packet/index.ts';
import { openModelDatapath } from './index.ts';
import { program } from './case-service.ts';

const CLIENT = '198.18.0.10';
const VIP = '198.18.100.1';
const B = '198.18.1.11';

const c2s = (sport: number, flags: string, seq = 0, ack = 0): Buffer =>
  buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport, dport: 80, flags, seq, ack } });
const s2c = (dport: number, flags: string, seq = 0, ack = 0): Buffer =>
  buildFrame({ ip: { src: B, dst: CLIENT }, tcp: { sport: 80, dport, flags, seq, ack } });

function open(opts: Parameters<typeof openModelDatapath>[0] = { hook: 'tc' }): ReturnType<typeof openModelDatapath> {
  const m = openModelDatapath(opts);
  program(m.control, { id: 1, vip: VIP, port: 80, endpoints: [{ ip: B, port: 80 }] });
  return m;
}

function established(m: ReturnType<typeof openModelDatapath>, sport: number): void {
  m.packets.process(c2s(sport, 'S', 1000), 1);
  m.packets.process(s2c(sport, 'SA', 5000, 1001), 1);
  m.packets.process(c2s(sport, 'A', 1001, 5001), 1);
}

const state = (m: ReturnType<typeof openModelDatapath>, sport: number): string[] =>
  m.packets
    .conntrack()
    .filter((e) => e.key.sport === sport || e.key.dport === sport)
    .map((e) => e.state);

test('RST: out of the window dropped and nothing changes; in the window closes both entries', (t) => {
  const m = open();
  established(m, 1);
  const far = m.packets.process(c2s(1, 'R', 1001 + 131073), 1);
  t.is(far.reason, 'drop_rst_invalid');
  t.is(far.verdict, 'drop');
  t.deepEqual(state(m, 1), ['ESTABLISHED', 'ESTABLISHED']);
  t.is(m.packets.process(c2s(1, 'R', 1001 + 131072), 1).reason, 'tracked');
  t.deepEqual(state(m, 1), ['CLOSED', 'CLOSED']);
});

test('refused SYN: the backend RST-ACK acknowledging the SYN is accepted, another ack is not', (t) => {
  const m = open();
  m.packets.process(c2s(2, 'S', 7000), 1);
  t.is(m.packets.process(s2c(2, 'RA', 0, 1234), 1).reason, 'drop_rst_invalid');
  t.is(m.packets.process(s2c(2, 'RA', 0, 7001), 1).reason, 'tracked');
  t.deepEqual(state(m, 2), ['CLOSED', 'CLOSED']);
  // a SYN on the CLOSED tuple restarts the flow on its endpoint
  t.is(m.packets.process(c2s(2, 'S', 9000), 1).reason, 'tracked');
  t.deepEqual(state(m, 2), ['SYN_SENT', 'SYN_SENT']);
});

test('mid-stream: select creates an ESTABLISHED flow, drop policy drops; an unknown RST is always dropped', (t) => {
  const m = open();
  const r = m.packets.process(c2s(3, 'A', 5, 5), 1);
  t.is(r.reason, 'midstream_new');
  t.deepEqual(state(m, 3), ['ESTABLISHED', 'ESTABLISHED']);
  t.true(m.packets.conntrack().every((e) => e.flags.includes('midstream')));
  t.is(m.packets.process(c2s(4, 'R', 5), 1).reason, 'drop_midstream');
  m.packets.configure({ unknownTcp: 'drop' });
  t.is(m.packets.process(c2s(5, 'A', 5, 5), 1).reason, 'drop_midstream');
  t.is(m.packets.process(s2c(6, 'A', 5, 5), 1).reason, 'pass_no_service', "a backend's packet of no flow is not a VIP packet");
});

test('timeouts on the virtual clock: an expired flow is absent, its reply passes untouched', (t) => {
  const m = open();
  m.packets.process(c2s(7, 'S', 1), 1);
  m.packets.advance(60_000);
  t.is(m.packets.process(c2s(7, 'S', 1), 1).reason, 'tracked', 'exactly 60 s: still alive');
  m.packets.advance(60_001);
  const reply = s2c(7, 'SA', 1, 2);
  const r = m.packets.process(reply, 1);
  t.is(r.reason, 'pass_no_service');
  t.deepEqual(r.frame, reply);
  t.is(m.control.listFlows().length, 0);
  m.packets.configure({ timeoutsS: { SYN_SENT: 1000 } });
  t.is(m.control.listFlows().length, 1, 'timeouts are read when used');
});

test('a lost reply entry is rebuilt by the next slow-path packet; the fast path does not rebuild', (t) => {
  const m = open();
  established(m, 8);
  t.true(m.packets.deleteConntrack({ family: 4, proto: 'tcp', src: B, dst: CLIENT, sport: 80, dport: 8 }));
  t.false(m.packets.deleteConntrack({ family: 4, proto: 'tcp', src: B, dst: CLIENT, sport: 80, dport: 8 }));
  t.is(m.packets.process(c2s(8, 'PA', 1001, 5001), 1).reason, 'fast_path');
  t.is(m.packets.conntrack().length, 1);
  t.is(m.packets.process(c2s(8, 'FA', 1001, 5001), 1).reason, 'tracked');
  const rev = m.packets.conntrack().find((e) => e.reply);
  t.is(rev?.state, 'FIN_WAIT');
  t.deepEqual(rev?.flags, ['reply', 'finClient']);
  t.is(m.packets.process(s2c(8, 'FA', 5001, 1002), 1).reason, 'tracked');
});

test('LRU: a full table evicts the least recently used entry', (t) => {
  const m = open({ hook: 'tc', ctEntries: 4 });
  m.packets.process(c2s(10, 'S', 1), 1); // entries: fwd10, rev10
  m.packets.process(c2s(11, 'S', 1), 1); // fwd11, rev11: full
  m.packets.process(c2s(10, 'S', 1), 1); // touches fwd10 (and its peer)
  m.packets.process(c2s(12, 'S', 1), 1); // evicts rev11, then fwd11
  const keys = m.packets
    .conntrack()
    .map((e) => `${e.reply ? 'rev' : 'fwd'}${e.reply ? e.key.dport : e.key.sport}`)
    .sort();
  t.deepEqual(keys, ['fwd10', 'fwd12', 'rev10', 'rev12']);
});

test('listFlows merges both entries; deleteFlows removes both', (t) => {
  const m = open();
  established(m, 20);
  m.packets.advance(1500);
  m.packets.process(s2c(20, 'PA', 5001, 1001), 1);
  const [flow] = m.control.listFlows();
  t.like(flow, {
    serviceId: 1,
    protocol: 'tcp',
    client: { ip: CLIENT, port: 20 },
    vip: { ip: VIP, port: 80 },
    endpoint: { ip: B, port: 80 },
    state: 'ESTABLISHED',
    packets: 4,
    ageMs: 1500,
    idleMs: 0,
  });
  t.is(m.control.deleteFlows(1, { ip: B, port: 80 }), 1);
  t.is(m.packets.conntrack().length, 0);
});
