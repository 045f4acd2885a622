// One lost side of a flow (issue 11, item 1): a flow whose forward or reply entry disappeared
// (LRU eviction; here a map delete, as `bpftool map delete` does) is rebuilt from the surviving
// entry, on the fast and on the slow path, in DNAT and full NAT, TCP and UDP, TC and XDP; and a
// flow whose tuple another live flow took never sends into that flow (docs/datapath.md,
// "One lost side").
import test from 'ava';
import { buildFrame } from '../packet/index.ts';
import type { FrameSpec } from '../packet/index.ts';
import { CT_F, CT_STATE, ctKey } from '../schema/maps.ts';
import type { CtEntry } from '../schema/maps.ts';
import { addr16 } from './maps.ts';
import { formatIp } from '../controller/ip.ts';
import { HOOKS, openHarness } from './prog-run.ts';
import type { Harness } from './prog-run.ts';

const CLIENT = '198.18.0.10';
const CLIENT2 = '198.18.0.11';
const VIP = '198.18.100.1';
const B1 = '198.18.1.11';
const B2 = '198.18.1.12';
const SNAT = '198.18.0.1';
const CPORT = 40000;
const BPORT = 8080;

type Mode = 'dnat' | 'fullnat';
type Proto = 'tcp' | 'udp';

interface Flow {
  h: Harness;
  proto: Proto;
  mode: Mode;
  client: string;
  backend: string;
  /** the client's source port as the backend sees it (full NAT: the SNAT port) */
  natPort: number;
  /** next sequence numbers (TCP) */
  cseq: number;
  bseq: number;
}

function snatConfig(): { snat_v4: Buffer } {
  const a = Buffer.alloc(16);
  a.set([198, 18, 0, 1]);
  return { snat_v4: a };
}

function l4(proto: Proto, sport: number, dport: number, tcp?: Partial<NonNullable<FrameSpec['tcp']>>): Partial<FrameSpec> {
  return proto === 'tcp' ? { tcp: { sport, dport, flags: 'A', ...tcp } } : { udp: { sport, dport } };
}

/** The client's packet as sent and as the backend must receive it. */
function clientPkt(f: Flow, data: string, flags = 'PA'): { sent: Buffer; want: Buffer } {
  const tcp = { seq: f.cseq, ack: f.bseq, flags };
  const sent = buildFrame({ ip: { src: f.client, dst: VIP }, ...l4(f.proto, CPORT, 80, tcp), payload: data } as FrameSpec);
  const src = f.mode === 'fullnat' ? SNAT : f.client;
  const want = buildFrame({ ip: { src, dst: f.backend }, ...l4(f.proto, f.natPort, BPORT, tcp), payload: data } as FrameSpec);
  if (f.proto === 'tcp') f.cseq += data.length;
  return { sent, want };
}

/** The backend's packet as sent and as the client must receive it. */
function backendPkt(f: Flow, data: string, flags = 'PA'): { sent: Buffer; want: Buffer } {
  const tcp = { seq: f.bseq, ack: f.cseq, flags };
  const dst = f.mode === 'fullnat' ? SNAT : f.client;
  const sent = buildFrame({ ip: { src: f.backend, dst }, ...l4(f.proto, BPORT, f.natPort, tcp), payload: data } as FrameSpec);
  const want = buildFrame({ ip: { src: VIP, dst: f.client }, ...l4(f.proto, 80, CPORT, tcp), payload: data } as FrameSpec);
  if (f.proto === 'tcp') f.bseq += data.length;
  return { sent, want };
}

function ctKeyOf(src: string, dst: string, sport: number, dport: number, proto: Proto): Buffer {
  const s = addr16(src);
  return ctKey.encode({ saddr: s.addr, daddr: addr16(dst).addr, sport, dport, proto: proto === 'tcp' ? 6 : 17, family: s.family });
}

const fwdKey = (f: Flow): Buffer => ctKeyOf(f.client, VIP, CPORT, 80, f.proto);
const replyKey = (f: Flow): Buffer => ctKeyOf(f.backend, f.mode === 'fullnat' ? SNAT : f.client, BPORT, f.natPort, f.proto);
const fwdEntry = (f: Flow): CtEntry | undefined => f.h.flow({ src: f.client, dst: VIP, sport: CPORT, dport: 80, proto: f.proto });
const replyEntry = (f: Flow): CtEntry | undefined =>
  f.h.flow({ src: f.backend, dst: f.mode === 'fullnat' ? SNAT : f.client, sport: BPORT, dport: f.natPort, proto: f.proto });

/** A flow brought to the fast path (TCP ESTABLISHED / UDP_ESTABLISHED) through the datapath. */
function establish(h: Harness, proto: Proto, mode: Mode, client = CLIENT): Flow {
  const syn = buildFrame({
    ip: { src: client, dst: VIP },
    ...l4(proto, CPORT, 80, { seq: 100, flags: 'S' }),
    payload: proto === 'udp' ? 'q' : undefined,
  } as FrameSpec);
  h.run(syn);
  const e = h.flow({ src: client, dst: VIP, sport: CPORT, dport: 80, proto });
  if (!e) throw new Error('the first packet created no flow');
  const f: Flow = {
    h,
    proto,
    mode,
    client,
    backend: formatIp(e.nat_daddr, 4),
    natPort: mode === 'fullnat' ? e.nat_sport : CPORT,
    cseq: 101,
    bseq: 900,
  };
  if (proto === 'tcp') {
    // SYN-ACK: its SYN consumes seq 899
    const synack = buildFrame({
      ip: { src: f.backend, dst: mode === 'fullnat' ? SNAT : client },
      tcp: { sport: BPORT, dport: f.natPort, seq: 899, ack: 101, flags: 'SA' },
    });
    h.run(synack);
    h.run(clientPkt(f, '', 'A').sent);
  } else {
    h.run(backendPkt(f, 'a').sent);
    h.run(clientPkt(f, 'q').sent);
  }
  const st = CT_STATE[fwdEntry(f)?.state ?? 0];
  if (st !== (proto === 'tcp' ? 'ESTABLISHED' : 'UDP_ESTABLISHED')) throw new Error(`flow not established: ${st}`);
  return f;
}

function service(h: Harness, mode: Mode, proto: Proto, algo: 'hash' | 'rr' = 'hash', eps = [B1]): void {
  h.service({ id: 1, vip: VIP, port: 80, proto, mode, algo, endpoints: eps.map((ip) => ({ ip, port: BPORT })) });
}

const CASES: [Mode, Proto][] = [
  ['dnat', 'tcp'],
  ['dnat', 'udp'],
  ['fullnat', 'tcp'],
  ['fullnat', 'udp'],
];

for (const hook of HOOKS) {
  for (const [mode, proto] of CASES) {
    const name = `${hook} ${mode} ${proto}`;

    test(`${name}: reply entry lost: the client's next packet after the 1 s peer check rebuilds it; replies translated again`, (t) => {
      const h = openHarness(hook, { config: snatConfig() });
      try {
        service(h, mode, proto);
        const f = establish(h, proto, mode);
        const fwdBefore = fwdEntry(f)!;
        t.true(h.dp.maps.ct.delete(replyKey(f)));
        h.advance(1.5);
        h.reasonDelta();
        let p = clientPkt(f, 'hello');
        t.deepEqual(h.run(p.sent).data, p.want);
        t.deepEqual(h.reasonDelta(), { tracked: 1 }); // the fast path found the peer missing
        const rebuilt = replyEntry(f);
        t.truthy(rebuilt, 'reply entry rebuilt');
        t.is(rebuilt!.state, fwdBefore.state);
        t.is(rebuilt!.flags & CT_F.reply, CT_F.reply);
        p = backendPkt(f, 'world');
        t.deepEqual(h.run(p.sent).data, p.want);
        p = clientPkt(f, 'again');
        t.deepEqual(h.run(p.sent).data, p.want);
        t.deepEqual(h.reasonDelta(), { fast_path: 2 });
      } finally {
        h.close();
      }
    });

    test(`${name}: forward entry lost, the client speaks first: the live reply entry is adopted, same backend and tuple`, (t) => {
      const h = openHarness(hook, { config: snatConfig() });
      try {
        service(h, mode, proto);
        const f = establish(h, proto, mode);
        const before = fwdEntry(f)!;
        t.true(h.dp.maps.ct.delete(fwdKey(f)));
        h.reasonDelta();
        let p = clientPkt(f, 'hello');
        t.deepEqual(h.run(p.sent).data, p.want);
        t.deepEqual(h.reasonDelta(), { tracked: 1 });
        const after = fwdEntry(f)!;
        t.is(after.state, before.state);
        t.is(after.nat_sport, before.nat_sport);
        t.is(after.flags & CT_F.midstream, 0);
        p = backendPkt(f, 'world');
        t.deepEqual(h.run(p.sent).data, p.want);
        p = clientPkt(f, 'again');
        t.deepEqual(h.run(p.sent).data, p.want);
        t.deepEqual(h.reasonDelta(), { fast_path: 2 });
      } finally {
        h.close();
      }
    });

    test(`${name}: forward entry lost, the backend speaks first: its packet rebuilds the forward entry`, (t) => {
      const h = openHarness(hook, { config: snatConfig() });
      try {
        // rr over two endpoints: a client packet without its entry could pick the other one,
        // so only the rebuild from the reply entry keeps the flow on its backend
        service(h, mode, proto, 'rr', [B1, B2]);
        const f = establish(h, proto, mode);
        t.true(h.dp.maps.ct.delete(fwdKey(f)));
        h.advance(1.5);
        h.reasonDelta();
        let p = backendPkt(f, 'world');
        t.deepEqual(h.run(p.sent).data, p.want);
        t.deepEqual(h.reasonDelta(), { tracked: 1 });
        t.truthy(fwdEntry(f));
        for (let i = 0; i < 3; i++) {
          p = clientPkt(f, `c${i}`);
          t.deepEqual(h.run(p.sent).data, p.want, `client packet ${i} goes to its own backend`);
        }
        t.deepEqual(h.reasonDelta(), { fast_path: 3 });
      } finally {
        h.close();
      }
    });
  }

  test(`${hook} fullnat tcp: a flow whose SNAT tuple another client took while its reply entry was lost never sends into that flow`, (t) => {
    // one SNAT port: the second client must get the port the first flow lost
    const h = openHarness(hook, { config: { ...snatConfig(), snat_port_min: 50000, snat_port_max: 50000 } });
    try {
      service(h, 'fullnat', 'tcp');
      const a = establish(h, 'tcp', 'fullnat', CLIENT);
      t.is(a.natPort, 50000);
      t.true(h.dp.maps.ct.delete(replyKey(a)));
      const b = establish(h, 'tcp', 'fullnat', CLIENT2);
      t.is(b.natPort, 50000);
      h.advance(1.5);
      h.reasonDelta();
      // A's packet: its reply tuple belongs to B now: dropped, A's entry removed
      const r = h.run(clientPkt(a, 'from a').sent);
      t.is(r.verdict, 'drop');
      t.deepEqual(h.reasonDelta(), { drop_ct_failed: 1 });
      t.is(fwdEntry(a), undefined);
      // B's flow is intact both ways
      let p = backendPkt(b, 'to b');
      t.deepEqual(h.run(p.sent).data, p.want);
      p = clientPkt(b, 'from b');
      t.deepEqual(h.run(p.sent).data, p.want);
      t.is(replyEntry(b)!.nat_daddr.subarray(0, 4).join('.'), CLIENT2);
    } finally {
      h.close();
    }
  });

  test(`${hook} dnat tcp: a stale reply entry of a replaced flow is dropped, never delivered into the client's new flow`, (t) => {
    const h = openHarness(hook);
    try {
      service(h, 'dnat', 'tcp', 'hash', [B1]);
      const old = establish(h, 'tcp', 'dnat');
      t.true(h.dp.maps.ct.delete(fwdKey(old)));
      // B1 removed (generation 1 has only B2); the client reuses its port: its new SYN goes to B2
      h.service({ id: 1, vip: VIP, port: 80, algo: 'hash', gen: 1, endpoints: [{ ip: B2, port: BPORT }] });
      const fresh = establish(h, 'tcp', 'dnat');
      t.not(fresh.backend, old.backend);
      h.advance(1.5);
      h.reasonDelta();
      const r = h.run(backendPkt(old, 'stale').sent);
      t.is(r.verdict, 'drop');
      t.deepEqual(h.reasonDelta(), { drop_ct_failed: 1 });
      t.is(replyEntry(old), undefined);
      const p = backendPkt(fresh, 'new');
      t.deepEqual(h.run(p.sent).data, p.want);
      t.is(CT_STATE[fwdEntry(fresh)!.state], 'ESTABLISHED');
    } finally {
      h.close();
    }
  });
}
