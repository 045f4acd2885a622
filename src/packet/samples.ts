// Named sample packets for tests across the project (datapath, model, lab) and the golden
// fixtures in fixtures/packets/. Client 198.18.0.10 / fd00::10 talks to VIP 198.18.100.1 /
// fd00::100:1; backends live in 198.18.1.0/24 / fd00::1:0/112.
import { parseIpv6 } from './addr.ts';
import type { FrameSpec, TcpOption } from './spec.ts';

export const CLIENT4 = '198.18.0.10';
export const VIP4 = '198.18.100.1';
export const BACKEND4 = '198.18.1.11';
export const CLIENT6 = 'fd00::10';
export const VIP6 = 'fd00::100:1';
export const BACKEND6 = 'fd00::1:11';

/** The options Linux puts on a SYN: MSS, SACK-permitted, timestamps, NOP, window scale. */
export const LINUX_SYN_OPTIONS: TcpOption[] = [
  { kind: 'mss', value: 1460 },
  { kind: 'sack-permitted' },
  { kind: 'timestamp', value: 1000, echo: 0 },
  { kind: 'nop' },
  { kind: 'wscale', shift: 7 },
];

const c4 = { src: CLIENT4, dst: VIP4 };
const r4 = { src: VIP4, dst: CLIENT4 };
const c6 = { src: CLIENT6, dst: VIP6 };

export const SAMPLES: Record<string, FrameSpec> = {
  'tcp4-syn': {
    ip: { ...c4, df: true, id: 1 },
    tcp: { sport: 40000, dport: 80, seq: 1000, flags: 'S', window: 64240, options: LINUX_SYN_OPTIONS },
  },
  'tcp4-synack': {
    ip: { ...r4, df: true },
    tcp: { sport: 80, dport: 40000, seq: 5000, ack: 1001, flags: 'SA', window: 65160, options: LINUX_SYN_OPTIONS },
  },
  'tcp4-ack-data': {
    ip: { ...c4, df: true, id: 2 },
    tcp: { sport: 40000, dport: 80, seq: 1001, ack: 5001, flags: 'PA', window: 502 },
    payload: 'GET / HTTP/1.1\r\nHost: vip\r\n\r\n',
  },
  'tcp4-fin': { ip: { ...c4, df: true, id: 3 }, tcp: { sport: 40000, dport: 80, seq: 1029, ack: 5001, flags: 'FA', window: 502 } },
  'tcp4-rst': { ip: { ...r4, df: true }, tcp: { sport: 80, dport: 40000, seq: 5001, flags: 'R', window: 0 } },
  'tcp4-partial-csum': {
    ip: { ...c4, df: true },
    tcp: { sport: 40000, dport: 80, seq: 1001, ack: 5001, flags: 'PA', checksum: 'partial' },
    payload: 100,
  },
  'tcp4-bad-csum': { ip: { ...c4, df: true }, tcp: { sport: 40000, dport: 80, seq: 1001, ack: 5001, flags: 'A', checksum: 'bad' } },
  'tcp6-syn': { ip: { ...c6, flowLabel: 0x12345 }, tcp: { sport: 40000, dport: 443, seq: 7, flags: 'S', options: LINUX_SYN_OPTIONS } },
  udp4: { ip: { ...c4, id: 4 }, udp: { sport: 53000, dport: 9000 }, payload: 29 },
  'udp4-no-csum': { ip: { ...c4, id: 5 }, udp: { sport: 53000, dport: 9000, checksum: 'zero' }, payload: 29 },
  udp6: { ip: c6, udp: { sport: 53000, dport: 9000 }, payload: 29 },
  'icmp4-echo-request': { ip: { ...c4, df: true }, icmp: { type: 'echo-request', id: 0x4242, seq: 1 }, payload: 56 },
  'icmp4-echo-reply': { ip: r4, icmp: { type: 'echo-reply', id: 0x4242, seq: 1 }, payload: 56 },
  'icmp6-echo-request': { ip: c6, icmp: { type: 'echo-request', id: 0x4242, seq: 1 }, payload: 56 },
  'icmp4-frag-needed': {
    ip: { src: '198.18.0.1', dst: VIP4 },
    icmp: {
      type: 'dest-unreachable',
      code: 'frag-needed',
      mtu: 1400,
      inner: { ip: { ...r4, df: true }, tcp: { sport: 80, dport: 40000, seq: 5001, ack: 1029, flags: 'PA' }, payload: 1448 },
    },
  },
  'icmp4-port-unreachable': {
    ip: { src: BACKEND4, dst: CLIENT4 },
    icmp: {
      type: 'dest-unreachable',
      code: 'port',
      inner: { ip: { src: CLIENT4, dst: BACKEND4 }, udp: { sport: 53000, dport: 9000 }, payload: 29 },
    },
  },
  'icmp6-packet-too-big': {
    ip: { src: 'fd00::1', dst: VIP6 },
    icmp: {
      type: 'packet-too-big',
      mtu: 1280,
      inner: { ip: { src: VIP6, dst: CLIENT6 }, tcp: { sport: 443, dport: 40000, flags: 'PA' }, payload: 1400 },
    },
  },
  'vlan-tcp4-syn': { vlan: { id: 100, pcp: 3 }, ip: c4, tcp: { sport: 40001, dport: 80, flags: 'S' } },
  'qinq-udp6': { vlan: [200, 300], ip: c6, udp: { sport: 1234, dport: 5678 }, payload: 8 },
  'ipv4-options-udp': { ip: { ...c4, options: [{ type: 148, data: new Uint8Array(2) }] }, udp: { sport: 1, dport: 2 }, payload: 4 },
  'ipv6-ext-tcp': {
    ip: {
      ...c6,
      extensions: [
        { type: 'hop-by-hop' },
        { type: 'routing', routingType: 4, segmentsLeft: 0, data: Uint8Array.from([0, 0, 0, 0, ...parseIpv6(VIP6)]) },
        { type: 'dest-opts' },
      ],
    },
    tcp: { sport: 40002, dport: 80, flags: 'S' },
  },
  'ipv4-first-fragment': { ip: { ...c4, id: 77, mf: true }, udp: { sport: 53000, dport: 9000, length: 1508 }, payload: 1472 },
  'ipv4-later-fragment': { ip: { ...c4, id: 77, fragOffset: 1480, protocol: 17 }, payload: 28 },
  'ipv6-later-fragment': { ip: { ...c6, protocol: 17, extensions: [{ type: 'fragment', offset: 1448, id: 78 }] }, payload: 28 },
  'arp-request': {
    eth: { dst: 'ff:ff:ff:ff:ff:ff', type: 0x0806 },
    payload: Uint8Array.from([0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 198, 18, 0, 10, 0, 0, 0, 0, 0, 0, 198, 18, 0, 1]),
  },
};
