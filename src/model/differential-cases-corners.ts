// More packet sequences for the differential test (see differential-cases.ts): IPv6 and ICMP
// under full NAT, lost entries and generation flips, TCP corner cases, DSR / port ranges / wrr /
// lc, timeouts, SNAT port exhaustion, every parse input.
import type { DiffCase, Step } from './differential-cases.ts';
import { B0, B1, CLIENT, ROUTER, SNAT, VIP, f, handshake, snatPort, tcp, web } from './differential-cases.ts';
import { PARSE_CASES } from './parse-cases.ts';

const C6 = 'fd00::10';
const VIP6 = 'fd00::100:1';
const B6 = 'fd00::1:11';
const SNAT6 = 'fd00::1';

export const CORNER_CASES: DiffCase[] = [
  {
    // docs/datapath.md "Fragments", IPv6: the Fragment header's next header is the protocol, its
    // 32-bit identification keys the record. Failed at 95d3239 (every IPv6 fragment
    // pass_fragment: the backend's address reached the client).
    name: 'IPv6 fragments: a DNAT and a full-NAT reply in fragments translated; 32-bit id, no flow, TTL 1, dest-opts after: passed',
    settings: { snatV6: SNAT6 },
    services: [
      { id: 1, vip: VIP6, port: 53, protocol: 'udp', endpoints: [{ ip: B6, port: 5353 }] },
      { id: 2, vip: VIP6, port: 54, protocol: 'udp', mode: 'fullnat', endpoints: [{ ip: 'fd00::1:12', port: 5353 }] },
      { id: 3, vip: VIP6, port: 80, endpoints: [{ ip: B6, port: 8080 }] },
    ],
    steps: [
      f('query (DNAT)', { ip: { src: C6, dst: VIP6 }, udp: { sport: 45500, dport: 53 }, payload: 8 }, 'new_flow'),
      f(
        'reply, first fragment',
        {
          ip: { src: B6, dst: C6, extensions: [{ type: 'fragment', more: true, id: 0x10000501 }] },
          udp: { sport: 5353, dport: 45500, length: 8 + 100 },
          payload: 32,
        },
        'tracked',
      ),
      f(
        'reply, later fragment',
        { ip: { src: B6, dst: C6, protocol: 17, extensions: [{ type: 'fragment', offset: 40, id: 0x10000501 }] }, payload: 68 },
        'tracked',
      ),
      f(
        'later fragment whose id differs above the low 16 bits: no record',
        { ip: { src: B6, dst: C6, protocol: 17, extensions: [{ type: 'fragment', offset: 40, id: 0x20000501 }] }, payload: 68 },
        'pass_fragment_no_record',
      ),
      f(
        'client fragments on the flow, behind a hop-by-hop header (first)',
        {
          ip: { src: C6, dst: VIP6, extensions: [{ type: 'hop-by-hop' }, { type: 'fragment', more: true, id: 9 }] },
          udp: { sport: 45500, dport: 53, length: 8 + 64 },
          payload: 16,
        },
        'tracked',
      ),
      f(
        'client fragments on the flow (later)',
        {
          ip: { src: C6, dst: VIP6, protocol: 17, extensions: [{ type: 'hop-by-hop' }, { type: 'fragment', offset: 24, id: 9 }] },
          payload: 48,
        },
        'tracked',
      ),
      f(
        'first fragment to the VIP, no flow: not balanced',
        {
          ip: { src: C6, dst: VIP6, extensions: [{ type: 'fragment', more: true, id: 10 }] },
          udp: { sport: 45501, dport: 53, length: 80 },
          payload: 16,
        },
        'pass_fragment',
      ),
      f(
        'first fragment, hop limit 1',
        {
          ip: { src: B6, dst: C6, ttl: 1, extensions: [{ type: 'fragment', more: true, id: 11 }] },
          udp: { sport: 5353, dport: 45500, length: 8 + 100 },
          payload: 32,
        },
        'pass_fragment',
      ),
      f(
        'destination options after the Fragment header: not walked, an untracked fragment',
        {
          ip: { src: B6, dst: C6, extensions: [{ type: 'fragment', more: true, id: 12 }, { type: 'dest-opts' }] },
          udp: { sport: 5353, dport: 45500, length: 8 + 100 },
          payload: 32,
        },
        'pass_fragment',
      ),
      f('query (full NAT)', { ip: { src: C6, dst: VIP6 }, udp: { sport: 45502, dport: 54 }, payload: 8 }, 'new_flow'),
      {
        build: (ct) => ({
          ip: { src: 'fd00::1:12', dst: SNAT6, extensions: [{ type: 'fragment', more: true, id: 601 }] },
          udp: { sport: 5353, dport: snatPort(ct, C6, 45502), length: 8 + 100 },
          payload: 32,
        }),
        note: 'full-NAT reply, first fragment',
        expect: 'tracked',
      },
      f(
        'full-NAT reply, later fragment',
        { ip: { src: 'fd00::1:12', dst: SNAT6, protocol: 17, extensions: [{ type: 'fragment', offset: 40, id: 601 }] }, payload: 68 },
        'tracked',
      ),
      f('TCP SYN (DNAT)', tcp(C6, VIP6, 45503, 80, 'S', 1), 'new_flow'),
      f(
        'TCP reply, first fragment',
        {
          ip: { src: B6, dst: C6, extensions: [{ type: 'fragment', more: true, id: 701 }] },
          tcp: { sport: 8080, dport: 45503, flags: 'SA', seq: 5, ack: 2 },
          payload: 16,
        },
        'tracked',
      ),
    ],
  },
  {
    name: 'IPv6 full NAT, ICMPv6 echo under full NAT, packet-too-big about a reply',
    settings: { snatV6: SNAT6 },
    services: [
      { id: 1, vip: VIP6, port: 80, mode: 'fullnat', algorithm: 'hash', endpoints: [{ ip: B6, port: 80 }] },
      { id: 2, vip: VIP6, port: 0, protocol: 'icmp', mode: 'fullnat', endpoints: [{ ip: B6, port: 0 }] },
    ],
    steps: [
      f('SYN', tcp(C6, VIP6, 41000, 80, 'S', 10)),
      f('echo', { ip: { src: C6, dst: VIP6 }, icmp: { type: 'echo-request', id: 9, seq: 1 }, payload: 8 }),
      f('echo, other client', { ip: { src: 'fd00::11', dst: VIP6 }, icmp: { type: 'echo-request', id: 9, seq: 1 }, payload: 8 }),
      {
        note: 'backend answers the SYN',
        expect: 'tracked',
        build: (ct) => tcp(B6, SNAT6, 80, snatPort(ct, C6, 41000), 'SA', 50, 11),
      },
      {
        note: 'backend: packet-too-big about the translated client packet (full TCP quote)',
        expect: 'icmp_error',
        build: (ct) => ({
          ip: { src: B6, dst: SNAT6 },
          icmp: {
            type: 'packet-too-big',
            mtu: 1280,
            inner: {
              ip: { src: SNAT6, dst: B6 },
              tcp: { sport: snatPort(ct, C6, 41000), dport: 80, seq: 11, ack: 51, flags: 'A' },
              payload: 100,
            },
          },
        }),
      },
      {
        note: 'router: time-exceeded about the echo request towards the backend',
        expect: 'icmp_error',
        build: (ct) => ({
          ip: { src: 'fd00::fe', dst: SNAT6 },
          icmp: {
            type: 'time-exceeded',
            inner: { ip: { src: SNAT6, dst: B6 }, icmp: { type: 'echo-request', id: snatPort(ct, C6, 9), seq: 1 }, payload: 8 },
          },
        }),
      },
      f('echo reply of no flow', { ip: { src: B6, dst: C6 }, icmp: { type: 'echo-reply', id: 9, seq: 1 } }, 'pass_no_service'),
    ],
  },
  {
    name: 'full NAT ICMP errors: embedded TCP with its checksum, embedded echo request, short quote',
    settings: { snatV4: SNAT },
    services: [
      { id: 1, vip: VIP, port: 80, mode: 'fullnat', algorithm: 'hash', endpoints: [{ ip: B0, port: 8080 }] },
      { id: 2, vip: VIP, port: 0, protocol: 'icmp', mode: 'fullnat', endpoints: [{ ip: B1, port: 0 }] },
    ],
    steps: [
      f('SYN', tcp(CLIENT, VIP, 42000, 80, 'S', 10)),
      { note: 'SYN-ACK', expect: 'tracked', build: (ct) => tcp(B0, SNAT, 8080, snatPort(ct, CLIENT, 42000), 'SA', 1, 11) },
      {
        note: 'router: frag-needed about the SYN-ACK towards the client (full quote, TCP checksum updated)',
        expect: 'icmp_error',
        build: () => ({
          ip: { src: ROUTER, dst: CLIENT },
          icmp: {
            type: 'dest-unreachable',
            code: 'frag-needed',
            mtu: 1300,
            inner: { ip: { src: VIP, dst: CLIENT }, tcp: { sport: 80, dport: 42000, seq: 1, ack: 11, flags: 'SA' }, payload: 40 },
          },
        }),
      },
      f('echo', { ip: { src: CLIENT, dst: VIP }, icmp: { type: 'echo-request', id: 5, seq: 1 }, payload: 8 }, 'new_flow'),
      {
        note: 'backend: port unreachable quoting the echo request it got (embedded echo identifier restored)',
        expect: 'icmp_error',
        build: (ct) => ({
          ip: { src: B1, dst: SNAT },
          icmp: {
            type: 'dest-unreachable',
            code: 'port',
            inner: { ip: { src: SNAT, dst: B1 }, icmp: { type: 'echo-request', id: snatPort(ct, CLIENT, 5), seq: 1 }, payload: 8 },
          },
        }),
      },
      {
        note: 'echo reply restored to the client identifier',
        expect: 'tracked',
        build: (ct) => ({ ip: { src: B1, dst: SNAT }, icmp: { type: 'echo-reply', id: snatPort(ct, CLIENT, 5), seq: 1 }, payload: 8 }),
      },
      f(
        'error quoting a non-echo ICMP',
        {
          ip: { src: ROUTER, dst: CLIENT },
          icmp: {
            type: 'time-exceeded',
            inner: {
              ip: { src: CLIENT, dst: VIP },
              icmp: { type: 'time-exceeded', inner: { ip: { src: CLIENT, dst: VIP }, udp: { sport: 1, dport: 2 } } },
            },
          },
        },
        'pass_no_service',
      ),
      f(
        'error with 4 bytes of L4 quoted',
        {
          ip: { src: ROUTER, dst: CLIENT },
          icmp: { type: 'time-exceeded', quoteLength: 24, inner: { ip: { src: CLIENT, dst: VIP }, tcp: { sport: 42000, dport: 80 } } },
        },
        'drop_malformed',
      ),
    ],
  },
  {
    name: 'a lost entry is rebuilt from its peer; generation flip keeps existing flows',
    services: [web('dnat', 'rr')],
    steps: [
      ...handshake(CLIENT, 43000, B0, 8080),
      { deleteCt: { family: 4, proto: 'tcp', src: B0, dst: CLIENT, sport: 8080, dport: 43000 } },
      f('client data after the reply entry was lost', tcp(CLIENT, VIP, 43000, 80, 'PA', 1006, 5003, 'more')),
      f('FIN (slow path rebuilds the reply entry)', tcp(CLIENT, VIP, 43000, 80, 'FA', 1010, 5003)),
      f('backend FIN through the rebuilt entry', tcp(B0, CLIENT, 8080, 43000, 'FA', 5003, 1011), 'tracked'),
      { deleteCt: { family: 4, proto: 'tcp', src: CLIENT, dst: VIP, sport: 43000, dport: 80 } },
      f('backend ACK after the forward entry was lost', tcp(B0, CLIENT, 8080, 43000, 'A', 5004, 1011)),
      {
        reprogram: {
          ...web('dnat', 'rr'),
          endpoints: [
            { ip: B1, port: 8080 },
            { ip: B0, port: 8080, active: false },
          ],
        },
      },
      f('new flow after the flip', tcp(CLIENT, VIP, 43001, 80, 'S', 1)),
    ],
  },
  {
    name: 'TCP corner cases: SYN retransmit, FIN in SYN_SENT, SYN-ACK from the client, bare RST from the backend',
    services: [web('dnat', 'hash')],
    steps: [
      f('SYN', tcp(CLIENT, VIP, 44000, 80, 'S', 100)),
      f('SYN retransmit', tcp(CLIENT, VIP, 44000, 80, 'S', 100)),
      f('FIN in SYN_SENT', tcp(CLIENT, VIP, 44000, 80, 'F', 101)),
      f('SYN-ACK from a client of no flow', tcp(CLIENT, VIP, 44001, 80, 'SA', 1, 1)),
      f('SYN 2', tcp(CLIENT, VIP, 44002, 80, 'S', 100)),
      f('bare RST from the backend, seq = client ack', tcp(B0, CLIENT, 8080, 44002, 'R', 0)),
      f('SYN+PSH is a pure SYN', tcp(CLIENT, VIP, 44003, 80, 'SP', 1)),
      { settings: { unknownTcp: 'drop' } },
      f('mid-stream with policy drop', tcp(CLIENT, VIP, 44004, 80, 'A', 1, 1)),
    ],
  },
  {
    name: 'DSR, port ranges, endpoint port 0, wrr weights, lc with closes',
    services: [
      { id: 1, vip: VIP, port: 80, mode: 'dsr', endpoints: [{ ip: B0, port: 80 }] },
      { id: 2, vip: VIP, port: 1000, portEnd: 1999, protocol: 'udp', endpoints: [{ ip: B0, port: 0 }] },
      {
        id: 3,
        vip: VIP,
        port: 81,
        algorithm: 'wrr',
        endpoints: [
          { ip: B0, port: 80, weight: 3 },
          { ip: B1, port: 80, weight: 1 },
        ],
      },
      {
        id: 4,
        vip: VIP,
        port: 82,
        algorithm: 'lc',
        endpoints: [
          { ip: B0, port: 80 },
          { ip: B1, port: 80 },
        ],
      },
    ],
    steps: [
      f('DSR SYN', tcp(CLIENT, VIP, 45000, 80, 'S', 1)),
      f('DSR ACK', tcp(CLIENT, VIP, 45000, 80, 'A', 2, 1)),
      f('range 1500', { ip: { src: CLIENT, dst: VIP }, udp: { sport: 45001, dport: 1500 }, payload: 4 }),
      f('range 2000 (outside)', { ip: { src: CLIENT, dst: VIP }, udp: { sport: 45001, dport: 2000 }, payload: 4 }),
      ...Array.from({ length: 8 }, (_, i) => f(`wrr ${i}`, tcp(CLIENT, VIP, 46000 + i, 81, 'S'))),
      f('lc 1', tcp(CLIENT, VIP, 47000, 82, 'S', 1)),
      f('lc 2', tcp(CLIENT, VIP, 47001, 82, 'S', 1)),
      f('lc 1 RST', tcp(CLIENT, VIP, 47000, 82, 'R', 2)),
      f('lc 3 (goes where lc 1 was)', tcp(CLIENT, VIP, 47002, 82, 'S', 1)),
      f('lc 4', tcp(CLIENT, VIP, 47003, 82, 'S', 1)),
    ],
  },
  {
    name: 'timeouts: one-way UDP keeps the reply entry alive (peer touch), SYN_SENT expiry re-selects',
    services: [
      { id: 1, vip: VIP, port: 53, protocol: 'udp', endpoints: [{ ip: B0, port: 53 }] },
      {
        id: 2,
        vip: VIP,
        port: 80,
        algorithm: 'rr',
        endpoints: [
          { ip: B0, port: 80 },
          { ip: B1, port: 80 },
        ],
      },
    ],
    steps: [
      f('q', { ip: { src: CLIENT, dst: VIP }, udp: { sport: 48000, dport: 53 }, payload: 4 }),
      f('r', { ip: { src: B0, dst: CLIENT }, udp: { sport: 53, dport: 48000 }, payload: 4 }),
      f('q2', { ip: { src: CLIENT, dst: VIP }, udp: { sport: 48000, dport: 53 }, payload: 4 }),
      ...Array.from({ length: 12 }, (_, i): Step[] => [
        { advanceMs: 20_000 },
        f(`one-way ${i}`, { ip: { src: CLIENT, dst: VIP }, udp: { sport: 48000, dport: 53 }, payload: 4 }),
      ]).flat(),
      f(
        'reply after 240 s of one-way traffic',
        { ip: { src: B0, dst: CLIENT }, udp: { sport: 53, dport: 48000 }, payload: 4 },
        'fast_path',
      ),
      f('SYN', tcp(CLIENT, VIP, 48001, 80, 'S', 1)),
      { advanceMs: 61_000 },
      f('SYN after SYN_SENT expired', tcp(CLIENT, VIP, 48001, 80, 'S', 1)),
    ],
  },

  {
    name: 'full NAT with one source port: the second flow to the endpoint finds no free reply tuple; it frees on expiry',
    settings: { snatV4: SNAT, snatPortMin: 40000, snatPortMax: 40000 },
    services: [{ id: 1, vip: VIP, port: 80, mode: 'fullnat', endpoints: [{ ip: B0, port: 80 }] }],
    steps: [
      f('first client', tcp(CLIENT, VIP, 50000, 80, 'S', 1), 'new_flow'),
      f('second client', tcp('198.18.0.11', VIP, 50000, 80, 'S', 1), 'drop_snat_exhausted'),
      { advanceMs: 61_000 },
      f('second client after the first expired', tcp('198.18.0.11', VIP, 50000, 80, 'S', 1), 'new_flow'),
    ],
  },
  {
    name: 'parse: every input of the parse test with its reason',
    services: [
      { id: 1, vip: VIP, port: 80, endpoints: [{ ip: '198.18.1.1', port: 80 }] },
      { id: 2, vip: 'fd00::100:1', port: 80, endpoints: [{ ip: 'fd00::1:1', port: 80 }] },
    ],
    // BPF_PROG_TEST_RUN needs at least an Ethernet header
    steps: PARSE_CASES.filter(([, frame]) => frame.length >= 14).map(([note, frame, expect]) => ({ frame, note, expect })),
  },
];
