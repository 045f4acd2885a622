// Differential sequences for the rules the datapath gained with Datapath v2 (docs/datapath.md
// "One lost side of a flow", "Re-selection", "RST sanity"): a lost entry rebuilt by the fast-path
// peer check or the slow path, a stale half ended, a new flow adopting its own live reply entry
// (DNAT and full NAT), bare RSTs judged by the other side's last ACK, SYNs re-selecting when the
// recorded endpoint was made inactive or removed, and the least-connection counts that follow.
// Appended to CASES by differential-cases.ts (own constants: no value import back, no cycle).
import type { DpCtEntry } from '../datapath/packet-datapath.ts';
import type { ReasonName } from '../schema/maps.ts';
import { buildFrame } from '../packet/index.ts';
import type { FrameSpec } from '../packet/index.ts';
import type { DiffCase, Step } from './differential-cases.ts';
import type { CaseService } from './case-service.ts';

const C = '198.18.0.20';
const VIP = '198.18.100.2';
const VIP2 = '198.18.100.3';
const SNAT = '198.18.0.1';
const B0 = '198.18.1.21';
const B1 = '198.18.1.22';
const B2 = '198.18.1.23';

const f = (note: string, spec: FrameSpec, expect?: ReasonName): Step => ({
  frame: buildFrame(spec),
  note,
  ...(expect !== undefined ? { expect } : {}),
});
const tcp = (src: string, dst: string, sport: number, dport: number, flags: string, seq = 0, ack = 0, payload?: string): FrameSpec => ({
  ip: { src, dst },
  tcp: { sport, dport, flags, seq, ack },
  payload,
});
const udp = (src: string, dst: string, sport: number, dport: number): FrameSpec => ({
  ip: { src, dst },
  udp: { sport, dport },
  payload: 6,
});

/** The SNAT port of the flow from client:sport, from whichever of its entries is left. */
function snatPort(ct: DpCtEntry[], client: string, sport: number): number {
  const fwd = ct.find((e) => !e.reply && e.key.src === client && e.key.sport === sport);
  if (fwd !== undefined) return fwd.nat.sport;
  return ct.find((e) => e.reply && e.nat.dst === client && e.nat.dport === sport)?.key.dport ?? 0;
}
/** The backend of that flow (the reply entry's source, else the forward entry's nat destination). */
function backendOf(ct: DpCtEntry[], client: string, sport: number): string {
  return (
    ct.find((e) => e.reply && e.nat.dst === client && e.nat.dport === sport)?.key.src ??
    ct.find((e) => !e.reply && e.key.src === client && e.key.sport === sport)?.nat.dst ??
    ''
  );
}

const svc = (
  id: number,
  mode: CaseService['mode'],
  algorithm: CaseService['algorithm'],
  endpoints: string[],
  port = 80,
  extra: Partial<CaseService> = {},
): CaseService => ({
  id,
  vip: VIP,
  port,
  mode,
  algorithm,
  endpoints: endpoints.map((ip) => ({ ip, port: 8080 })),
  ...extra,
});

const fwdKey = (sport: number, dst = VIP, dport = 80, proto: 'tcp' | 'udp' = 'tcp') => ({
  family: 4 as const,
  proto,
  src: C,
  dst,
  sport,
  dport,
});
const dnatReplyKey = (backend: string, sport: number, proto: 'tcp' | 'udp' = 'tcp') => ({
  family: 4 as const,
  proto,
  src: backend,
  dst: C,
  sport: 8080,
  dport: sport,
});

function dnatHandshake(sport: number, backend: string): Step[] {
  return [
    f('SYN', tcp(C, VIP, sport, 80, 'S', 1000), 'new_flow'),
    f('SYN-ACK', tcp(backend, C, 8080, sport, 'SA', 5000, 1001), 'tracked'),
    f('ACK', tcp(C, VIP, sport, 80, 'A', 1001, 5001), 'tracked'),
    f('data', tcp(C, VIP, sport, 80, 'PA', 1001, 5001, 'GET /'), 'fast_path'),
    f('reply data', tcp(backend, C, 8080, sport, 'PA', 5001, 1006, 'ok'), 'fast_path'),
  ];
}

export const HEAL_CASES: DiffCase[] = [
  {
    name: 'v2: DNAT reply entry lost: the fast path hands over after 1 s, the slow path rebuilds; the backend then gets through',
    services: [svc(1, 'dnat', 'hash', [B0])],
    steps: [
      ...dnatHandshake(50000, B0),
      { deleteCt: dnatReplyKey(B0, 50000) },
      f('backend data of no entry', tcp(B0, C, 8080, 50000, 'PA', 5003, 1006, 'x'), 'pass_no_service'),
      f('client data within 1 s of the last check', tcp(C, VIP, 50000, 80, 'PA', 1006, 5003, 'a'), 'fast_path'),
      { advanceMs: 1100 },
      f('client data after 1 s: peer missing, tracked, rebuilt', tcp(C, VIP, 50000, 80, 'PA', 1007, 5003, 'b'), 'tracked'),
      f('backend data through the rebuilt entry', tcp(B0, C, 8080, 50000, 'PA', 5003, 1008, 'y'), 'fast_path'),
      f('bare RST from the backend (seq unknown in the rebuilt entry, = the client ack)', tcp(B0, C, 8080, 50000, 'R', 5003), 'tracked'),
    ],
  },
  {
    name: 'v2: DNAT forward entry lost: the client adopts its live reply entry (no flow counted), the backend rebuilds the other way',
    services: [svc(1, 'dnat', 'hash', [B0, B1, B2])],
    steps: [
      { note: 'SYN', expect: 'new_flow', frame: buildFrame(tcp(C, VIP, 50010, 80, 'S', 1000)) },
      { note: 'SYN-ACK', expect: 'tracked', build: (ct) => tcp(backendOf(ct, C, 50010), C, 8080, 50010, 'SA', 5000, 1001) },
      f('ACK', tcp(C, VIP, 50010, 80, 'A', 1001, 5001), 'tracked'),
      { deleteCt: fwdKey(50010) },
      f('client data: adopted', tcp(C, VIP, 50010, 80, 'PA', 1001, 5001, 'GET /'), 'tracked'),
      f('client data again', tcp(C, VIP, 50010, 80, 'PA', 1006, 5001, 'more'), 'fast_path'),
      { deleteCt: fwdKey(50010) },
      {
        note: 'backend data within 1 s of its last check: fast path',
        expect: 'fast_path',
        build: (ct) => tcp(backendOf(ct, C, 50010), C, 8080, 50010, 'PA', 5001, 1010, 'ok'),
      },
      { advanceMs: 1100 },
      {
        note: 'backend data after 1 s: forward entry missing: tracked, rebuilt',
        expect: 'tracked',
        build: (ct) => tcp(backendOf(ct, C, 50010), C, 8080, 50010, 'PA', 5003, 1010, 'ok'),
      },
      f('client FIN', tcp(C, VIP, 50010, 80, 'FA', 1010, 5005), 'tracked'),
      { deleteCt: fwdKey(50010) },
      f('client FIN retransmit on the adopted flow', tcp(C, VIP, 50010, 80, 'FA', 1010, 5005), 'tracked'),
    ],
  },
  {
    name: 'v2: full NAT forward entry lost: a mid-stream packet adopts among the 8 SNAT candidates; UDP too',
    settings: { snatV4: SNAT },
    services: [
      svc(1, 'fullnat', 'hash', [B0]),
      { id: 2, vip: VIP, port: 53, protocol: 'udp', mode: 'fullnat', endpoints: [{ ip: B0, port: 53 }] },
    ],
    steps: [
      f('SYN', tcp(C, VIP, 50020, 80, 'S', 1000), 'new_flow'),
      { note: 'SYN-ACK', expect: 'tracked', build: (ct) => tcp(B0, SNAT, 8080, snatPort(ct, C, 50020), 'SA', 5000, 1001) },
      f('ACK', tcp(C, VIP, 50020, 80, 'A', 1001, 5001), 'tracked'),
      { deleteCt: fwdKey(50020) },
      f('client data: adopted', tcp(C, VIP, 50020, 80, 'PA', 1001, 5001, 'GET /'), 'tracked'),
      { note: 'backend data', expect: 'fast_path', build: (ct) => tcp(B0, SNAT, 8080, snatPort(ct, C, 50020), 'PA', 5001, 1006, 'ok') },
      f('query', udp(C, VIP, 50021, 53), 'new_flow'),
      { note: 'answer', expect: 'tracked', build: (ct) => udp(B0, SNAT, 53, snatPort(ct, C, 50021)) },
      { deleteCt: fwdKey(50021, VIP, 53, 'udp') },
      f('query again: adopted', udp(C, VIP, 50021, 53), 'tracked'),
      { note: 'answer again', expect: 'fast_path', build: (ct) => udp(B0, SNAT, 53, snatPort(ct, C, 50021)) },
    ],
  },
  {
    name: 'v2: forward entry lost, then SYN on the TIME_WAIT tuple (adopted and restarted on the same endpoint: DNAT, and full NAT on the same SNAT port)',
    settings: { snatV4: SNAT },
    services: [svc(1, 'dnat', 'hash', [B0]), svc(2, 'fullnat', 'hash', [B1], 81)],
    steps: [
      ...(
        [
          [80, 50030, B0, C],
          [81, 50031, B1, SNAT],
        ] as const
      ).flatMap(([port, sport, be, dst]): Step[] => [
        f(`SYN ${port}`, tcp(C, VIP, sport, port, 'S', 1000), 'new_flow'),
        {
          note: `SYN-ACK ${port}`,
          expect: 'tracked',
          build: (ct) => tcp(be, dst, 8080, dst === SNAT ? snatPort(ct, C, sport) : sport, 'SA', 5000, 1001),
        },
        f(`ACK ${port}`, tcp(C, VIP, sport, port, 'A', 1001, 5001), 'tracked'),
        f(`FIN ${port}`, tcp(C, VIP, sport, port, 'FA', 1001, 5001), 'tracked'),
        {
          note: `FIN back ${port}`,
          expect: 'tracked',
          build: (ct) => tcp(be, dst, 8080, dst === SNAT ? snatPort(ct, C, sport) : sport, 'FA', 5001, 1002),
        },
        f(`last ACK ${port}`, tcp(C, VIP, sport, port, 'A', 1002, 5002), 'tracked'),
        { deleteCt: fwdKey(sport, VIP, port) },
        f(`SYN again ${port}: adopted, restarted`, tcp(C, VIP, sport, port, 'S', 9000), 'tracked'),
        {
          note: `SYN-ACK again ${port}`,
          expect: 'tracked',
          build: (ct) => tcp(be, dst, 8080, dst === SNAT ? snatPort(ct, C, sport) : sport, 'SA', 7000, 9001),
        },
      ]),
    ],
  },
  {
    name: 'v2: a stale half is ended when another live flow holds its peer key (DNAT, two VIPs, one endpoint port)',
    services: [svc(1, 'dnat', 'hash', [B0]), { ...svc(2, 'dnat', 'hash', [B0]), vip: VIP2 }],
    steps: [
      ...dnatHandshake(50040, B0),
      { deleteCt: dnatReplyKey(B0, 50040) },
      f('same client port to the other VIP takes the reply tuple', tcp(C, VIP2, 50040, 80, 'S', 3000), 'new_flow'),
      f(
        'old flow client FIN: peer key foreign and live: dropped, entry deleted',
        tcp(C, VIP, 50040, 80, 'FA', 1006, 5003),
        'drop_ct_failed',
      ),
      f(
        'old flow client again: a new flow, refused by the live reply tuple',
        tcp(C, VIP, 50040, 80, 'PA', 1006, 5003, 'z'),
        'drop_ct_failed',
      ),
      f('backend answers the new flow', tcp(B0, C, 8080, 50040, 'SA', 8000, 3001), 'tracked'),
    ],
  },
  {
    name: "v2: bare RSTs from a backend whose sequence is unknown: within the window of the client's last ACK or not",
    services: [svc(1, 'dnat', 'hash', [B0])],
    steps: [
      f('mid-stream ACK creates the flow', tcp(C, VIP, 50050, 80, 'A', 100, 777000), 'midstream_new'),
      f('bare RST far from the client ack', tcp(B0, C, 8080, 50050, 'R', 777000 + 10_000_000), 'drop_rst_invalid'),
      f('bare RST at the client ack', tcp(B0, C, 8080, 50050, 'R', 777000), 'tracked'),
      f('SYN', tcp(C, VIP, 50051, 80, 'S', 100), 'new_flow'),
      f('bare RST refusing a SYN (no ACK known on the client side)', tcp(B0, C, 8080, 50051, 'R', 0), 'drop_rst_invalid'),
      f('RST-ACK refusing it', tcp(B0, C, 8080, 50051, 'RA', 0, 101), 'tracked'),
    ],
  },
  {
    name: 'v2: re-selection: SYN retransmit and TIME_WAIT reuse after the endpoint was made inactive or removed; lc counts follow',
    services: [svc(1, 'dnat', 'lc', [B0, B1]), svc(2, 'dnat', 'rr', [B0, B1], 81)],
    steps: [
      f('lc SYN a (slot 0)', tcp(C, VIP, 50060, 80, 'S', 1), 'new_flow'),
      f('lc SYN b (slot 1)', tcp(C, VIP, 50061, 80, 'S', 1), 'new_flow'),
      f('rr SYN (slot 0)', tcp(C, VIP, 50062, 81, 'S', 1), 'new_flow'),
      f('rr SYN retransmit, endpoint usable: same flow', tcp(C, VIP, 50062, 81, 'S', 1), 'tracked'),
      {
        reprogram: {
          ...svc(1, 'dnat', 'lc', [B0, B1]),
          endpoints: [
            { ip: B0, port: 8080, active: false },
            { ip: B1, port: 8080 },
          ],
        },
      },
      {
        reprogram: {
          ...svc(2, 'dnat', 'rr', [B0, B1], 81),
          endpoints: [
            { ip: B0, port: 8080, active: false },
            { ip: B1, port: 8080 },
          ],
        },
      },
      f('lc SYN a retransmit: slot 0 inactive: re-selected', tcp(C, VIP, 50060, 80, 'S', 1), 'new_flow'),
      f('rr SYN retransmit: re-selected', tcp(C, VIP, 50062, 81, 'S', 1), 'new_flow'),
      f('lc SYN b retransmit: kept', tcp(C, VIP, 50061, 80, 'S', 1), 'tracked'),
      f('SYN-ACK b', tcp(B1, C, 8080, 50061, 'SA', 10, 2), 'tracked'),
      f('ACK b', tcp(C, VIP, 50061, 80, 'A', 2, 11), 'tracked'),
      f('FIN b', tcp(C, VIP, 50061, 80, 'FA', 2, 11), 'tracked'),
      f('FIN back b', tcp(B1, C, 8080, 50061, 'FA', 11, 3), 'tracked'),
      f('last ACK b (TIME_WAIT, lc released)', tcp(C, VIP, 50061, 80, 'A', 3, 12), 'tracked'),
      { reprogram: { ...svc(1, 'dnat', 'lc', [B0, B1]), endpoints: [{ ip: B0, port: 8080 }] } },
      f('SYN on the TIME_WAIT tuple, its endpoint removed: re-selected', tcp(C, VIP, 50061, 80, 'S', 500), 'new_flow'),
      f('established flow keeps a removed endpoint', tcp(C, VIP, 50063, 80, 'A', 1, 1), 'midstream_new'),
    ],
  },
  {
    name: 'v2: one-way UDP with the reply entry lost is rebuilt by the once-a-second check; policer asked once',
    services: [{ id: 1, vip: VIP, port: 53, protocol: 'udp', endpoints: [{ ip: B0, port: 53 }], policer: { ratePps: 1000, burst: 2 } }],
    steps: [
      f('q', udp(C, VIP, 50070, 53), 'new_flow'),
      f('r', udp(B0, C, 53, 50070), 'tracked'),
      f('q2', udp(C, VIP, 50070, 53), 'tracked'),
      { deleteCt: { family: 4, proto: 'udp', src: B0, dst: C, sport: 53, dport: 50070 } },
      { advanceMs: 1100 },
      f('q3: peer missing after 1 s: tracked', udp(C, VIP, 50070, 53), 'tracked'),
      f('q4', udp(C, VIP, 50070, 53), 'fast_path'),
      f('r2 through the rebuilt entry', udp(B0, C, 53, 50070), 'fast_path'),
    ],
  },
  {
    name: 'v2: mid-stream flow: short timeout until the backend answers, its first packet tracked, then ordinary',
    services: [svc(1, 'dnat', 'hash', [B0])],
    steps: [
      f('mid-stream ACK a', tcp(C, VIP, 50080, 80, 'A', 10, 20), 'midstream_new'),
      f('mid-stream ACK b', tcp(C, VIP, 50081, 80, 'A', 10, 20), 'midstream_new'),
      f('backend answers b: slow path', tcp(B0, C, 8080, 50081, 'A', 20, 10), 'tracked'),
      f('backend again: fast path', tcp(B0, C, 8080, 50081, 'PA', 20, 10, 'x'), 'fast_path'),
      { advanceMs: 61_000 },
      f('a after 61 s of silence: expired, a new flow', tcp(C, VIP, 50080, 80, 'A', 10, 20), 'midstream_new'),
      f('b after 61 s: ordinary ESTABLISHED timeout, alive', tcp(C, VIP, 50081, 80, 'A', 10, 21), 'fast_path'),
    ],
  },
  {
    name: 'v2: lc: a SYN restarting a TIME_WAIT tuple on its usable endpoint is counted again',
    services: [svc(1, 'dnat', 'lc', [B0, B1])],
    steps: [
      f('SYN', tcp(C, VIP, 50090, 80, 'S', 1), 'new_flow'),
      f('SYN-ACK', tcp(B0, C, 8080, 50090, 'SA', 10, 2), 'tracked'),
      f('ACK', tcp(C, VIP, 50090, 80, 'A', 2, 11), 'tracked'),
      f('FIN', tcp(C, VIP, 50090, 80, 'FA', 2, 11), 'tracked'),
      f('FIN back', tcp(B0, C, 8080, 50090, 'FA', 11, 3), 'tracked'),
      f('last ACK (released)', tcp(C, VIP, 50090, 80, 'A', 3, 12), 'tracked'),
      f('SYN on the TIME_WAIT tuple: restarted, counted', tcp(C, VIP, 50090, 80, 'S', 900), 'tracked'),
      f('a second flow goes to the other slot', tcp(C, VIP, 50091, 80, 'S', 1), 'new_flow'),
      f('RST closes the restarted flow (released)', tcp(C, VIP, 50090, 80, 'R', 901), 'tracked'),
    ],
  },
  {
    // docs/datapath.md "Order of the pipeline", tracked (3): a policed packet changes nothing,
    // and "Least-connection counters": a restart is counted as a new connection. Until dpfix2
    // the kernel counted the restart (+1, LC_COUNTED set in both entries) before the policer
    // dropped the SYN (failed at 1ca44ca).
    name: 'v2: lc: a policed restart SYN does not count the flow again',
    services: [svc(1, 'dnat', 'lc', [B0], 80, { policer: { ratePps: 1, burst: 0 } })],
    steps: [
      f('SYN', tcp(C, VIP, 50100, 80, 'S', 1), 'new_flow'),
      { advanceMs: 1100 },
      f('SYN-ACK', tcp(B0, C, 8080, 50100, 'SA', 10, 2), 'tracked'),
      f('ACK', tcp(C, VIP, 50100, 80, 'A', 2, 11), 'tracked'),
      { advanceMs: 1100 },
      f('FIN', tcp(C, VIP, 50100, 80, 'FA', 2, 11), 'tracked'),
      f('FIN back', tcp(B0, C, 8080, 50100, 'FA', 11, 3), 'tracked'),
      { advanceMs: 1100 },
      f('last ACK (released)', tcp(C, VIP, 50100, 80, 'A', 3, 12), 'tracked'),
      f('restart SYN, policed', tcp(C, VIP, 50100, 80, 'S', 900), 'drop_policed'),
    ],
  },
  {
    // docs/datapath.md "Least-connection counters": a SYN that restarts a TIME_WAIT / CLOSED flow
    // on its usable endpoint of an lc service is a new connection, +1; "One lost side", rule 2:
    // an adopted SYN on a TIME_WAIT tuple restarts it on the same endpoint. Until dpfix2 the
    // kernel did not count the restart when the forward entry had been lost (failed at 1ca44ca).
    name: 'v2: lc: a restart SYN that adopts a TIME_WAIT reply entry is counted again',
    services: [svc(1, 'dnat', 'lc', [B0])],
    steps: [
      f('SYN', tcp(C, VIP, 50110, 80, 'S', 1), 'new_flow'),
      f('SYN-ACK', tcp(B0, C, 8080, 50110, 'SA', 10, 2), 'tracked'),
      f('ACK', tcp(C, VIP, 50110, 80, 'A', 2, 11), 'tracked'),
      f('FIN', tcp(C, VIP, 50110, 80, 'FA', 2, 11), 'tracked'),
      f('FIN back', tcp(B0, C, 8080, 50110, 'FA', 11, 3), 'tracked'),
      f('last ACK (released)', tcp(C, VIP, 50110, 80, 'A', 3, 12), 'tracked'),
      { deleteCt: fwdKey(50110) },
      f('SYN on the TIME_WAIT tuple: adopted, restarted', tcp(C, VIP, 50110, 80, 'S', 900), 'tracked'),
    ],
  },
];

/** Sequences where the model (the spec) and the kernel disagree: none known. */
export const HEAL_KNOWN_DISAGREEMENTS: DiffCase[] = [];
