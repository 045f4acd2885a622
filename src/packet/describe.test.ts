import test from 'ava';
import { buildFrame } from './build.ts';
import { decodeFrame } from './decode.ts';
import { describe } from './describe.ts';
import { flowKeyString, flowOf, relatedFlowOf, reverseFlow, sameFlow } from './flow.ts';

const V4 = { src: '198.18.0.1', dst: '198.18.1.1' };
const V6 = { src: 'fd00::1', dst: 'fd00::2' };

test('describe: one tcpdump-like line per frame', (t) => {
  const line = (spec: Parameters<typeof buildFrame>[0], link = false): string => describe(decodeFrame(buildFrame(spec)), { link });
  t.is(
    line({ vlan: 10, ip: V4, tcp: { sport: 40000, dport: 80, seq: 1, flags: 'S', options: [{ kind: 'mss', value: 1460 }] } }),
    'vlan 10 IP 198.18.0.1.40000 > 198.18.1.1.80: tcp [S] seq 1 win 65535 [mss 1460] len 0',
  );
  t.is(
    line({ ip: V4, tcp: { sport: 1, dport: 2, seq: 5, ack: 9, flags: 'PA', window: 100 }, payload: 3 }, true),
    '02:00:00:00:00:01 > 02:00:00:00:00:02, IP 198.18.0.1.1 > 198.18.1.1.2: tcp [P.] seq 5 ack 9 win 100 len 3',
  );
  t.is(
    line({ ip: V6, udp: { sport: 53, dport: 5353, checksum: 'zero' }, payload: 4 }),
    'IP6 fd00::1.53 > fd00::2.5353: udp len 4 udp-cksum bad 0x0000 (want 0xeeaf)',
  );
  t.is(line({ ip: V4, udp: { sport: 1, dport: 2, checksum: 'partial' } }), 'IP 198.18.0.1.1 > 198.18.1.1.2: udp len 0 udp-cksum partial');
  t.is(
    line({ ip: { ...V4, checksum: 'bad' }, icmp: { type: 'echo-request', id: 7, seq: 1 }, payload: 8 }),
    'IP 198.18.0.1 > 198.18.1.1: ip-cksum bad 0xedb3 (want 0xedb2) icmp echo-request id 7 seq 1 len 8',
  );
  t.is(
    line({
      ip: V4,
      icmp: { type: 'dest-unreachable', code: 'frag-needed', mtu: 1400, inner: { ip: V4, tcp: { sport: 1, dport: 2, flags: 'A' } } },
    }),
    'IP 198.18.0.1 > 198.18.1.1: icmp dest-unreachable code 4 mtu 1400 {IP 198.18.0.1.1 > 198.18.1.1.2: tcp [.] seq 0 ack 0 win 65535 len 0}',
  );
  t.is(
    line({ ip: V4, icmp: { type: 'time-exceeded', inner: { ip: V4, tcp: { sport: 1, dport: 2, seq: 9 } }, quoteLength: 28 } }),
    'IP 198.18.0.1 > 198.18.1.1: icmp time-exceeded code 0 {IP 198.18.0.1.1 > 198.18.1.1.2: tcp (header cut at 8 bytes) seq 9 (truncated)}',
  );
  t.is(
    line({ ip: { ...V6, extensions: [{ type: 'fragment', offset: 8, id: 3 }], protocol: 17 }, payload: 8 }),
    'IP6 fd00::1 > fd00::2: ext [fragment] frag id 3 off 8 proto 17 len 8',
  );
  t.is(line({ eth: { type: 0x0806 }, payload: 28 }), 'ethertype 0x0806 len 28');
  t.is(
    describe(decodeFrame(buildFrame({ ip: V4, tcp: { sport: 1, dport: 2, dataOffset: 3 } }))),
    'IP 198.18.0.1.1 > 198.18.1.1.2: tcp [S] seq 0 win 65535 len 0 !! tcp@46: data offset 3 < 5',
  );
  t.is(describe(decodeFrame(new Uint8Array(5))), '5 bytes !! ethernet@5: truncated: 5 of 14 header bytes');
});

test('flowOf: 5-tuples, ICMP echo convention, reverse, related flow of ICMP errors', (t) => {
  const tcp = flowOf(decodeFrame(buildFrame({ ip: V4, tcp: { sport: 40000, dport: 80 } })));
  t.deepEqual(tcp, { family: 4, protocol: 6, proto: 'tcp', src: V4.src, dst: V4.dst, sport: 40000, dport: 80 });
  if (tcp === undefined) return;
  t.is(flowKeyString(tcp), 'tcp 198.18.0.1:40000 > 198.18.1.1:80');
  const back = flowOf(decodeFrame(buildFrame({ ip: { src: V4.dst, dst: V4.src }, tcp: { sport: 80, dport: 40000, flags: 'SA' } })));
  if (back === undefined) return t.fail();
  t.true(sameFlow(reverseFlow(tcp), back));
  t.false(sameFlow(tcp, back));

  const udp6 = flowOf(decodeFrame(buildFrame({ ip: { ...V6, extensions: [{ type: 'hop-by-hop' }] }, udp: { sport: 1, dport: 2 } })));
  t.is(udp6 && flowKeyString(udp6), 'udp [fd00::1]:1 > [fd00::2]:2');

  const req = flowOf(decodeFrame(buildFrame({ ip: V4, icmp: { type: 'echo-request', id: 77 } })));
  const rep = flowOf(decodeFrame(buildFrame({ ip: { src: V4.dst, dst: V4.src }, icmp: { type: 'echo-reply', id: 77 } })));
  t.like(req, { proto: 'icmp', sport: 77, dport: 0 });
  t.like(rep, { proto: 'icmp', sport: 0, dport: 77 });
  if (req === undefined || rep === undefined) return;
  t.true(sameFlow(reverseFlow(req), rep));

  const err = decodeFrame(
    buildFrame({
      ip: { src: '198.18.9.9', dst: V4.src },
      icmp: { type: 'dest-unreachable', code: 'port', inner: { ip: V4, udp: { sport: 5, dport: 6 } } },
    }),
  );
  t.like(flowOf(err), { proto: 'icmp', src: '198.18.9.9', sport: 0, dport: 0 });
  t.like(relatedFlowOf(err), { proto: 'udp', src: V4.src, dst: V4.dst, sport: 5, dport: 6 });
  t.is(flowOf(decodeFrame(new Uint8Array(3))), undefined);
  t.like(flowOf(decodeFrame(buildFrame({ ip: { ...V4, protocol: 47 }, payload: 4 }))), { proto: 'other', protocol: 47, sport: 0 });
});
