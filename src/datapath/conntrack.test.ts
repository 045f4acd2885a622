// Conntrack state after every packet (TC and XDP): handshake, orderly close, RST, an
// out-of-window RST, SYN retransmits, mid-stream packets of unknown flows, timeouts, ICMP
// errors about tracked flows.
import test from 'ava';
import { buildFrame, decodeFrame } from '../packet/index.ts';
import type { FrameSpec, IpPacketSpec } from '../packet/index.ts';
import { CT_F, CT_STATE, UNKNOWN_TCP } from '../schema/maps.ts';
import { HOOKS, openHarness } from './prog-run.ts';
import type { Harness } from './prog-run.ts';
import { readEndpointConns } from './maps.ts';

const CLIENT = '198.18.0.10';
const VIP = '198.18.100.1';
const B1 = '198.18.1.11';
const B2 = '198.18.1.12';

type Tcp = NonNullable<FrameSpec['tcp']>;
const fromClient = (tcp: Partial<Tcp>, sport = 40000): Buffer =>
  buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport, dport: 80, ...tcp } });
const fromBackend = (tcp: Partial<Tcp>, b = B1, dport = 40000): Buffer =>
  buildFrame({ ip: { src: b, dst: CLIENT }, tcp: { sport: 80, dport, ...tcp } });

/** The destination address of a frame the datapath returned. */
function decodeDst(frame: Buffer): string | undefined {
  return decodeFrame(frame).ip?.dst;
}

function state(h: Harness, sport = 40000): string | undefined {
  const e = h.flow({ src: CLIENT, dst: VIP, sport, dport: 80, proto: 'tcp' });
  return e === undefined ? undefined : CT_STATE[e.state];
}

function replyState(h: Harness, b = B1, sport = 40000): string | undefined {
  const e = h.flow({ src: b, dst: CLIENT, sport: 80, dport: sport, proto: 'tcp' });
  return e === undefined ? undefined : CT_STATE[e.state];
}

function handshake(h: Harness, t: { is(a: unknown, b: unknown, m?: string): void }): void {
  h.run(fromClient({ seq: 100, flags: 'S' }));
  t.is(state(h), 'SYN_SENT');
  h.run(fromBackend({ seq: 900, ack: 101, flags: 'SA' }));
  t.is(state(h), 'SYN_RECV');
  h.run(fromClient({ seq: 101, ack: 901, flags: 'A' }));
  t.is(state(h), 'ESTABLISHED');
  t.is(replyState(h), 'ESTABLISHED');
}

for (const hook of HOOKS) {
  test(`${hook}: handshake then orderly close: state after each packet, both entries`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 80 }] });
      handshake(h, t);
      h.run(fromClient({ seq: 101, ack: 901, flags: 'FA' }));
      t.is(state(h), 'FIN_WAIT');
      h.run(fromBackend({ seq: 901, ack: 102, flags: 'A' }));
      t.is(state(h), 'FIN_WAIT');
      h.run(fromBackend({ seq: 901, ack: 102, flags: 'FA' }));
      t.is(state(h), 'CLOSE_WAIT');
      t.is(replyState(h), 'CLOSE_WAIT');
      h.run(fromClient({ seq: 102, ack: 902, flags: 'A' }));
      t.is(state(h), 'TIME_WAIT');
      t.is(replyState(h), 'TIME_WAIT');
    } finally {
      h.close();
    }
  });

  test(`${hook}: a plausible RST closes the flow; an out-of-window RST is dropped and changes nothing`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 80 }] });
      handshake(h, t);
      h.reasonDelta();
      const bogus = h.run(fromClient({ seq: 101 + 5_000_000, flags: 'R' }));
      t.is(bogus.verdict, 'drop');
      t.deepEqual(h.reasonDelta(), { drop_rst_invalid: 1 });
      t.is(state(h), 'ESTABLISHED');
      const bogus2 = h.run(fromBackend({ seq: 901 - 3_000_000, flags: 'R' }));
      t.is(bogus2.verdict, 'drop');
      t.is(state(h), 'ESTABLISHED');
      const rst = h.run(fromBackend({ seq: 901, flags: 'R' }));
      t.is(rst.verdict, 'pass');
      t.deepEqual(h.reasonDelta(), { drop_rst_invalid: 1, tracked: 1 });
      t.is(state(h), 'CLOSED');
      t.is(replyState(h), 'CLOSED');
    } finally {
      h.close();
    }
  });

  test(`${hook}: a backend refusing the SYN (RST+ACK acking the SYN) closes; a wrong ACK does not`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 80 }] });
      h.run(fromClient({ seq: 100, flags: 'S' }));
      t.is(h.run(fromBackend({ seq: 0, ack: 5555, flags: 'RA' })).verdict, 'drop');
      t.is(state(h), 'SYN_SENT');
      h.run(fromBackend({ seq: 0, ack: 101, flags: 'RA' }));
      t.is(state(h), 'CLOSED');
    } finally {
      h.close();
    }
  });

  test(`${hook}: a flow adopted mid-stream: the backend's bare RST (seq = the client's last ack, no ACK flag) closes it; an implausible one is dropped`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 80 }] });
      // the LB lost the flow; the client goes on (seq 5000, acknowledging the backend up to 77000)
      h.run(fromClient({ seq: 5000, ack: 77000, flags: 'PA' }));
      t.is(state(h), 'ESTABLISHED');
      h.reasonDelta();
      // the backend has no such connection either: Linux answers RST seq = the segment's ack
      t.is(h.run(fromBackend({ seq: 77000 + 3_000_000, flags: 'R' })).verdict, 'drop');
      t.deepEqual(h.reasonDelta(), { drop_rst_invalid: 1 });
      t.is(state(h), 'ESTABLISHED');
      const r = h.run(fromBackend({ seq: 77000, flags: 'R' }));
      t.is(r.verdict, 'pass');
      t.deepEqual(r.data, buildFrame({ ip: { src: VIP, dst: CLIENT }, tcp: { sport: 80, dport: 40000, seq: 77000, flags: 'R' } }));
      t.deepEqual(h.reasonDelta(), { tracked: 1 });
      t.is(state(h), 'CLOSED');
      t.is(replyState(h), 'CLOSED');
    } finally {
      h.close();
    }
  });

  test(`${hook}: SYN retransmits keep a usable endpoint; an established flow keeps its endpoint when endpoints change`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({
        id: 1,
        vip: VIP,
        port: 80,
        algo: 'rr',
        endpoints: [
          { ip: B1, port: 80 },
          { ip: B2, port: 80 },
        ],
      });
      const first = h.run(fromClient({ seq: 100, flags: 'S' })).data;
      for (let i = 0; i < 4; i++) t.deepEqual(h.run(fromClient({ seq: 100, flags: 'S' })).data, first);
      t.is(state(h), 'SYN_SENT');
      // an established flow stays on its endpoint when it is made inactive (and when removed)
      h.run(fromClient({ seq: 100, flags: 'S' }, 40001));
      const slot = h.flow({ src: CLIENT, dst: VIP, sport: 40001, dport: 80, proto: 'tcp' })!.ep_slot;
      const b = slot === 0 ? B1 : B2;
      h.run(fromBackend({ seq: 900, ack: 101, flags: 'SA' }, b, 40001));
      h.run(fromClient({ seq: 101, ack: 901, flags: 'A' }, 40001));
      t.is(state(h, 40001), 'ESTABLISHED');
      h.service({
        id: 1,
        vip: VIP,
        port: 80,
        algo: 'rr',
        gen: 1,
        endpoints: [
          { ip: B1, port: 80, active: slot !== 0 },
          { ip: B2, port: 80, active: slot !== 1 },
        ],
      });
      const data = h.run(fromClient({ seq: 101, ack: 901, flags: 'PA' }, 40001)).data;
      t.is(decodeDst(data), b);
    } finally {
      h.close();
    }
  });

  test(`${hook}: a SYN retransmit in SYN_SENT, and a SYN reusing a TIME_WAIT or CLOSED tuple, re-select when the recorded endpoint was made inactive or removed`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({
        id: 1,
        vip: VIP,
        port: 80,
        algo: 'lc',
        endpoints: [
          { ip: B1, port: 80 },
          { ip: B2, port: 80 },
        ],
      });
      // SYN_SENT on B1 (lc: lowest slot on a tie), then B1 made inactive: the retransmit goes to B2
      t.is(decodeDst(h.run(fromClient({ seq: 100, flags: 'S' })).data), B1);
      h.service({
        id: 1,
        vip: VIP,
        port: 80,
        algo: 'lc',
        gen: 1,
        endpoints: [
          { ip: B1, port: 80, active: false },
          { ip: B2, port: 80 },
        ],
      });
      h.reasonDelta();
      t.is(decodeDst(h.run(fromClient({ seq: 100, flags: 'S' })).data), B2);
      t.deepEqual(h.reasonDelta(), { new_flow: 1 });
      t.is(state(h), 'SYN_SENT');
      t.is(h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' })!.ep_slot, 1);
      t.is(replyState(h, B1), undefined, "the old flow's reply entry is gone");
      t.is(replyState(h, B2), 'SYN_SENT');
      t.is(readEndpointConns(h.dp, 1, 0), 0n, "B1's least-connection count released");
      t.is(readEndpointConns(h.dp, 1, 1), 1n);
      // the flow on B2 closes; B2 removed (generation 0 now holds only B1, active again): a SYN on the TIME_WAIT tuple goes to B1
      h.run(fromBackend({ seq: 900, ack: 101, flags: 'SA' }, B2));
      h.run(fromClient({ seq: 101, ack: 901, flags: 'A' }));
      h.run(fromClient({ seq: 101, ack: 901, flags: 'FA' }));
      h.run(fromBackend({ seq: 901, ack: 102, flags: 'FA' }, B2));
      h.run(fromClient({ seq: 102, ack: 902, flags: 'A' }));
      t.is(state(h), 'TIME_WAIT');
      h.service({ id: 1, vip: VIP, port: 80, algo: 'lc', gen: 0, endpoints: [{ ip: B1, port: 80 }] });
      h.reasonDelta();
      t.is(decodeDst(h.run(fromClient({ seq: 5000, flags: 'S' })).data), B1);
      t.deepEqual(h.reasonDelta(), { new_flow: 1 });
      // CLOSED by a RST, B1 made inactive, B2 back: a new SYN on the tuple goes to B2
      h.run(fromBackend({ seq: 0, ack: 5001, flags: 'RA' }, B1));
      t.is(state(h), 'CLOSED');
      h.service({
        id: 1,
        vip: VIP,
        port: 80,
        algo: 'lc',
        gen: 1,
        endpoints: [
          { ip: B1, port: 80, active: false },
          { ip: B2, port: 80 },
        ],
      });
      t.is(decodeDst(h.run(fromClient({ seq: 7000, flags: 'S' })).data), B2);
      // a usable endpoint is kept: the same SYN again stays on B2 (a retransmit)
      h.reasonDelta();
      t.is(decodeDst(h.run(fromClient({ seq: 7000, flags: 'S' })).data), B2);
      t.deepEqual(h.reasonDelta(), { tracked: 1 });
    } finally {
      h.close();
    }
  });

  test(`${hook}: least-connection counts: +1 per connection, back to 0 after FIN close, RST close, a restarted tuple's second close, re-selection`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, algo: 'lc', endpoints: [{ ip: B1, port: 80 }] });
      const conns = (): bigint => readEndpointConns(h.dp, 1, 0);
      handshake(h, t);
      t.is(conns(), 1n);
      h.run(fromClient({ seq: 101, ack: 901, flags: 'FA' }));
      h.run(fromBackend({ seq: 901, ack: 102, flags: 'FA' }));
      h.run(fromClient({ seq: 102, ack: 902, flags: 'A' }));
      t.is(state(h), 'TIME_WAIT');
      t.is(conns(), 0n, 'FIN close');
      // the tuple reused on the same endpoint: a connection again, counted again
      h.run(fromClient({ seq: 7000, flags: 'S' }));
      t.is(state(h), 'SYN_SENT');
      t.is(conns(), 1n, 'restarted tuple counted');
      h.run(fromBackend({ seq: 0, ack: 7001, flags: 'RA' }));
      t.is(state(h), 'CLOSED');
      t.is(conns(), 0n, 'RST close of the restarted connection');
      // a half-open SYN whose endpoint goes away: the retransmit re-selects, the count moves
      h.service({
        id: 1,
        vip: VIP,
        port: 80,
        algo: 'lc',
        endpoints: [
          { ip: B1, port: 80 },
          { ip: B2, port: 80 },
        ],
      });
      h.run(fromClient({ seq: 100, flags: 'S' }, 40001));
      t.is(conns(), 1n);
      h.service({
        id: 1,
        vip: VIP,
        port: 80,
        algo: 'lc',
        gen: 1,
        endpoints: [
          { ip: B1, port: 80, active: false },
          { ip: B2, port: 80 },
        ],
      });
      h.run(fromClient({ seq: 100, flags: 'S' }, 40001));
      t.is(conns(), 0n, 're-selection released B1');
      t.is(readEndpointConns(h.dp, 1, 1), 1n);
    } finally {
      h.close();
    }
  });

  test(`${hook}: mid-stream packet of an unknown flow: policy select creates ESTABLISHED, policy drop drops; both counted`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 80 }] });
      h.reasonDelta();
      const r = h.run(fromClient({ seq: 5, ack: 6, flags: 'PA' }, 41000));
      t.is(r.verdict, 'pass');
      t.deepEqual(r.data, buildFrame({ ip: { src: CLIENT, dst: B1 }, tcp: { sport: 41000, dport: 80, seq: 5, ack: 6, flags: 'PA' } }));
      t.is(state(h, 41000), 'ESTABLISHED');
      t.deepEqual(h.reasonDelta(), { midstream_new: 1 });
      h.config({ unknown_tcp: UNKNOWN_TCP.drop });
      t.is(h.run(fromClient({ seq: 5, ack: 6, flags: 'A' }, 41001)).verdict, 'drop');
      t.is(state(h, 41001), undefined);
      t.is(h.run(fromClient({ flags: 'R' }, 41002)).verdict, 'drop');
      t.deepEqual(h.reasonDelta(), { drop_midstream: 2 });
    } finally {
      h.close();
    }
  });

  test(`${hook}: a flow adopted mid-stream times out like SYN_SENT until the backend answers, then like its state`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 80 }] });
      const fwd = (sport: number) => h.flow({ src: CLIENT, dst: VIP, sport, dport: 80, proto: 'tcp' });
      // unanswered: one ACK, then 61 s of silence (SYN_SENT's 60 s): gone, the next packet is new again
      h.run(fromClient({ seq: 5, ack: 6, flags: 'A' }, 41000));
      t.is(state(h, 41000), 'ESTABLISHED');
      t.is(fwd(41000)!.flags & CT_F.midstream, CT_F.midstream);
      // answered: the backend's packet clears the mark in both entries
      h.run(fromClient({ seq: 5, ack: 6, flags: 'A' }, 41001));
      h.reasonDelta();
      h.run(fromBackend({ seq: 6, ack: 5, flags: 'A' }, B1, 41001));
      t.deepEqual(h.reasonDelta(), { tracked: 1 });
      t.is(fwd(41001)!.flags & CT_F.midstream, 0);
      t.is(h.flow({ src: B1, dst: CLIENT, sport: 80, dport: 41001, proto: 'tcp' })!.flags & CT_F.midstream, 0);
      h.advance(61);
      h.reasonDelta();
      h.run(fromClient({ seq: 5, ack: 7, flags: 'A' }, 41000));
      h.run(fromClient({ seq: 5, ack: 7, flags: 'A' }, 41001));
      t.deepEqual(h.reasonDelta(), { midstream_new: 1, fast_path: 1 });
    } finally {
      h.close();
    }
  });

  test(`${hook}: an expired entry counts as absent (per-state timeouts, datapath clock)`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 80 }] });
      h.run(fromClient({ seq: 100, flags: 'S' }));
      const created = h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' })!.created_ns;
      h.advance(59);
      h.run(fromClient({ seq: 100, flags: 'S' }));
      t.is(h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' })!.created_ns, created);
      h.advance(61); // SYN_SENT times out after 60 s of silence
      h.reasonDelta();
      h.run(fromClient({ seq: 100, flags: 'S' }));
      t.deepEqual(h.reasonDelta(), { new_flow: 1 });
      t.not(h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' })!.created_ns, created);
    } finally {
      h.close();
    }
  });

  test(`${hook}: ICMP errors about a tracked flow are reverse-translated, inner header included`, (t) => {
    const snat = Buffer.alloc(16);
    snat.set([198, 18, 0, 1]);
    const h = openHarness(hook, { config: { snat_v4: snat } });
    try {
      h.service({ id: 2, vip: VIP, port: 80, mode: 'fullnat', endpoints: [{ ip: B1, port: 8080 }] });
      h.run(fromClient({ seq: 100, flags: 'S' }));
      const port = h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' })!.nat_sport;
      // a router between LB and backend: frag-needed about SNAT:port -> B1:8080
      const router = '198.18.1.254';
      const inner = (src: string, dst: string, sport: number, dport: number): FrameSpec['icmp'] => ({
        type: 'dest-unreachable',
        code: 'frag-needed',
        mtu: 1400,
        inner: { ip: { src, dst, id: 3 }, tcp: { sport, dport, seq: 100, flags: 'S' } },
        quoteLength: 28,
      });
      h.reasonDelta();
      const r = h.run(buildFrame({ ip: { src: router, dst: '198.18.0.1' }, icmp: inner('198.18.0.1', B1, port, 8080) }));
      t.deepEqual(r.data, buildFrame({ ip: { src: router, dst: CLIENT }, icmp: inner(CLIENT, VIP, 40000, 80) }));
      t.deepEqual(h.reasonDelta(), { icmp_error: 1 });
      // the client itself reports about a reply (VIP:80 -> client): the backend hears it about B1:8080 -> SNAT:port
      const r2 = h.run(buildFrame({ ip: { src: CLIENT, dst: VIP }, icmp: inner(VIP, CLIENT, 80, 40000) }));
      t.deepEqual(r2.data, buildFrame({ ip: { src: '198.18.0.1', dst: B1 }, icmp: inner(B1, '198.18.0.1', 8080, port) }));
      // about no flow: untouched
      const stray = buildFrame({ ip: { src: router, dst: CLIENT }, icmp: inner(CLIENT, '198.18.7.7', 1, 2) });
      t.deepEqual(h.run(stray).data, stray);
      t.deepEqual(h.reasonDelta(), { icmp_error: 1, pass_icmp_untracked: 1 });
    } finally {
      h.close();
    }
  });

  test(`${hook}: ICMP errors quoting the embedded L4 checksum (full TCP quote, UDP, ICMP echo) get it updated, exact bytes`, (t) => {
    const snat = Buffer.alloc(16);
    snat.set([198, 18, 0, 1]);
    const h = openHarness(hook, { config: { snat_v4: snat } });
    try {
      h.service({ id: 2, vip: VIP, port: 80, mode: 'fullnat', endpoints: [{ ip: B1, port: 8080 }] });
      h.service({ id: 3, vip: VIP, port: 53, proto: 'udp', mode: 'fullnat', endpoints: [{ ip: B1, port: 5353 }] });
      h.service({ id: 4, vip: VIP, port: 0, proto: 'icmp', mode: 'fullnat', endpoints: [{ ip: B1, port: 0 }] });
      const router = '198.18.1.254';
      const SNAT = '198.18.0.1';
      const unreach = (inner: IpPacketSpec, quoteLength?: number): FrameSpec['icmp'] => ({
        type: 'dest-unreachable',
        code: 'frag-needed',
        mtu: 1400,
        inner,
        ...(quoteLength ? { quoteLength } : {}),
      });
      // TCP, the whole embedded packet quoted (its checksum at byte 16 included)
      h.run(buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 40000, dport: 80, seq: 100, flags: 'S' }, payload: 'hello' }));
      const tport = h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' })!.nat_sport;
      const tcpq = (src: string, dst: string, sport: number, dport: number): FrameSpec['icmp'] =>
        unreach({ ip: { src, dst, id: 3 }, tcp: { sport, dport, seq: 100, flags: 'S' }, payload: 'hello' });
      let r = h.run(buildFrame({ ip: { src: router, dst: SNAT }, icmp: tcpq(SNAT, B1, tport, 8080) }));
      t.deepEqual(r.data, buildFrame({ ip: { src: router, dst: CLIENT }, icmp: tcpq(CLIENT, VIP, 40000, 80) }));
      // UDP, 8 bytes quoted (its checksum included)
      h.run(buildFrame({ ip: { src: CLIENT, dst: VIP }, udp: { sport: 40001, dport: 53 }, payload: 'query' }));
      const uport = h.flow({ src: CLIENT, dst: VIP, sport: 40001, dport: 53, proto: 'udp' })!.nat_sport;
      const udpq = (src: string, dst: string, sport: number, dport: number): FrameSpec['icmp'] =>
        unreach({ ip: { src, dst, id: 4 }, udp: { sport, dport }, payload: 'query' }, 28);
      r = h.run(buildFrame({ ip: { src: router, dst: SNAT }, icmp: udpq(SNAT, B1, uport, 5353) }));
      t.deepEqual(r.data, buildFrame({ ip: { src: router, dst: CLIENT }, icmp: udpq(CLIENT, VIP, 40001, 53) }));
      // ICMP echo request (full NAT gave it its own identifier): identifier and checksum restored
      h.run(buildFrame({ ip: { src: CLIENT, dst: VIP }, icmp: { type: 'echo-request', id: 77, seq: 1 } }));
      const id = h.flow({ src: CLIENT, dst: VIP, sport: 77, dport: 0, proto: 'icmp' })!.nat_sport;
      t.not(id, 77);
      const echoq = (src: string, dst: string, ident: number): FrameSpec['icmp'] => ({
        type: 'time-exceeded',
        inner: { ip: { src, dst, id: 5 }, icmp: { type: 'echo-request', id: ident, seq: 1 } },
      });
      r = h.run(buildFrame({ ip: { src: router, dst: SNAT }, icmp: echoq(SNAT, B1, id) }));
      t.deepEqual(r.data, buildFrame({ ip: { src: router, dst: CLIENT }, icmp: echoq(CLIENT, VIP, 77) }));
      // the client reports about an echo reply (VIP -> client, id 77): the backend hears it about B1 -> SNAT, its id
      const replyq = (src: string, dst: string, ident: number): FrameSpec['icmp'] => ({
        type: 'dest-unreachable',
        code: 'port',
        inner: { ip: { src, dst, id: 6 }, icmp: { type: 'echo-reply', id: ident, seq: 1 } },
      });
      r = h.run(buildFrame({ ip: { src: CLIENT, dst: VIP }, icmp: replyq(VIP, CLIENT, 77) }));
      t.deepEqual(r.data, buildFrame({ ip: { src: SNAT, dst: B1 }, icmp: replyq(B1, SNAT, id) }));
    } finally {
      h.close();
    }
  });
}
