// Build -> decode round trips for every layer and option the builder knows.
import test from 'ava';
import { buildFrame, buildIpPacket } from './build.ts';
import { decodeFrame } from './decode.ts';
import type { TcpOption } from './spec.ts';

const V4 = { src: '198.18.0.1', dst: '198.18.1.1' };
const V6 = { src: 'fd00::1', dst: 'fd00:0:0:1::2' };

test('Ethernet + IPv4 + TCP with every option kind', (t) => {
  const options: TcpOption[] = [
    { kind: 'mss', value: 1460 },
    { kind: 'sack-permitted' },
    { kind: 'timestamp', value: 0xdeadbeef, echo: 7 },
    { kind: 'nop' },
    { kind: 'wscale', shift: 7 },
    { kind: 'sack', blocks: [[1, 2]] },
    { kind: 'raw', type: 254, data: Uint8Array.from([0xf9, 0x89]) },
  ];
  const bytes = buildFrame({
    eth: { src: '02:00:00:00:00:0a', dst: '02:00:00:00:00:0b' },
    ip: { ...V4, ttl: 17, tos: 0xb8, id: 4321, df: true },
    tcp: { sport: 40000, dport: 80, seq: 0xfffffff0, ack: 5, flags: 'PA', window: 512, urgent: 3, options },
    payload: 'hello',
  });
  const f = decodeFrame(bytes);
  t.is(f.error, undefined);
  t.deepEqual(f.eth, { offset: 0, src: '02:00:00:00:00:0a', dst: '02:00:00:00:00:0b', type: 0x0800 });
  t.is(f.ip?.version, 4);
  if (f.ip?.version !== 4) return;
  t.like(f.ip, {
    ihl: 5,
    tos: 0xb8,
    id: 4321,
    df: true,
    mf: false,
    fragOffset: 0,
    ttl: 17,
    protocol: 6,
    src: V4.src,
    dst: V4.dst,
    totalLength: bytes.length - 14,
  });
  t.is(f.ip.checksum.verdict, 'ok');
  t.like(f.tcp, { sport: 40000, dport: 80, seq: 0xfffffff0, ack: 5, flags: 0x18, flagString: 'P.', window: 512, urgent: 3 });
  t.is(f.tcp?.checksum.verdict, 'ok');
  t.deepEqual(f.tcp?.options, options);
  t.is(f.tcp?.headerLength, 20 + 36);
  t.is(Buffer.from(f.payload ?? []).toString(), 'hello');
  t.is(f.payloadOffset, bytes.length - 5);
});

test('TCP flag strings map to bits and back (tcpdump notation)', (t) => {
  const cases: Array<[string, number, string]> = [
    ['S', 0x02, 'S'],
    ['SA', 0x12, 'S.'],
    ['A', 0x10, '.'],
    ['FA', 0x11, 'F.'],
    ['R', 0x04, 'R'],
    ['RA', 0x14, 'R.'],
    ['FPA', 0x19, 'FP.'],
    ['SEC', 0xc2, 'SEW'],
    ['', 0, 'none'],
  ];
  for (const [flags, bits, text] of cases) {
    const f = decodeFrame(buildFrame({ ip: V4, tcp: { sport: 1, dport: 2, flags } }));
    t.is(f.tcp?.flags, bits, flags);
    t.is(f.tcp?.flagString, text, flags);
  }
  t.throws(() => buildFrame({ ip: V4, tcp: { sport: 1, dport: 2, flags: 'SX' } }), { message: /bad TCP flag letter 'X'/ });
});

test('one and two VLAN tags (802.1Q, QinQ with 802.1ad outer by default)', (t) => {
  const one = decodeFrame(buildFrame({ vlan: { id: 100, pcp: 5, dei: true }, ip: V4, udp: { sport: 1, dport: 2 } }));
  t.deepEqual(one.vlans, [{ offset: 12, tpid: 0x8100, pcp: 5, dei: true, id: 100, type: 0x0800 }]);
  t.is(one.ip?.offset, 18);
  t.is(one.udp?.checksum.verdict, 'ok');
  const two = decodeFrame(buildFrame({ vlan: [10, 20], ip: V6, udp: { sport: 1, dport: 2 } }));
  t.deepEqual(
    two.vlans.map((v) => [v.tpid, v.id, v.type]),
    [
      [0x88a8, 10, 0x8100],
      [0x8100, 20, 0x86dd],
    ],
  );
  t.is(two.etherType, 0x86dd);
  t.is(two.ip?.offset, 22);
  const custom = decodeFrame(buildFrame({ vlan: [{ id: 1, tpid: 0x8100 }, { id: 4095 }], ip: V4 }));
  t.deepEqual(
    custom.vlans.map((v) => [v.tpid, v.id]),
    [
      [0x8100, 1],
      [0x8100, 4095],
    ],
  );
});

test('IPv4 options, fragments, forced fields', (t) => {
  const f = decodeFrame(
    buildFrame({
      ip: { ...V4, options: [{ type: 148, data: Uint8Array.from([0, 0]) }, { type: 1 }, { type: 7, data: new Uint8Array(7) }] },
      udp: { sport: 1, dport: 2 },
    }),
  );
  if (f.ip?.version !== 4) return t.fail('no IPv4');
  t.is(f.ip.ihl, 9); // 4 + 1 + 9 = 14 bytes of options, padded to 16
  t.deepEqual(
    f.ip.options.map((o) => [o.type, o.name, o.data.length]),
    [
      [148, 'router-alert', 2],
      [1, 'nop', 0],
      [7, 'rr', 7],
    ],
  );
  t.is(f.ip.checksum.verdict, 'ok');
  t.is(f.udp?.checksum.verdict, 'ok');

  const first = decodeFrame(buildFrame({ ip: { ...V4, mf: true, id: 9 }, tcp: { sport: 1, dport: 2 }, payload: 16 }));
  t.is(first.tcp?.sport, 1);
  t.is(first.tcp?.checksum.verdict, 'unverifiable');
  const later = decodeFrame(buildFrame({ ip: { ...V4, fragOffset: 1480, id: 9, protocol: 6 }, payload: 16 }));
  if (later.ip?.version !== 4) return t.fail('no IPv4');
  t.is(later.ip.fragOffset, 1480);
  t.is(later.l4, undefined);
  t.is(later.payload?.length, 16);

  const forced = buildFrame({ ip: { ...V4, ttl: 1, checksum: 0x1234, totalLength: 100 }, udp: { sport: 1, dport: 2 } });
  t.is(forced.readUInt16BE(14 + 10), 0x1234);
  t.is(forced.readUInt16BE(14 + 2), 100);
  t.throws(() => buildFrame({ ip: { ...V4, fragOffset: 3 } }), { message: /multiple of 8/ });
  t.throws(() => buildFrame({ ip: { ...V4, options: new Uint8Array(41) } }), { message: /at most 40 fit/ });
});

test('IPv6 with hop-by-hop, routing, dest-opts and fragment headers', (t) => {
  const bytes = buildFrame({
    ip: {
      ...V6,
      tos: 0x2e,
      flowLabel: 0xabcde,
      ttl: 9,
      extensions: [
        { type: 'hop-by-hop', options: Uint8Array.from([5, 2, 0, 0]) },
        { type: 'routing', routingType: 4, segmentsLeft: 0 },
        { type: 'dest-opts' },
      ],
    },
    tcp: { sport: 5, dport: 443, flags: 'S' },
  });
  const f = decodeFrame(bytes);
  t.is(f.error, undefined);
  if (f.ip?.version !== 6) return t.fail('no IPv6');
  t.like(f.ip, {
    trafficClass: 0x2e,
    flowLabel: 0xabcde,
    hopLimit: 9,
    nextHeader: 0,
    protocol: 6,
    src: 'fd00::1',
    dst: 'fd00:0:0:1::2',
    headerLength: 64,
  });
  t.deepEqual(
    f.ip.extensions.map((e) => [e.name, e.type, e.nextHeader, e.length]),
    [
      ['hop-by-hop', 0, 43, 8],
      ['routing', 43, 60, 8],
      ['dest-opts', 60, 6, 8],
    ],
  );
  t.is(f.ip.extensions[1]?.routingType, 4);
  t.is(f.ip.finalDst, undefined); // no segments left: the IPv6 destination is final
  t.is(f.tcp?.checksum.verdict, 'ok');

  const frag = decodeFrame(
    buildFrame({
      ip: { ...V6, extensions: [{ type: 'fragment', offset: 0, more: true, id: 77 }] },
      udp: { sport: 1, dport: 2 },
      payload: 8,
    }),
  );
  if (frag.ip?.version !== 6) return t.fail('no IPv6');
  t.deepEqual(frag.ip.fragment, { offset: 0, more: true, id: 77 });
  t.is(frag.udp?.checksum.verdict, 'unverifiable');
  const later = decodeFrame(
    buildFrame({ ip: { ...V6, protocol: 17, extensions: [{ type: 'fragment', offset: 1232, id: 77 }] }, payload: 8 }),
  );
  if (later.ip?.version !== 6) return t.fail('no IPv6');
  t.deepEqual(later.ip.fragment, { offset: 1232, more: false, id: 77 });
  t.is(later.ip.protocol, 17);
  t.is(later.l4, undefined);
  t.is(later.payload?.length, 8);
  t.throws(() => buildFrame({ ip: { ...V6, ttl: 1, df: true } }), { message: /df do not exist in IPv6/ });
  t.throws(() => buildFrame({ ip: { ...V4, flowLabel: 1 } }), { message: /flowLabel do not exist in IPv4/ });
});

test('UDP checksums: zero over IPv4 is "no checksum", over IPv6 it is bad; a computed 0 is sent as 0xffff', (t) => {
  const z4 = decodeFrame(buildFrame({ ip: V4, udp: { sport: 1, dport: 2, checksum: 'zero' }, payload: 3 }));
  t.deepEqual(z4.udp?.checksum, { value: 0, verdict: 'zero' });
  const z6 = decodeFrame(buildFrame({ ip: V6, udp: { sport: 1, dport: 2, checksum: 'zero' }, payload: 3 }));
  t.is(z6.udp?.checksum.verdict, 'bad');
  for (const ip of [V4, V6]) {
    // With a zero payload word the sum excludes it; putting the correct checksum there makes the total 0xffff.
    const probe = decodeFrame(buildFrame({ ip, udp: { sport: 1, dport: 2 }, payload: new Uint8Array(2) }));
    const c = probe.udp?.checksum.value ?? 0;
    const f = decodeFrame(buildFrame({ ip, udp: { sport: 1, dport: 2 }, payload: Uint8Array.from([c >> 8, c & 0xff]) }));
    t.is(f.udp?.checksum.value, 0xffff);
    t.is(f.udp?.checksum.verdict, 'ok');
  }
  const len = buildFrame({ ip: V4, udp: { sport: 1, dport: 2, length: 4 } });
  t.is(decodeFrame(len).error?.reason, 'length 4 < 8');
});

test('checksum spec values: bad, partial, explicit number', (t) => {
  for (const ip of [V4, V6]) {
    const bad = decodeFrame(buildFrame({ ip, tcp: { sport: 1, dport: 2, checksum: 'bad' } }));
    t.is(bad.tcp?.checksum.verdict, 'bad');
    t.is(bad.tcp?.checksum.expected, (bad.tcp?.checksum.value ?? 0) ^ 1);
    const partial = decodeFrame(buildFrame({ ip, tcp: { sport: 1, dport: 2, checksum: 'partial' }, payload: 100 }));
    t.is(partial.tcp?.checksum.verdict, 'partial');
    const partialUdp = decodeFrame(buildFrame({ ip, udp: { sport: 1, dport: 2, checksum: 'partial' } }));
    t.is(partialUdp.udp?.checksum.verdict, 'partial');
    const n = decodeFrame(buildFrame({ ip, udp: { sport: 1, dport: 2, checksum: 0xbeef } }));
    t.is(n.udp?.checksum.value, 0xbeef);
  }
  t.throws(() => buildFrame({ ip: V4, icmp: { type: 'echo-request', checksum: 'partial' } }), { message: /needs a pseudo-header/ });
});

test('ICMP echo and errors with quoted packets (IPv4 frag-needed, IPv6 packet-too-big)', (t) => {
  const echo = decodeFrame(buildFrame({ ip: V4, icmp: { type: 'echo-request', id: 0x1234, seq: 7 }, payload: 56 }));
  t.like(echo.icmp, { proto: 'icmp', type: 8, code: 0, typeName: 'echo-request', id: 0x1234, seq: 7 });
  t.is(echo.icmp?.checksum.verdict, 'ok');
  t.is(echo.payload?.length, 56);
  const echo6 = decodeFrame(buildFrame({ ip: V6, icmp: { type: 'echo-reply', id: 1, seq: 2 } }));
  t.like(echo6.icmp, { proto: 'icmp6', type: 129, typeName: 'echo-reply', id: 1, seq: 2 });
  t.is(echo6.icmp?.checksum.verdict, 'ok');

  const inner = { ip: { src: V4.dst, dst: V4.src, df: true }, tcp: { sport: 80, dport: 40000, flags: 'PA', seq: 99 }, payload: 1400 };
  const fn = decodeFrame(
    buildFrame({ ip: { src: '198.18.2.1', dst: V4.dst }, icmp: { type: 'dest-unreachable', code: 'frag-needed', mtu: 1400, inner } }),
  );
  t.like(fn.icmp, { type: 3, code: 4, typeName: 'dest-unreachable', mtu: 1400 });
  t.is(fn.icmp?.checksum.verdict, 'ok');
  t.is(fn.ip?.version === 4 ? fn.ip.totalLength : 0, 576); // Linux-sized quote: 576 - 20 - 8 bytes of the inner packet
  const q = fn.icmp?.inner;
  t.is(q?.truncated, true);
  t.is(q?.error, undefined);
  t.like(q?.tcp, { sport: 80, dport: 40000, seq: 99, flagString: 'P.' });
  t.is(q?.tcp?.checksum.verdict, 'unverifiable');
  t.like(q?.ip, { src: V4.dst, dst: V4.src, totalLength: 1440 });

  const short = decodeFrame(
    buildFrame({
      ip: V4,
      icmp: { type: 'dest-unreachable', code: 'port', inner: { ip: V4, udp: { sport: 1, dport: 53 } }, quoteLength: 28 },
    }),
  );
  t.like(short.icmp?.inner?.udp, { sport: 1, dport: 53 });
  const cut = decodeFrame(
    buildFrame({ ip: V4, icmp: { type: 'time-exceeded', inner: { ip: V4, tcp: { sport: 7, dport: 8, seq: 5 } }, quoteLength: 28 } }),
  );
  t.like(cut.icmp?.inner?.tcp, { sport: 7, dport: 8, seq: 5 });
  t.is(cut.icmp?.typeName, 'time-exceeded');

  const ptb = decodeFrame(
    buildFrame({
      ip: { src: 'fd00::9', dst: V6.src },
      icmp: { type: 'packet-too-big', mtu: 1280, inner: { ip: V6, udp: { sport: 9, dport: 10 }, payload: 3000 } },
    }),
  );
  t.like(ptb.icmp, { proto: 'icmp6', type: 2, typeName: 'packet-too-big', mtu: 1280 });
  t.is(ptb.icmp?.checksum.verdict, 'ok');
  t.is(ptb.length, 14 + 1280);
  t.like(ptb.icmp?.inner?.udp, { sport: 9, dport: 10, length: 3008 });
  t.throws(() => buildFrame({ ip: V4, icmp: { type: 'packet-too-big', mtu: 1 } }), {
    message: /IPv4 uses dest-unreachable with code frag-needed/,
  });
  t.throws(() => buildFrame({ ip: V6, icmp: { type: 'dest-unreachable', code: 'frag-needed' } }), {
    message: /use one of no-route, admin, address, port/,
  });
  const raw = decodeFrame(buildFrame({ ip: V4, icmp: { type: 12, code: 0, rest: Uint8Array.from([20, 0, 0, 0]), inner: { ip: V4 } } }));
  t.like(raw.icmp, { type: 12, typeName: 'param-problem' });
  t.is(raw.icmp?.inner?.ip?.src, V4.src);
});

test('raw IP packets, non-IP frames, padding and trailers', (t) => {
  const p = buildIpPacket({ ip: V6, udp: { sport: 1, dport: 2 }, payload: 'x' });
  const f = decodeFrame(p, 'raw-ip');
  t.is(f.ip?.version, 6);
  t.is(f.udp?.checksum.verdict, 'ok');
  const arp = decodeFrame(buildFrame({ eth: { type: 0x0806, dst: 'ff:ff:ff:ff:ff:ff' }, payload: 28 }));
  t.is(arp.etherType, 0x0806);
  t.is(arp.ip, undefined);
  t.is(arp.payload?.length, 28);
  t.is(arp.error, undefined);
  const padded = buildFrame({ ip: V4, udp: { sport: 1, dport: 2 }, padTo: 60 });
  t.is(padded.length, 60);
  const d = decodeFrame(padded);
  t.is(d.trailer?.length, 60 - 14 - 28);
  t.is(d.udp?.checksum.verdict, 'ok');
  t.throws(() => buildFrame({ tcp: { sport: 1, dport: 2 } }), { message: /needs an ip/ });
  t.throws(() => buildFrame({ ip: V4, tcp: { sport: 1, dport: 2 }, udp: { sport: 1, dport: 2 } }), {
    message: /one transport layer; got tcp and udp/,
  });
  t.throws(() => buildFrame({ ip: V4, tcp: { sport: 70000, dport: 2 } }), { message: /TCP sport 70000 is out of range/ });
});

test('Linux cooked captures (SLL, SLL2) carry the EtherType in the cooked header', (t) => {
  const ip = buildIpPacket({ ip: V4, tcp: { sport: 3, dport: 4 } });
  const sll = Buffer.alloc(16);
  sll.writeUInt16BE(4, 0); // outgoing
  sll.writeUInt16BE(1, 2); // ARPHRD_ETHER
  sll.writeUInt16BE(6, 4);
  Buffer.from([2, 0, 0, 0, 0, 1]).copy(sll, 6);
  sll.writeUInt16BE(0x0800, 14);
  const a = decodeFrame(Buffer.concat([sll, ip]), 'sll');
  t.like(a.cooked, { kind: 'sll', packetType: 4, arphrdType: 1, address: '02:00:00:00:00:01', protocol: 0x0800 });
  t.is(a.tcp?.dport, 4);
  const sll2 = Buffer.alloc(20);
  sll2.writeUInt16BE(0x8100, 0);
  sll2.writeUInt32BE(7, 4);
  sll2.writeUInt16BE(1, 8);
  sll2[10] = 0;
  sll2[11] = 6;
  const tag = Buffer.from([0x00, 0x05, 0x08, 0x00]);
  const b = decodeFrame(Buffer.concat([sll2, tag, ip]), 'sll2');
  t.like(b.cooked, { kind: 'sll2', ifindex: 7, packetType: 0, protocol: 0x8100 });
  t.deepEqual(
    b.vlans.map((v) => v.id),
    [5],
  );
  t.is(b.tcp?.checksum.verdict, 'ok');
});
