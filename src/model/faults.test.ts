// Each deliberate fault changes what the model does in the way its description says (and only
// when switched on), so a harness self-test that runs with it must see a failure.
import test from 'ava';
import { buildFrame, checksumProblems, decodeFrame } from '../packet/index.ts';
import { MODEL_FAULTS, openModelDatapath } from './index.ts';
import type { ModelFault } from './index.ts';
import { program } from './case-service.ts';

const C = '198.18.0.10';
const VIP = '198.18.100.1';
const B = '198.18.1.11';

function open(fault?: ModelFault): ReturnType<typeof openModelDatapath> {
  const m = openModelDatapath({ hook: 'tc', ...(fault !== undefined ? { faults: [fault] } : {}) });
  program(m.control, {
    id: 1,
    vip: VIP,
    port: 80,
    endpoints: [
      { ip: '198.18.1.99', port: 8080, active: false },
      { ip: B, port: 8080 },
    ],
  });
  program(m.control, { id: 2, vip: VIP, port: 53, protocol: 'udp', endpoints: [{ ip: B, port: 5353 }] });
  return m;
}

const syn = buildFrame({ ip: { src: C, dst: VIP }, tcp: { sport: 1, dport: 80, seq: 1, flags: 'S' } });
const synAck = buildFrame({ ip: { src: B, dst: C }, tcp: { sport: 8080, dport: 1, seq: 9, ack: 2, flags: 'SA' } });

/** What each fault's probe observes: the same function runs with and without it. */
const probes: Record<ModelFault, (m: ReturnType<typeof openModelDatapath>) => unknown> = {
  'reply-untranslated': (m) => {
    m.packets.process(syn, 1);
    return decodeFrame(m.packets.process(synAck, 1).frame).ip?.src;
  },
  'l4-checksum-stale': (m) => checksumProblems(decodeFrame(m.packets.process(syn, 1).frame)),
  'udp-zero-checksum-filled': (m) =>
    decodeFrame(
      m.packets.process(buildFrame({ ip: { src: C, dst: VIP }, udp: { sport: 1, dport: 53, checksum: 'zero' }, payload: 4 }), 1).frame,
    ).udp?.checksum.value,
  'inactive-endpoints-used': (m) => {
    m.packets.process(syn, 1);
    return m.packets.conntrack().find((e) => !e.reply)?.endpointSlot;
  },
  'no-conntrack-expiry': (m) => {
    m.packets.process(syn, 1);
    m.packets.advance(3_600_000);
    return m.packets.process(synAck, 1).reason;
  },
  'rst-always-accepted': (m) => {
    m.packets.process(syn, 1);
    return m.packets.process(buildFrame({ ip: { src: C, dst: VIP }, tcp: { sport: 1, dport: 80, seq: 99_999_999, flags: 'R' } }), 1).reason;
  },
  'icmp-errors-untranslated': (m) => {
    m.packets.process(syn, 1);
    const err = buildFrame({
      ip: { src: '198.18.0.254', dst: C },
      icmp: { type: 'time-exceeded', inner: { ip: { src: C, dst: B }, tcp: { sport: 1, dport: 8080, seq: 1, flags: 'S' } } },
    });
    return m.packets.process(err, 1).reason;
  },
};

for (const fault of Object.keys(MODEL_FAULTS) as ModelFault[]) {
  test(`fault ${fault}: ${MODEL_FAULTS[fault]}`, (t) => {
    const good = probes[fault](open());
    const bad = probes[fault](open(fault));
    t.notDeepEqual(bad, good, `with the fault: ${JSON.stringify(bad)}, without: ${JSON.stringify(good)}`);
  });
}

test('an unknown fault is refused with the list', (t) => {
  t.throws(() => openModelDatapath({ hook: 'tc', faults: ['typo'] }), {
    message: /unknown fault 'typo'; known faults: reply-untranslated/,
  });
});
