// Seeded random packet sequences for the differential test: a few services (DNAT, full NAT,
// UDP, ICMP echo, IPv6, lc), clients reusing a small set of ports so flows collide, restart and
// close, backends answering flows the model knows (any flags, in- and out-of-window sequence
// numbers), ICMP errors about live flows, lost entries and moving time. Deterministic per seed.
import type { DpCtEntry } from '../datapath/packet-datapath.ts';
import type { FrameSpec } from '../packet/index.ts';
import type { DiffCase, Step } from './differential-cases.ts';
import { seededRandom } from './select.ts';

const CLIENTS = ['198.18.0.10', '198.18.0.11', '198.18.0.12'];
const CLIENTS6 = ['fd00::10', 'fd00::11'];
const VIP = '198.18.100.1';
const VIP6 = 'fd00::100:1';
const BACKENDS = ['198.18.1.11', '198.18.1.12', '198.18.1.13'];
const SNAT = '198.18.0.1';
const FLAGS = ['S', 'S', 'SA', 'A', 'PA', 'FA', 'R', 'RA', 'A', 'PA'];

export function fuzzCase(seed: number, length: number): DiffCase {
  const rnd = seededRandom(seed * 7919 + 17);
  const pick = <T>(xs: readonly T[]): T => xs[rnd() % xs.length] as T;
  const seqOf = (): number => pick([0, 1, 1000, 1001, 5000, 5001, 70_000, 500_000, 4_294_967_000]) + (rnd() % 3);
  const steps: Step[] = [];
  for (let i = 0; i < length; i++) {
    const kind = rnd() % 100;
    const r1 = rnd();
    const r2 = rnd();
    const flags = pick(FLAGS);
    const seq = seqOf();
    const ack = seqOf();
    const payload = rnd() % 3 === 0 ? 'data' : undefined;
    if (kind < 35) {
      const port = pick([80, 81, 82]);
      const v6 = port === 82;
      const src = v6 ? pick(CLIENTS6) : pick(CLIENTS);
      steps.push({
        note: `client ${flags} to ${port}`,
        build: () => ({ ip: { src, dst: v6 ? VIP6 : VIP }, tcp: { sport: 40000 + (r1 % 4), dport: port, flags, seq, ack }, payload }),
      });
    } else if (kind < 60) {
      // a backend answers a flow the model tracks (a reply entry), with any flags
      steps.push({
        note: `backend ${flags}`,
        build: (ct: DpCtEntry[]): FrameSpec => {
          const replies = ct.filter((e) => e.reply && e.key.proto !== 'icmp');
          const e = replies[r1 % Math.max(1, replies.length)];
          if (e === undefined)
            return { ip: { src: pick(BACKENDS), dst: pick(CLIENTS) }, tcp: { sport: 8080, dport: 40000, flags, seq, ack } };
          const l4 =
            e.key.proto === 'udp'
              ? { udp: { sport: e.key.sport, dport: e.key.dport } }
              : { tcp: { sport: e.key.sport, dport: e.key.dport, flags, seq, ack } };
          return { ip: { src: e.key.src, dst: e.key.dst }, ...l4, payload };
        },
      });
    } else if (kind < 72) {
      const src = pick(CLIENTS);
      steps.push({
        note: 'udp',
        build: () => ({
          ip: { src, dst: VIP },
          udp: { sport: 5000 + (r1 % 3), dport: 53, ...(r2 % 4 === 0 ? { checksum: 'zero' as const } : {}) },
          payload: 1 + (r2 % 20),
        }),
      });
    } else if (kind < 80) {
      const src = pick(CLIENTS);
      steps.push({
        note: 'echo',
        build: () => ({ ip: { src, dst: VIP }, icmp: { type: 'echo-request', id: 1 + (r1 % 3), seq: r2 & 0xffff }, payload: 8 }),
      });
    } else if (kind < 90) {
      // an ICMP error about a tracked flow, quoting the packet as it left the LB
      steps.push({
        note: 'icmp error',
        build: (ct: DpCtEntry[]): FrameSpec => {
          const e = ct[r1 % Math.max(1, ct.length)];
          if (e === undefined || e.key.family !== 4)
            return {
              ip: { src: '198.18.0.254', dst: pick(CLIENTS) },
              icmp: { type: 'time-exceeded', inner: { ip: { src: VIP, dst: pick(CLIENTS) }, udp: { sport: 1, dport: 2 } } },
            };
          const innerL4 =
            e.key.proto === 'tcp'
              ? { tcp: { sport: e.nat.sport, dport: e.nat.dport, seq, ack, flags } }
              : e.key.proto === 'udp'
                ? { udp: { sport: e.nat.sport, dport: e.nat.dport } }
                : {
                    icmp: { type: e.reply ? ('echo-reply' as const) : ('echo-request' as const), id: e.reply ? e.nat.dport : e.nat.sport },
                  };
          const fromPeer = r2 % 2 === 0;
          return {
            ip: { src: fromPeer ? e.nat.dst : '198.18.0.254', dst: e.nat.src },
            icmp: {
              type: 'dest-unreachable',
              code: r2 % 3 === 0 ? 'frag-needed' : 'port',
              ...(r2 % 3 === 0 ? { mtu: 1300 } : {}),
              inner: { ip: { src: e.nat.src, dst: e.nat.dst }, ...innerL4, payload: r2 % 40 },
            },
          };
        },
      });
    } else if (kind < 96) {
      steps.push({ advanceMs: pick([100, 1500, 10_000, 35_000, 65_000, 130_000]) });
    } else {
      steps.push({ deleteCtAt: r1 });
    }
  }
  return {
    name: `random sequence, seed ${seed} (${length} steps)`,
    settings: { snatV4: SNAT },
    services: [
      { id: 1, vip: VIP, port: 80, algorithm: 'rr', endpoints: BACKENDS.map((ip) => ({ ip, port: 8080 })) },
      {
        id: 2,
        vip: VIP,
        port: 81,
        mode: 'fullnat',
        algorithm: 'hash',
        persistenceTimeoutS: 20,
        endpoints: BACKENDS.map((ip) => ({ ip, port: 81 })),
      },
      { id: 3, vip: VIP, port: 53, protocol: 'udp', algorithm: 'maglev', endpoints: BACKENDS.map((ip) => ({ ip, port: 5353 })) },
      { id: 4, vip: VIP, port: 0, protocol: 'icmp', mode: 'fullnat', endpoints: BACKENDS.map((ip) => ({ ip, port: 0 })) },
      {
        id: 5,
        vip: VIP6,
        port: 82,
        algorithm: 'lc',
        policer: { ratePps: 5, burst: 3 },
        endpoints: ['fd00::1:11', 'fd00::1:12'].map((ip) => ({ ip, port: 82 })),
      },
    ],
    steps,
  };
}
