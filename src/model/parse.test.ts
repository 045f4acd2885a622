// The model's parser decides by the datapath's rules (docs/datapath.md "Parsing"), not by the
// packet toolkit's decoder: each malformed or unbalanced input gets the spec's reason, the
// frame comes back untouched, and no flow is created.
import test from 'ava';
import { buildFrame } from '../packet/index.ts';
import type { FrameSpec } from '../packet/index.ts';
import { openModelDatapath } from './index.ts';
import { program } from './case-service.ts';

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
