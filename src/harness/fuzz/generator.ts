// The seeded generator of fuzz sequences. It plays clients and backends of whole flows against
// the fuzz world (world.ts): TCP handshakes, data both ways, FIN closes from either side, RSTs
// (in window, out of window, a backend's bare RST), SYN and data retransmits, tuples reused
// after a close; UDP both ways (zero checksums too); ICMP echo; ICMP errors about live flows in
// both directions (IPv4 and IPv6); and, around them, malformed and truncated frames, non-VIP
// traffic, mid-stream packets of unknown flows, clock moves, endpoint changes through the
// controller and conntrack entries deleted on both sides.
//
// It learns where a flow went from the reference side's answer (feedback(): the translated
// frame a client packet left as), so backends answer the endpoint and SNAT port the datapath
// chose. Deterministic for a seed and a reference side's behaviour. Memory is bounded: flows are
// keyed by a small pool of client tuples (4 + 2 clients, 8 ports each), so tuples collide,
// restart and reuse, and the conntrack table stays far below its size (the kernel's LRU and the
// model's need not evict alike).
import type { DpTuple, FrameResult } from '../../datapath/packet-datapath.ts';
import { buildFrame, decodeFrame } from '../../packet/index.ts';
import type { FrameSpec, IpPacketSpec } from '../../packet/index.ts';
import type { FuzzStep } from './steps.ts';
import { CLIENTS4, CLIENTS6, ECHO_SERVICES, ROUTER4, ROUTER6, SERVICES, VIPS4, VIPS6 } from './world.ts';
import type { ControlStep, FuzzEndpoint, FuzzService } from './world.ts';

/** mulberry32: the generator's own PRNG (not the model's, so model changes leave sequences alone). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The translated tuple a client packet left the LB with (learned from the reference side). */
interface Out {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

interface Flow {
  tag: string;
  proto: 'tcp' | 'udp' | 'icmp';
  client: string;
  cport: number;
  vip: string;
  vport: number;
  out?: Out;
  /** Next sequence numbers of client and backend; the backend's last ACK value. */
  cseq: number;
  bseq: number;
  /** 0 SYN sent, 1 SYN-ACK seen, 2 established, 3 FIN(s), 4 closed. */
  phase: number;
  lastClient?: string;
}

const ADVANCES_MS = [40, 350, 1_150, 2_600, 10_300, 20_700, 31_200, 61_400, 121_300, 181_700];

export class Generator {
  private readonly rnd: () => number;
  private readonly flows = new Map<string, Flow>();
  private readonly flowList: Flow[] = [];
  /** Flows whose translation is known, all and by protocol (picked from on every step: no filtering). */
  private readonly live: Record<Flow['proto'] | 'any', Flow[]> = { tcp: [], udp: [], icmp: [], any: [] };
  private nextTag = 0;
  /** The flow whose client packet is in flight (feedback learns its translation). */
  private pending: Flow | undefined;
  /** Endpoint changes so far: per service, the current endpoint list and who is down. */
  private readonly eps = new Map<string, FuzzEndpoint[]>(SERVICES.map((s) => [s.name, [...s.endpoints]]));
  private readonly down = new Set<string>();

  constructor(readonly seed: number) {
    this.rnd = prng(seed * 2654435761 + 12345);
  }

  private int(n: number): number {
    return this.rnd() % n;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.rnd() % xs.length] as T;
  }

  private chance(percent: number): boolean {
    return this.rnd() % 100 < percent;
  }

  private flow(proto: Flow['proto'], client: string, cport: number, vip: string, vport: number): Flow {
    const key = `${proto}|${client}|${cport}|${vip}|${vport}`;
    let f = this.flows.get(key);
    if (f === undefined) {
      f = { tag: `f${this.nextTag++}`, proto, client, cport, vip, vport, cseq: 0, bseq: 0, phase: 0 };
      this.flows.set(key, f);
      this.flowList.push(f);
    }
    return f;
  }

  private liveFlow(proto?: Flow['proto']): Flow | undefined {
    const xs = this.live[proto ?? 'any'];
    return xs.length === 0 ? undefined : this.pick(xs);
  }

  private pkt(spec: FrameSpec, note: string, from?: Flow): FuzzStep {
    const hex = buildFrame(spec).toString('hex');
    this.pending = from;
    if (from !== undefined) from.lastClient = hex;
    return { p: hex, n: note };
  }

  /** The reference side's answer to the last packet: learn the flow's translation. */
  feedback(r: FrameResult | undefined): void {
    const f = this.pending;
    this.pending = undefined;
    if (f === undefined || r === undefined || r.verdict === 'drop' || r.fwd === undefined) return;
    const d = decodeFrame(r.frame);
    if (d.ip === undefined) return;
    if (f.out === undefined) {
      this.live[f.proto].push(f);
      this.live.any.push(f);
    }
    const l4 = d.tcp ?? d.udp;
    if (l4 !== undefined) f.out = { src: d.ip.src, dst: d.ip.dst, sport: l4.sport, dport: l4.dport };
    else if (d.icmp?.id !== undefined) f.out = { src: d.ip.src, dst: d.ip.dst, sport: d.icmp.id, dport: 0 };
  }

  next(): FuzzStep {
    const k = this.int(1000);
    if (k < 150) return this.tcpSyn();
    if (k < 450) return this.tcpContinue() ?? this.tcpSyn();
    if (k < 560) return this.udp();
    if (k < 610) return this.echo();
    if (k < 680) return this.icmpError() ?? this.udp();
    if (k < 790) return this.malformed();
    if (k < 850) return this.nonVip();
    if (k < 870) return this.midstream();
    if (k < 930) return { clock: this.pick(ADVANCES_MS) };
    if (k < 960) return this.deleteCt() ?? { clock: this.pick(ADVANCES_MS) };
    if (k < 975) return { ctl: this.control() };
    return this.retransmit() ?? this.tcpSyn();
  }

  // ------------------------------------------------------------------ TCP
  private tcpService(): FuzzService {
    return this.pick(SERVICES.filter((s) => s.protocol === 'tcp'));
  }

  private vport(s: FuzzService): number {
    return s.portEnd === undefined ? s.port : s.port + this.int(s.portEnd - s.port + 2); // one past the range: no service
  }

  private clientOf(vip: string): string {
    return vip.includes(':') ? this.pick(CLIENTS6) : this.pick(CLIENTS4);
  }

  private tcpSyn(): FuzzStep {
    const s = this.tcpService();
    const client = this.clientOf(s.vip);
    const f = this.flow('tcp', client, 40000 + this.int(8), s.vip, this.vport(s));
    f.cseq = this.pick([1000, 70_000, 4_294_967_000]) + this.int(1000);
    f.bseq = 0;
    f.phase = 0;
    const spec = {
      ip: { src: client, dst: f.vip },
      tcp: {
        sport: f.cport,
        dport: f.vport,
        flags: 'S',
        seq: f.cseq,
        options: this.chance(50) ? [{ kind: 'mss' as const, value: 1460 }] : [],
      },
    };
    f.cseq = (f.cseq + 1) >>> 0;
    return this.pkt(spec, `${f.tag} client SYN ${s.name}`, f);
  }

  /** A client packet of flow f. */
  private client(f: Flow, flags: string, note: string, payload?: number, seq = f.cseq): FuzzStep {
    const spec: FrameSpec = {
      ip: { src: f.client, dst: f.vip },
      tcp: { sport: f.cport, dport: f.vport, flags, seq, ack: f.bseq },
      ...(payload !== undefined ? { payload } : {}),
    };
    f.cseq = (f.cseq + (payload ?? 0) + (flags.includes('F') ? 1 : 0)) >>> 0;
    return this.pkt(spec, `${f.tag} client ${note}`, f);
  }

  /** A backend packet of flow f (to the translated source: the client, or the SNAT address). */
  private backend(f: Flow, out: Out, flags: string, note: string, payload?: number, seq = f.bseq, ack = f.cseq): FuzzStep {
    const spec: FrameSpec = {
      ip: { src: out.dst, dst: out.src },
      tcp: { sport: out.dport, dport: out.sport, flags, seq, ack },
      ...(payload !== undefined ? { payload } : {}),
    };
    f.bseq = (f.bseq + (payload ?? 0) + (flags.includes('F') || flags.includes('S') ? 1 : 0)) >>> 0;
    return this.pkt(spec, `${f.tag} backend ${note}`);
  }

  private tcpContinue(): FuzzStep | undefined {
    const f = this.liveFlow('tcp');
    if (f === undefined || f.out === undefined) return undefined;
    const out = f.out;
    const r = this.int(100);
    if (f.phase === 0 && r < 60) {
      f.bseq = this.pick([5000, 900_000, 4_294_966_000]) + this.int(500);
      f.phase = 1;
      return this.backend(f, out, 'SA', 'SYN-ACK');
    }
    if (f.phase === 1 && r < 60) {
      f.phase = 2;
      return this.client(f, 'A', 'ACK');
    }
    if (r < 30) return this.client(f, 'PA', 'data', 1 + this.int(200));
    if (r < 55) return this.backend(f, out, 'PA', 'data', 1 + this.int(300));
    if (r < 63) {
      f.phase = 3;
      return this.client(f, 'FA', 'FIN');
    }
    if (r < 71) {
      f.phase = 3;
      return this.backend(f, out, 'FA', 'FIN');
    }
    if (r < 78) return this.chance(50) ? this.client(f, 'A', 'ACK') : this.backend(f, out, 'A', 'ACK');
    if (r < 81) {
      f.phase = 4;
      return this.client(f, this.pick(['R', 'RA']), 'RST in window');
    }
    if (r < 84) {
      f.phase = 4;
      return this.backend(f, out, this.pick(['R', 'RA']), 'RST in window');
    }
    if (r < 87) {
      // Linux answering a segment of a connection it does not have: RST, seq = that segment's ack
      f.phase = 4;
      return this.backend(f, out, 'R', 'bare RST (seq = client ack)', undefined, f.cseq === 0 ? 0 : (f.cseq + this.int(3)) >>> 0, 0);
    }
    if (r < 90)
      return this.chance(50)
        ? this.client(f, 'R', 'RST out of window', undefined, (f.cseq + 50_000_000) >>> 0)
        : this.backend(f, out, 'RA', 'RST bad ack', undefined, f.bseq, (f.cseq + 777) >>> 0);
    if (r < 94) return this.client(f, 'S', 'SYN on the live tuple (retransmit / reuse)', undefined, (f.cseq - 1) >>> 0);
    // any flags, any numbers: state machine corners
    const flags = this.pick(['S', 'SA', 'A', 'PA', 'FA', 'R', 'RA', 'F', 'SF', 'SR', 'U', '']);
    return this.chance(50)
      ? this.client(f, flags, `flags '${flags}'`, this.chance(30) ? 5 : undefined, this.chance(50) ? f.cseq : this.rnd())
      : this.backend(f, out, flags, `flags '${flags}'`, this.chance(30) ? 5 : undefined, this.chance(50) ? f.bseq : this.rnd());
  }

  private retransmit(): FuzzStep | undefined {
    const f = this.liveFlow();
    if (f?.lastClient === undefined) return undefined;
    this.pending = f;
    return { p: f.lastClient, n: `${f.tag} client retransmit` };
  }

  private midstream(): FuzzStep {
    const s = this.tcpService();
    const client = this.clientOf(s.vip);
    const f = this.flow('tcp', client, 41000 + this.int(4), s.vip, this.vport(s));
    f.cseq = this.rnd();
    f.bseq = this.rnd();
    f.phase = 2;
    return this.client(f, this.pick(['A', 'PA', 'FA', 'R']), 'mid-stream packet of no flow', this.chance(50) ? 10 : undefined);
  }

  // ------------------------------------------------------------------ UDP, echo
  private udp(): FuzzStep {
    const live = this.chance(50) ? this.liveFlow('udp') : undefined;
    const zero = this.chance(20);
    if (live?.out !== undefined && this.chance(60)) {
      const o = live.out;
      // IPv6 forbids a zero UDP checksum: only IPv4 replies send "no checksum"
      const spec: FrameSpec = {
        ip: { src: o.dst, dst: o.src },
        udp: { sport: o.dport, dport: o.sport, ...(zero && !o.src.includes(':') ? { checksum: 'zero' as const } : {}) },
        payload: 1 + this.int(100),
      };
      return this.pkt(spec, `${live.tag} backend udp`);
    }
    const s = live === undefined ? this.pick(SERVICES.filter((x) => x.protocol === 'udp')) : undefined;
    const f = live ?? this.flow('udp', this.clientOf(s!.vip), 5000 + this.int(6), s!.vip, s!.port);
    const spec: FrameSpec = {
      ip: { src: f.client, dst: f.vip },
      udp: { sport: f.cport, dport: f.vport, ...(zero && !f.vip.includes(':') ? { checksum: 'zero' as const } : {}) },
      payload: 1 + this.int(100),
    };
    return this.pkt(spec, `${f.tag} client udp`, f);
  }

  private echo(): FuzzStep {
    const live = this.chance(40) ? this.liveFlow('icmp') : undefined;
    if (live?.out !== undefined && this.chance(60)) {
      const o = live.out;
      return this.pkt(
        { ip: { src: o.dst, dst: o.src }, icmp: { type: 'echo-reply', id: o.sport, seq: this.int(100) }, payload: 8 },
        `${live.tag} backend echo reply`,
      );
    }
    const e = this.pick(ECHO_SERVICES);
    const f = live ?? this.flow('icmp', this.clientOf(e.vip), 1 + this.int(4), e.vip, 0);
    return this.pkt(
      { ip: { src: f.client, dst: f.vip }, icmp: { type: 'echo-request', id: f.cport, seq: this.int(100) }, payload: this.int(3) * 8 },
      `${f.tag} client echo request`,
      f,
    );
  }

  // ------------------------------------------------------------------ ICMP errors
  private icmpError(): FuzzStep | undefined {
    const f = this.liveFlow();
    if (f === undefined || f.out === undefined) return undefined;
    const o = f.out;
    const v6 = f.vip.includes(':');
    const toBackend = this.chance(60);
    // the quoted packet as it left the LB: client → backend translated, or backend → client restored
    const inner: IpPacketSpec = toBackend
      ? this.innerOf(f, o.src, o.dst, o.sport, o.dport, true)
      : this.innerOf(f, f.vip, f.client, f.vport, f.cport, false);
    const from = toBackend ? (this.chance(50) ? o.dst : v6 ? ROUTER6 : ROUTER4) : v6 ? ROUTER6 : ROUTER4;
    const to = toBackend ? o.src : f.vip;
    const quoteLength = this.chance(25) ? this.pick([8, 20, 28, 40, 48]) : undefined;
    const q = quoteLength !== undefined ? { quoteLength } : {};
    const icmp = v6
      ? this.pick([
          { type: 'packet-too-big' as const, mtu: 1280, inner, ...q },
          { type: 'dest-unreachable' as const, code: 'port' as const, inner, ...q },
          { type: 'time-exceeded' as const, inner, ...q },
        ])
      : this.pick([
          { type: 'dest-unreachable' as const, code: 'frag-needed' as const, mtu: 1300, inner, ...q },
          { type: 'dest-unreachable' as const, code: 'port' as const, inner, ...q },
          { type: 'time-exceeded' as const, inner, ...q },
        ]);
    return this.pkt(
      { ip: { src: from, dst: to }, icmp },
      `${f.tag} icmp ${icmp.type} about the flow (${toBackend ? 'towards backend' : 'towards client'})`,
    );
  }

  private innerOf(f: Flow, src: string, dst: string, sport: number, dport: number, fwd: boolean): IpPacketSpec {
    if (f.proto === 'tcp')
      return {
        ip: { src, dst },
        tcp: { sport, dport, flags: 'A', seq: fwd ? f.cseq : f.bseq, ack: fwd ? f.bseq : f.cseq },
        payload: this.int(60),
      };
    if (f.proto === 'udp') return { ip: { src, dst }, udp: { sport, dport }, payload: this.int(30) };
    return {
      ip: { src, dst },
      icmp: fwd ? { type: 'echo-request', id: sport, seq: 1 } : { type: 'echo-reply', id: dport, seq: 1 },
      payload: 8,
    };
  }

  // ------------------------------------------------------------------ invalid and foreign traffic
  private malformed(): FuzzStep {
    const s = this.pick(SERVICES);
    const client = this.clientOf(s.vip);
    const sport = 42000 + this.int(4);
    const l4 =
      s.protocol === 'tcp'
        ? { tcp: { sport, dport: s.port, flags: this.pick(['S', 'A', 'PA']), seq: this.rnd(), ack: this.rnd() } }
        : { udp: { sport, dport: s.port } };
    const ip = { src: client, dst: s.vip };
    const v6 = s.vip.includes(':');
    const payload = this.int(40);
    const base: FrameSpec = { ip, ...l4, payload };
    const r = this.int(v6 ? 12 : 16);
    const tag = `m${this.nextTag++}`;
    const mk = (spec: FrameSpec, note: string): FuzzStep => this.pkt(spec, `${tag} ${note}`);
    switch (r) {
      case 0:
      case 1:
      case 2: {
        const full = buildFrame(base);
        const cut = 14 + this.int(full.length - 14);
        return { p: full.subarray(0, cut).toString('hex'), n: `${tag} truncated at ${cut} of ${full.length}` };
      }
      case 3: {
        const full = Buffer.from(buildFrame(base));
        const at = 14 + this.int(full.length - 14);
        full[at] = full[at]! ^ (1 << this.int(8));
        return { p: full.toString('hex'), n: `${tag} bit flipped at byte ${at}` };
      }
      case 4:
        return mk({ ...base, vlan: this.chance(50) ? [this.int(4095)] : [10, 20] }, 'VLAN-tagged');
      case 5:
        return mk({ eth: { type: this.pick([0x0806, 0x88cc, 0x8847]) }, payload: 28 + this.int(30) }, 'not IP');
      case 6:
        return mk({ ip: { ...ip, protocol: this.pick([47, 50, 132]) }, payload: 20 }, 'other IP protocol');
      case 7:
        return mk({ ip: { ...ip, ttl: this.pick([0, 1, 2]) }, ...l4, payload }, 'small TTL');
      case 8:
        return mk(
          {
            ...base,
            ...(s.protocol === 'tcp'
              ? { tcp: { ...l4.tcp!, dataOffset: this.pick([0, 3, 15]) } }
              : { udp: { ...l4.udp!, length: this.pick([0, 7, 500]) } }),
          },
          'bad L4 length',
        );
      case 9:
        return mk(
          {
            ...base,
            ...(s.protocol === 'tcp'
              ? { tcp: { ...l4.tcp!, checksum: 'bad' as const } }
              : { udp: { ...l4.udp!, checksum: 'bad' as const } }),
          },
          'bad L4 checksum',
        );
      case 10:
        return v6
          ? mk(
              { ip: { ...ip, extensions: [{ type: 'fragment', more: this.chance(50), offset: this.pick([0, 8]) }] }, ...l4, payload },
              'IPv6 fragment header',
            )
          : mk({ ip: { ...ip, mf: this.chance(70), fragOffset: this.pick([0, 8, 1480]) }, ...l4, payload }, 'IPv4 fragment');
      case 11:
        return v6
          ? mk(
              {
                ip: {
                  ...ip,
                  extensions: this.pick([
                    [{ type: 'hop-by-hop' as const }],
                    [{ type: 'dest-opts' as const }, { type: 'hop-by-hop' as const }],
                    [{ type: 'routing' as const, segmentsLeft: 0 }],
                  ]),
                },
                ...l4,
                payload,
              },
              'IPv6 extension headers',
            )
          : mk({ ip: { ...ip, options: [{ type: 1 }, { type: 1 }, { type: 1 }, { type: 1 }] }, ...l4, payload }, 'IPv4 options');
      case 12:
        return mk({ ip: { ...ip, ihl: this.pick([0, 4, 15]) }, ...l4, payload }, 'bad IHL');
      case 13:
        return mk({ ip: { ...ip, totalLength: this.pick([19, 28, 1500]) }, ...l4, payload }, 'bad total length');
      case 14:
        return mk({ ip: { ...ip, checksum: 'bad' }, ...l4, payload }, 'bad IPv4 header checksum');
      default:
        return mk({ ...base, padTo: 60 + this.int(40) }, 'padded frame');
    }
  }

  private nonVip(): FuzzStep {
    const v6 = this.chance(25);
    const src = v6 ? this.pick(CLIENTS6) : this.pick(CLIENTS4);
    const dst = v6 ? `fd00::9:${1 + this.int(9)}` : this.chance(50) ? `198.18.9.${1 + this.int(9)}` : this.pick(VIPS4);
    const tag = `n${this.nextTag++}`;
    const r = this.int(4);
    // to a VIP: a port (or protocol) no service has
    const port = VIPS4.includes(dst) || VIPS6.includes(dst) ? 7777 : this.pick([80, 53, 7777]);
    const spec: FrameSpec =
      r === 0
        ? { ip: { src, dst }, udp: { sport: 1234, dport: port }, payload: 10 }
        : r === 1
          ? { ip: { src, dst }, icmp: { type: 'echo-request', id: 9, seq: 1 }, payload: 8 }
          : r === 2
            ? {
                ip: { src: dst.includes(':') ? (v6 ? 'fd00::1:11' : src) : '198.18.1.11', dst: src },
                tcp: { sport: 8080, dport: 45000 + this.int(10), flags: this.pick(['SA', 'A', 'R']) },
              }
            : { ip: { src, dst }, tcp: { sport: 45000, dport: port, flags: 'S' } };
    return this.pkt(spec, `${tag} non-VIP traffic`);
  }

  // ------------------------------------------------------------------ state changes
  private deleteCt(): FuzzStep | undefined {
    const f = this.liveFlow();
    if (f === undefined || f.out === undefined) return undefined;
    const o = f.out;
    const family: 4 | 6 = f.vip.includes(':') ? 6 : 4;
    // forward entry: the client's tuple; reply entry: what the backend's replies carry (echo: {backend→client, 0, id})
    const key: DpTuple = this.chance(50)
      ? { family, proto: f.proto, src: f.client, dst: f.vip, sport: f.cport, dport: f.vport }
      : f.proto === 'icmp'
        ? { family, proto: 'icmp', src: o.dst, dst: o.src, sport: 0, dport: o.sport }
        : { family, proto: f.proto, src: o.dst, dst: o.src, sport: o.dport, dport: o.sport };
    return { del: key };
  }

  private control(): ControlStep {
    const s = this.pick(SERVICES);
    const cur = this.eps.get(s.name)!;
    const r = this.int(3);
    if (r < 2 || cur.length === 0) {
      const e = this.pick(cur.length > 0 ? cur : s.endpoints);
      const id = `${s.name}|${e.ip}|${e.port}`;
      const up = this.down.has(id);
      if (up) this.down.delete(id);
      else this.down.add(id);
      return { op: 'health', svc: s.name, ip: e.ip, port: e.port, up };
    }
    const spare = s.spare.filter((x) => !cur.some((c) => c.ip === x.ip && c.port === x.port));
    const drop = this.int(cur.length);
    const next =
      spare.length > 0 && this.chance(50)
        ? [...cur, this.pick(spare)]
        : cur.length > 1
          ? cur.filter((_, i) => i !== drop)
          : [...s.endpoints];
    this.eps.set(s.name, next);
    return { op: 'put', svc: s.name, endpoints: next };
  }
}
