// Inputs with the reason docs/datapath.md "Parsing" gives them, shared by the model's parse test
// and the differential test (every one of them also against the kernel).
import { buildFrame } from '../packet/index.ts';
import type { ReasonName } from '../schema/maps.ts';

export const C = '198.18.0.10';
export const VIP = '198.18.100.1';
export const C6 = 'fd00::10';
export const VIP6 = 'fd00::100:1';
export const hbh = { type: 'hop-by-hop' as const };

export const PARSE_CASES: Array<[string, Buffer, ReasonName]> = [
  ['13 bytes', Buffer.alloc(13), 'drop_malformed'],
  ['ARP', buildFrame({ eth: { type: 0x0806 }, payload: 28 }), 'pass_not_ip'],
  ['three VLAN tags', buildFrame({ vlan: [1, 2, 3], ip: { src: C, dst: VIP }, tcp: { sport: 1, dport: 80 } }), 'pass_not_ip'],
  [
    'IPv4 EtherType with version 6',
    (() => {
      const b = buildFrame({ ip: { src: C, dst: VIP }, tcp: { sport: 1, dport: 80 } });
      b[14] = 0x65;
      return b;
    })(),
    'drop_malformed',
  ],
  ['IHL 4', buildFrame({ ip: { src: C, dst: VIP, ihl: 4 }, tcp: { sport: 1, dport: 80 } }), 'drop_malformed'],
  [
    'total length past the frame',
    buildFrame({ ip: { src: C, dst: VIP, totalLength: 100 }, tcp: { sport: 1, dport: 80 } }),
    'drop_malformed',
  ],
  ['fragment (MF)', buildFrame({ ip: { src: C, dst: VIP, mf: true }, tcp: { sport: 1, dport: 80 } }), 'pass_fragment'],
  [
    'fragment offset, TTL 1',
    buildFrame({ ip: { src: C, dst: VIP, fragOffset: 8, ttl: 1 }, tcp: { sport: 1, dport: 80 } }),
    'pass_fragment',
  ],
  ['TTL 1', buildFrame({ ip: { src: C, dst: VIP, ttl: 1 }, tcp: { sport: 1, dport: 80 } }), 'pass_ttl'],
  ['hop limit 1', buildFrame({ ip: { src: C6, dst: VIP6, ttl: 1 }, tcp: { sport: 1, dport: 80 } }), 'pass_ttl'],
  ['TCP data offset 4', buildFrame({ ip: { src: C, dst: VIP }, tcp: { sport: 1, dport: 80, dataOffset: 4 } }), 'drop_malformed'],
  ['TCP data offset beyond L4', buildFrame({ ip: { src: C, dst: VIP }, tcp: { sport: 1, dport: 80, dataOffset: 15 } }), 'drop_malformed'],
  ['UDP length 7', buildFrame({ ip: { src: C, dst: VIP }, udp: { sport: 1, dport: 80, length: 7 } }), 'drop_malformed'],
  ['UDP length past L4', buildFrame({ ip: { src: C, dst: VIP }, udp: { sport: 1, dport: 80, length: 9 } }), 'drop_malformed'],
  [
    'IPv6 fragment header',
    buildFrame({ ip: { src: C6, dst: VIP6, extensions: [{ type: 'fragment' }] }, tcp: { sport: 1, dport: 80 } }),
    'pass_fragment',
  ],
  [
    'IPv6 later fragment (no L4 header)',
    buildFrame({ ip: { src: C6, dst: VIP6, protocol: 17, extensions: [{ type: 'fragment', offset: 8, id: 7 }] }, payload: 16 }),
    'pass_fragment_no_record',
  ],
  [
    'IPv6 Fragment header cut by the frame (6 of 8 bytes)',
    (() => {
      const b = buildFrame({ ip: { src: C6, dst: VIP6, protocol: 17, extensions: [{ type: 'fragment', offset: 8 }] } }).subarray(0, 60);
      b.writeUInt16BE(6, 18);
      return Buffer.from(b);
    })(),
    'drop_malformed',
  ],
  [
    'IPv6 Fragment header beyond the payload length',
    (() => {
      const b = buildFrame({ ip: { src: C6, dst: VIP6, protocol: 17, extensions: [{ type: 'fragment', offset: 8 }] }, payload: 8 });
      b.writeUInt16BE(6, 18);
      return b;
    })(),
    'drop_malformed',
  ],
  [
    'IPv6 five extension headers',
    buildFrame({ ip: { src: C6, dst: VIP6, extensions: [hbh, hbh, hbh, hbh, hbh] }, tcp: { sport: 1, dport: 80 } }),
    'pass_no_service',
  ],
  [
    'IPv6 fragment header fifth',
    buildFrame({ ip: { src: C6, dst: VIP6, extensions: [hbh, hbh, hbh, hbh, { type: 'fragment' }] }, tcp: { sport: 1, dport: 80 } }),
    'pass_no_service',
  ],
  [
    'IPv6 payload length past the frame',
    buildFrame({ ip: { src: C6, dst: VIP6, payloadLength: 500 }, tcp: { sport: 1, dport: 80 } }),
    'drop_malformed',
  ],
  ['ICMPv6 over IPv4', buildFrame({ ip: { src: C, dst: VIP, protocol: 58 }, udp: { sport: 1, dport: 2 } }), 'pass_no_service'],
  ['other ICMP type', buildFrame({ ip: { src: C, dst: VIP }, icmp: { type: 13 } }), 'pass_no_service'],
  [
    'ICMP error quoting 4 L4 bytes',
    buildFrame({
      ip: { src: C, dst: VIP },
      icmp: { type: 'time-exceeded', quoteLength: 24, inner: { ip: { src: VIP, dst: C }, udp: { sport: 1, dport: 2 } } },
    }),
    'drop_malformed',
  ],
  // failed at 1ca44ca (drop_malformed: the length was checked before the protocol)
  [
    'ICMP error quoting 4 L4 bytes of SCTP (not a VIP flow)',
    buildFrame({
      ip: { src: '198.18.0.254', dst: C },
      icmp: { type: 'dest-unreachable', quoteLength: 24, inner: { ip: { src: C, dst: '198.18.7.7', protocol: 132 }, payload: 12 } },
    }),
    'pass_no_service',
  ],
  // failed at 1ca44ca (balanced: the destination rewritten with a pseudo-header difference
  // against the waypoint, not the final destination the checksum holds)
  [
    'IPv6 routing header with segments left',
    buildFrame({
      ip: {
        src: C6,
        dst: VIP6,
        extensions: [
          {
            type: 'routing',
            routingType: 4,
            segmentsLeft: 1,
            data: Buffer.concat([Buffer.alloc(4), Buffer.from('fd000000000000000000000000000099', 'hex')]),
          },
        ],
      },
      tcp: { sport: 1, dport: 80, flags: 'S' },
    }),
    'pass_no_service',
  ],
  ['SCTP', buildFrame({ ip: { src: C, dst: VIP, protocol: 132 }, payload: 12 }), 'pass_no_service'],
];
