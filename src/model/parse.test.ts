// The model's parser decides by the datapath's rules (docs/datapath.md "Parsing"), not by the
// packet toolkit's decoder: each malformed or unbalanced input gets the spec's reason, the
// frame comes back untouched, and no flow is created.
import test from 'ava';
import { buildFrame } from '../packet/index.ts';
import type { FrameSpec } from '../packet/index.ts';
import { openModelDatapath } from './index.ts';
import { program } from './case-service.ts';
import { FRAG_FIRST, FRAG_LATER, parseFrame } from './parse.ts';

import { C, C6, PARSE_CASES, VIP, VIP6, hbh } from './parse-cases.ts';

for (const [name, frame, reason] of PARSE_CASES) {
  test(`${name}: ${reason}`, (t) => {
    const m = openModelDatapath({ hook: 'xdp' });
    program(m.control, { id: 1, vip: VIP, port: 80, endpoints: [{ ip: '198.18.1.1', port: 80 }] });
    program(m.control, { id: 2, vip: VIP6, port: 80, endpoints: [{ ip: 'fd00::1:1', port: 80 }] });
    const r = m.packets.process(frame, 1);
    t.is(r.reason, reason);
    t.is(r.verdict, reason.startsWith('drop_') ? 'drop' : 'pass');
    t.deepEqual(r.frame, frame);
    t.is(m.packets.conntrack().length, 0);
    t.is(r.trace.timeNs, m.packets.now());
  });
}

test('every truncation of a balanced TCP SYN is malformed, never an exception; the whole frame is balanced', (t) => {
  const spec: FrameSpec = { ip: { src: C, dst: VIP }, tcp: { sport: 9, dport: 80, options: [{ kind: 'mss', value: 1460 }] } };
  const full = buildFrame(spec);
  const m = openModelDatapath({ hook: 'tc' });
  program(m.control, { id: 1, vip: VIP, port: 80, endpoints: [{ ip: '198.18.1.1', port: 80 }] });
  for (let n = 0; n < full.length; n++) t.is(m.packets.process(full.subarray(0, n), 1).reason, 'drop_malformed', `${n} bytes`);
  t.is(m.packets.process(full, 1).reason, 'new_flow');
});

test('Ethernet padding is kept and not part of L4; IPv4 options and hop-by-hop headers are balanced', (t) => {
  const m = openModelDatapath({ hook: 'tc' });
  program(m.control, { id: 1, vip: VIP, port: 80, endpoints: [{ ip: '198.18.1.1', port: 80 }] });
  program(m.control, { id: 2, vip: VIP6, port: 80, endpoints: [{ ip: 'fd00::1:1', port: 80 }] });
  const pad = m.packets.process(buildFrame({ ip: { src: C, dst: VIP }, udp: { sport: 1, dport: 80 }, padTo: 60 }), 1);
  t.is(pad.reason, 'pass_no_service', 'UDP to a TCP service');
  const r = m.packets.process(
    buildFrame({
      ip: { src: C, dst: VIP, options: [{ type: 1 }, { type: 1 }, { type: 1 }, { type: 1 }] },
      tcp: { sport: 2, dport: 80 },
      padTo: 80,
    }),
    1,
  );
  t.deepEqual(
    r.frame,
    buildFrame({
      ip: { src: C, dst: '198.18.1.1', options: [{ type: 1 }, { type: 1 }, { type: 1 }, { type: 1 }] },
      tcp: { sport: 2, dport: 80 },
      padTo: 80,
    }),
  );
  const r6 = m.packets.process(
    buildFrame({ ip: { src: C6, dst: VIP6, extensions: [hbh, { type: 'dest-opts' }] }, tcp: { sport: 3, dport: 80 } }),
    1,
  );
  t.deepEqual(
    r6.frame,
    buildFrame({ ip: { src: C6, dst: 'fd00::1:1', extensions: [hbh, { type: 'dest-opts' }] }, tcp: { sport: 3, dport: 80 } }),
  );
});

test('IPv6 Fragment header ("Fragments"): its next header is the protocol, L4 after it, the 32-bit id, first / later / atomic', (t) => {
  const first = parseFrame(
    buildFrame({
      ip: { src: C6, dst: VIP6, extensions: [hbh, { type: 'fragment', more: true, id: 0x10000501 }] },
      udp: { sport: 5353, dport: 45500, length: 108 },
      payload: 32,
    }),
  );
  t.is(first.rc, 'fragment');
  t.is(first.p.frag, FRAG_FIRST);
  t.is(first.p.fragId, 0x10000501);
  t.is(first.p.key.proto, 17);
  t.deepEqual([first.p.key.sport, first.p.key.dport], [5353, 45500]);
  t.is(first.p.l4Off, 14 + 40 + 8 + 8);
  t.is(first.p.l4Len, 8 + 32);
  const later = parseFrame(
    buildFrame({ ip: { src: C6, dst: VIP6, protocol: 6, extensions: [{ type: 'fragment', offset: 1232, id: 3 }] }, payload: 20 }),
  );
  t.is(later.rc, 'fragment');
  t.is(later.p.frag, FRAG_LATER);
  t.is(later.p.fragId, 3);
  t.is(later.p.key.proto, 6);
  t.deepEqual([later.p.key.sport, later.p.key.dport], [0, 0]);
  // an atomic fragment (offset 0, no M) is a first fragment: never balanced as a whole packet
  const atomic = parseFrame(buildFrame({ ip: { src: C6, dst: VIP6, extensions: [{ type: 'fragment' }] }, tcp: { sport: 1, dport: 80 } }));
  t.is(atomic.p.frag, FRAG_FIRST);
  // a first fragment cut before the TCP checksum field: not translatable, no ports
  const cut = parseFrame(
    buildFrame({ ip: { src: C6, dst: VIP6, protocol: 6, extensions: [{ type: 'fragment', more: true }] }, payload: Buffer.alloc(16, 1) }),
  );
  t.is(cut.rc, 'fragment');
  t.is(cut.p.frag, 0);
});
