// The model's translations with exact expected bytes built independently by the packet toolkit
// (so every checksum in the expectation is a recomputed one): DNAT handshake and data, full NAT,
// UDP with a zero checksum, IPv6, VLAN tags, non-VIP traffic untouched. Both hooks.
import test from 'ava';
import { buildFrame } from '../packet/index.ts';
import type { FrameSpec } from '../packet/index.ts';
import type { ReasonName } from '../schema/maps.ts';
import { openModelDatapath } from './index.ts';
import { program } from './case-service.ts';

const CLIENT = '198.18.0.10';
const VIP = '198.18.100.1';
const BACKEND = '198.18.1.11';
const SNAT = '198.18.0.1';
const CLIENT6 = 'fd00::10';
const VIP6 = 'fd00::100:1';
const BACKEND6 = 'fd00::1:11';
const SNAT6 = 'fd00::1';

for (const hook of ['tc', 'xdp'] as const) {
  test(`${hook}: DNAT handshake, data and close: bytes, reasons, states of both entries`, (t) => {
    const m = openModelDatapath({ hook });
    program(m.control, { id: 1, vip: VIP, port: 80, endpoints: [{ ip: BACKEND, port: 8080 }] });
    const c2s = (dst: string, dport: number, tcp: Partial<NonNullable<FrameSpec['tcp']>>, payload?: string): Buffer =>
      buildFrame({ ip: { src: CLIENT, dst, id: 7 }, tcp: { sport: 40000, dport, ...tcp }, payload });
    const s2c = (src: string, sport: number, tcp: Partial<NonNullable<FrameSpec['tcp']>>, payload?: string): Buffer =>
      buildFrame({ ip: { src, dst: CLIENT, id: 9 }, tcp: { sport, dport: 40000, ...tcp }, payload });
    const states = (): string[] =>
      m.packets
        .conntrack()
        .map((e) => `${e.reply ? 'rev' : 'fwd'} ${e.state}`)
        .sort();
    const steps: Array<[Buffer, Buffer, ReasonName, string]> = [
      [c2s(VIP, 80, { seq: 1000, flags: 'S' }), c2s(BACKEND, 8080, { seq: 1000, flags: 'S' }), 'new_flow', 'SYN_SENT'],
      [
        s2c(BACKEND, 8080, { seq: 5000, ack: 1001, flags: 'SA' }),
        s2c(VIP, 80, { seq: 5000, ack: 1001, flags: 'SA' }),
        'tracked',
        'SYN_RECV',
      ],
      [
        c2s(VIP, 80, { seq: 1001, ack: 5001, flags: 'A' }),
        c2s(BACKEND, 8080, { seq: 1001, ack: 5001, flags: 'A' }),
        'tracked',
        'ESTABLISHED',
      ],
      [
        c2s(VIP, 80, { seq: 1001, ack: 5001, flags: 'PA' }, 'hello'),
        c2s(BACKEND, 8080, { seq: 1001, ack: 5001, flags: 'PA' }, 'hello'),
        'fast_path',
        'ESTABLISHED',
      ],
      [
        s2c(BACKEND, 8080, { seq: 5001, ack: 1006, flags: 'PA' }, 'ok'),
        s2c(VIP, 80, { seq: 5001, ack: 1006, flags: 'PA' }, 'ok'),
        'fast_path',
        'ESTABLISHED',
      ],
      [
        c2s(VIP, 80, { seq: 1006, ack: 5003, flags: 'FA' }),
        c2s(BACKEND, 8080, { seq: 1006, ack: 5003, flags: 'FA' }),
        'tracked',
        'FIN_WAIT',
      ],
      [
        s2c(BACKEND, 8080, { seq: 5003, ack: 1007, flags: 'FA' }),
        s2c(VIP, 80, { seq: 5003, ack: 1007, flags: 'FA' }),
        'tracked',
        'CLOSE_WAIT',
      ],
      [
        c2s(VIP, 80, { seq: 1007, ack: 5004, flags: 'A' }),
        c2s(BACKEND, 8080, { seq: 1007, ack: 5004, flags: 'A' }),
        'tracked',
        'TIME_WAIT',
      ],
    ];
    for (const [input, want, reason, state] of steps) {
      const r = m.packets.process(input, 1);
      t.is(r.verdict, 'pass');
      t.is(r.reason, reason);
      t.is(r.fwd, 'pass_fib');
      t.deepEqual(r.frame, want, reason);
      t.deepEqual(states(), [`fwd ${state}`, `rev ${state}`]);
    }
    const fwd = m.packets.conntrack().find((e) => !e.reply);
    t.deepEqual(fwd?.xlate, { saddr: false, daddr: true, sport: false, dport: true });
    t.is(fwd?.packets, 5);
    const c = m.control.counters();
    t.is(c.verdicts.get('fast_path'), 2);
    t.is(c.verdicts.get('fwd_pass_fib'), 8);
    t.is(c.services.get(1)?.packets, 8);
  });

  test(`${hook}: full NAT: SNAT address and a port from the range, reply restored`, (t) => {
    const m = openModelDatapath({ hook, settings: { snatV4: SNAT } });
    program(m.control, { id: 2, vip: VIP, port: 80, mode: 'fullnat', endpoints: [{ ip: BACKEND, port: 80 }] });
    const r = m.packets.process(buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 40000, dport: 80, seq: 1, flags: 'S' } }), 1);
    const fwd = m.packets.conntrack().find((e) => !e.reply);
    const port = fwd?.nat.sport ?? 0;
    t.true(port >= 32768 && port <= 60999, `port ${port}`);
    t.deepEqual(r.frame, buildFrame({ ip: { src: SNAT, dst: BACKEND }, tcp: { sport: port, dport: 80, seq: 1, flags: 'S' } }));
    const back = m.packets.process(
      buildFrame({ ip: { src: BACKEND, dst: SNAT }, tcp: { sport: 80, dport: port, seq: 9, ack: 2, flags: 'SA' } }),
      1,
    );
    t.is(back.reason, 'tracked');
    t.deepEqual(back.frame, buildFrame({ ip: { src: VIP, dst: CLIENT }, tcp: { sport: 80, dport: 40000, seq: 9, ack: 2, flags: 'SA' } }));
    // a second client with the same port gets its own reply tuple
    const r2 = m.packets.process(
      buildFrame({ ip: { src: '198.18.0.11', dst: VIP }, tcp: { sport: 40000, dport: 80, seq: 1, flags: 'S' } }),
      1,
    );
    t.is(r2.reason, 'new_flow');
    t.is(m.packets.conntrack().length, 4);
  });

  test(`${hook}: full NAT without a source address is refused by the control plane`, (t) => {
    const m = openModelDatapath({ hook });
    t.truthy(m.control.refusal({ key: { vip: VIP, port: 80, protocol: 'tcp' }, mode: 'fullnat', portEnd: 0 }));
    t.throws(() => program(m.control, { id: 2, vip: VIP, port: 80, mode: 'fullnat', endpoints: [{ ip: BACKEND, port: 80 }] }), {
      name: 'DatapathRefusal',
    });
  });

  test(`${hook}: UDP: zero checksum stays zero, a real one is updated; UDP states`, (t) => {
    const m = openModelDatapath({ hook });
    program(m.control, { id: 3, vip: VIP, port: 53, protocol: 'udp', endpoints: [{ ip: BACKEND, port: 5353 }] });
    const q = (sum?: 'zero'): Buffer =>
      buildFrame({ ip: { src: CLIENT, dst: VIP }, udp: { sport: 50000, dport: 53, checksum: sum }, payload: 12 });
    let r = m.packets.process(q('zero'), 1);
    t.deepEqual(
      r.frame,
      buildFrame({ ip: { src: CLIENT, dst: BACKEND }, udp: { sport: 50000, dport: 5353, checksum: 'zero' }, payload: 12 }),
    );
    t.is(m.packets.conntrack().find((e) => !e.reply)?.state, 'UDP_NEW');
    r = m.packets.process(buildFrame({ ip: { src: BACKEND, dst: CLIENT }, udp: { sport: 5353, dport: 50000 }, payload: 3 }), 1);
    t.deepEqual(r.frame, buildFrame({ ip: { src: VIP, dst: CLIENT }, udp: { sport: 53, dport: 50000 }, payload: 3 }));
    t.is(m.packets.conntrack().find((e) => !e.reply)?.state, 'UDP_SEEN');
    r = m.packets.process(q(), 1);
    t.is(r.reason, 'tracked');
    t.deepEqual(r.frame, buildFrame({ ip: { src: CLIENT, dst: BACKEND }, udp: { sport: 50000, dport: 5353 }, payload: 12 }));
    t.is(m.packets.conntrack().find((e) => !e.reply)?.state, 'UDP_ESTABLISHED');
    t.is(m.packets.process(q(), 1).reason, 'fast_path');
  });

  test(`${hook}: IPv6 DNAT and full NAT, exact bytes`, (t) => {
    const m = openModelDatapath({ hook, settings: { snatV6: SNAT6 } });
    program(m.control, { id: 4, vip: VIP6, port: 443, endpoints: [{ ip: BACKEND6, port: 8443 }] });
    program(m.control, { id: 5, vip: VIP6, port: 80, mode: 'fullnat', endpoints: [{ ip: BACKEND6, port: 80 }] });
    let r = m.packets.process(buildFrame({ ip: { src: CLIENT6, dst: VIP6 }, tcp: { sport: 41000, dport: 443, flags: 'S' } }), 1);
    t.deepEqual(r.frame, buildFrame({ ip: { src: CLIENT6, dst: BACKEND6 }, tcp: { sport: 41000, dport: 8443, flags: 'S' } }));
    r = m.packets.process(buildFrame({ ip: { src: CLIENT6, dst: VIP6 }, tcp: { sport: 41001, dport: 80, flags: 'S' } }), 1);
    const port = m.packets.conntrack().find((e) => !e.reply && e.serviceId === 5)?.nat.sport ?? 0;
    t.deepEqual(r.frame, buildFrame({ ip: { src: SNAT6, dst: BACKEND6 }, tcp: { sport: port, dport: 80, flags: 'S' } }));
  });

  test(`${hook}: VLAN and QinQ frames are balanced and keep their tags; non-VIP traffic is untouched`, (t) => {
    const m = openModelDatapath({ hook });
    program(m.control, { id: 1, vip: VIP, port: 80, endpoints: [{ ip: BACKEND, port: 80 }] });
    for (const vlan of [100, [200, 300]]) {
      const r = m.packets.process(
        buildFrame({ vlan, ip: { src: CLIENT, dst: VIP }, tcp: { sport: 40100 + m.packets.conntrack().length, dport: 80 } }),
        1,
      );
      t.is(r.reason, 'new_flow');
      t.deepEqual(
        r.frame,
        buildFrame({ vlan, ip: { src: CLIENT, dst: BACKEND }, tcp: { sport: 40100 + m.packets.conntrack().length - 2, dport: 80 } }),
      );
    }
    const other = buildFrame({ ip: { src: CLIENT, dst: '198.18.100.2' }, tcp: { sport: 1, dport: 80 } });
    const r = m.packets.process(other, 1);
    t.is(r.reason, 'pass_no_service');
    t.deepEqual(r.frame, other);
    t.is(r.fwd, undefined);
  });
}
