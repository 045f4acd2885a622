// New flows and their replies through the real datapath (BPF_PROG_TEST_RUN), TC and XDP:
// exact expected bytes (built independently by the packet toolkit, so every checksum in them is
// correct), DNAT and full NAT, UDP with a zero checksum, IPv6, a VLAN tag, the fast path.
import test from 'ava';
import { buildFrame, checksumProblems, decodeFrame } from '../packet/index.ts';
import type { FrameSpec } from '../packet/index.ts';
import { CT_STATE, XLATE } from '../schema/maps.ts';
import { HOOKS, openHarness } from './prog-run.ts';

const CLIENT = '198.18.0.10';
const VIP = '198.18.100.1';
const BACKEND = '198.18.1.11';
const SNAT = '198.18.0.1';
const CLIENT6 = 'fd00::10';
const VIP6 = 'fd00::100:1';
const BACKEND6 = 'fd00::1:11';
const SNAT6 = 'fd00::1';

const payload = 'GET / HTTP/1.0\r\n\r\n';

function frame(spec: FrameSpec): Buffer {
  return buildFrame(spec);
}

for (const hook of HOOKS) {
  test(`${hook}: DNAT TCP flow: SYN, SYN-ACK, ACK, data both ways, exact bytes, fast path`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: BACKEND, port: 8080 }] });
      const c2s = (tcp: FrameSpec['tcp'], dst: string, dport: number, data?: string): Buffer =>
        frame({ ip: { src: CLIENT, dst, id: 7 }, tcp: { sport: 40000, dport, ...tcp } as FrameSpec['tcp'], payload: data });
      const s2c = (tcp: FrameSpec['tcp'], src: string, sport: number, data?: string): Buffer =>
        frame({ ip: { src, dst: CLIENT, id: 9 }, tcp: { sport, dport: 40000, ...tcp } as FrameSpec['tcp'], payload: data });

      h.reasonDelta();
      let r = h.run(c2s({ sport: 40000, dport: 80, seq: 1000, flags: 'S' }, VIP, 80));
      t.is(r.verdict, 'pass'); // FIB: empty table -> handed to the stack, translated
      t.deepEqual(r.data, c2s({ sport: 40000, dport: 8080, seq: 1000, flags: 'S' }, BACKEND, 8080));
      t.deepEqual(h.reasonDelta(), { new_flow: 1 });
      t.is(h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' })?.state, CT_STATE.indexOf('SYN_SENT'));

      r = h.run(s2c({ sport: 8080, dport: 40000, seq: 5000, ack: 1001, flags: 'SA' }, BACKEND, 8080));
      t.deepEqual(r.data, s2c({ sport: 80, dport: 40000, seq: 5000, ack: 1001, flags: 'SA' }, VIP, 80));
      t.deepEqual(h.reasonDelta(), { tracked: 1 });
      t.is(h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' })?.state, CT_STATE.indexOf('SYN_RECV'));

      r = h.run(c2s({ sport: 40000, dport: 80, seq: 1001, ack: 5001, flags: 'A' }, VIP, 80));
      t.deepEqual(r.data, c2s({ sport: 40000, dport: 8080, seq: 1001, ack: 5001, flags: 'A' }, BACKEND, 8080));
      t.deepEqual(h.reasonDelta(), { tracked: 1 });
      const fwd = h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' });
      const rev = h.flow({ src: BACKEND, dst: CLIENT, sport: 8080, dport: 40000, proto: 'tcp' });
      t.is(fwd?.state, CT_STATE.indexOf('ESTABLISHED'));
      t.is(rev?.state, CT_STATE.indexOf('ESTABLISHED'));
      t.is(fwd?.xlate, XLATE.daddr | XLATE.dport);
      t.is(rev?.xlate, XLATE.saddr | XLATE.sport);

      // established: fast path both ways, with payload
      r = h.run(c2s({ sport: 40000, dport: 80, seq: 1001, ack: 5001, flags: 'PA' }, VIP, 80, payload));
      t.deepEqual(r.data, c2s({ sport: 40000, dport: 8080, seq: 1001, ack: 5001, flags: 'PA' }, BACKEND, 8080, payload));
      r = h.run(s2c({ sport: 8080, dport: 40000, seq: 5001, ack: 1001 + payload.length, flags: 'PA' }, BACKEND, 8080, 'ok'));
      t.deepEqual(r.data, s2c({ sport: 80, dport: 40000, seq: 5001, ack: 1001 + payload.length, flags: 'PA' }, VIP, 80, 'ok'));
      t.deepEqual(h.reasonDelta(), { fast_path: 2 });
      t.deepEqual(checksumProblems(decodeFrame(r.data)), []);
      t.is(h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' })?.packets, 3n); // SYN, ACK, data: the client's direction
    } finally {
      h.close();
    }
  });

  test(`${hook}: full NAT TCP: source rewritten to the SNAT address and a free port, reply reversed`, (t) => {
    const h = openHarness(hook, { config: { snat_v4: Buffer.from([198, 18, 0, 1, ...new Array<number>(12).fill(0)]) } });
    try {
      h.service({ id: 2, vip: VIP, port: 80, mode: 'fullnat', endpoints: [{ ip: BACKEND, port: 80 }] });
      const syn = frame({ ip: { src: CLIENT, dst: VIP, id: 1 }, tcp: { sport: 40000, dport: 80, seq: 1, flags: 'S' } });
      const r = h.run(syn);
      const fwd = h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' });
      t.truthy(fwd);
      const port = fwd!.nat_sport;
      t.true(port >= 32768 && port <= 60999, `port ${port}`);
      t.is(fwd!.xlate, XLATE.saddr | XLATE.daddr | XLATE.sport);
      t.deepEqual(r.data, frame({ ip: { src: SNAT, dst: BACKEND, id: 1 }, tcp: { sport: port, dport: 80, seq: 1, flags: 'S' } }));
      const reply = h.run(frame({ ip: { src: BACKEND, dst: SNAT, id: 2 }, tcp: { sport: 80, dport: port, seq: 9, ack: 2, flags: 'SA' } }));
      t.deepEqual(
        reply.data,
        frame({ ip: { src: VIP, dst: CLIENT, id: 2 }, tcp: { sport: 80, dport: 40000, seq: 9, ack: 2, flags: 'SA' } }),
      );
      // a second client with the same source port gets its own reply tuple
      h.run(frame({ ip: { src: '198.18.0.11', dst: VIP }, tcp: { sport: 40000, dport: 80, flags: 'S' } }));
      const other = h.flow({ src: '198.18.0.11', dst: VIP, sport: 40000, dport: 80, proto: 'tcp' });
      t.truthy(other);
      t.not(other!.nat_sport, port);
    } finally {
      h.close();
    }
  });

  test(`${hook}: UDP with checksum 0 keeps 0; with a checksum stays valid; UDP states`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 3, vip: VIP, port: 53, proto: 'udp', endpoints: [{ ip: BACKEND, port: 5353 }] });
      const q = (checksum?: 'zero'): Buffer =>
        frame({ ip: { src: CLIENT, dst: VIP }, udp: { sport: 5000, dport: 53, checksum }, payload: 'q' });
      let r = h.run(q('zero'));
      t.deepEqual(r.data, frame({ ip: { src: CLIENT, dst: BACKEND }, udp: { sport: 5000, dport: 5353, checksum: 'zero' }, payload: 'q' }));
      t.is(h.flow({ src: CLIENT, dst: VIP, sport: 5000, dport: 53, proto: 'udp' })?.state, CT_STATE.indexOf('UDP_NEW'));
      r = h.run(frame({ ip: { src: BACKEND, dst: CLIENT }, udp: { sport: 5353, dport: 5000 }, payload: 'answer' }));
      t.deepEqual(r.data, frame({ ip: { src: VIP, dst: CLIENT }, udp: { sport: 53, dport: 5000 }, payload: 'answer' }));
      t.is(h.flow({ src: CLIENT, dst: VIP, sport: 5000, dport: 53, proto: 'udp' })?.state, CT_STATE.indexOf('UDP_SEEN'));
      r = h.run(q());
      t.deepEqual(r.data, frame({ ip: { src: CLIENT, dst: BACKEND }, udp: { sport: 5000, dport: 5353 }, payload: 'q' }));
      t.is(h.flow({ src: CLIENT, dst: VIP, sport: 5000, dport: 53, proto: 'udp' })?.state, CT_STATE.indexOf('UDP_ESTABLISHED'));
      h.reasonDelta();
      r = h.run(q('zero'));
      t.deepEqual(h.reasonDelta(), { fast_path: 1 });
      t.deepEqual(r.data, frame({ ip: { src: CLIENT, dst: BACKEND }, udp: { sport: 5000, dport: 5353, checksum: 'zero' }, payload: 'q' }));
    } finally {
      h.close();
    }
  });

  test(`${hook}: IPv6 DNAT and full NAT with exact bytes`, (t) => {
    const snat6 = Buffer.alloc(16);
    snat6.writeUInt16BE(0xfd00, 0);
    snat6.writeUInt16BE(1, 14);
    const h = openHarness(hook, { config: { snat_v6: snat6 } });
    try {
      h.service({ id: 4, vip: VIP6, port: 443, endpoints: [{ ip: BACKEND6, port: 8443 }] });
      let r = h.run(frame({ ip: { src: CLIENT6, dst: VIP6, flowLabel: 5 }, tcp: { sport: 40000, dport: 443, seq: 7, flags: 'S' } }));
      t.deepEqual(
        r.data,
        frame({ ip: { src: CLIENT6, dst: BACKEND6, flowLabel: 5 }, tcp: { sport: 40000, dport: 8443, seq: 7, flags: 'S' } }),
      );
      r = h.run(frame({ ip: { src: BACKEND6, dst: CLIENT6 }, tcp: { sport: 8443, dport: 40000, seq: 1, ack: 8, flags: 'SA' } }));
      t.deepEqual(r.data, frame({ ip: { src: VIP6, dst: CLIENT6 }, tcp: { sport: 443, dport: 40000, seq: 1, ack: 8, flags: 'SA' } }));

      h.service({ id: 5, vip: VIP6, port: 53, proto: 'udp', mode: 'fullnat', endpoints: [{ ip: BACKEND6, port: 53 }] });
      r = h.run(frame({ ip: { src: CLIENT6, dst: VIP6 }, udp: { sport: 6000, dport: 53 }, payload: 'x' }));
      const port = h.flow({ src: CLIENT6, dst: VIP6, sport: 6000, dport: 53, proto: 'udp' })!.nat_sport;
      t.deepEqual(r.data, frame({ ip: { src: SNAT6, dst: BACKEND6 }, udp: { sport: port, dport: 53 }, payload: 'x' }));
      r = h.run(frame({ ip: { src: BACKEND6, dst: SNAT6 }, udp: { sport: 53, dport: port }, payload: 'y' }));
      t.deepEqual(r.data, frame({ ip: { src: VIP6, dst: CLIENT6 }, udp: { sport: 53, dport: 6000 }, payload: 'y' }));
    } finally {
      h.close();
    }
  });

  test(`${hook}: a VLAN-tagged frame is balanced and keeps its tag`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: BACKEND, port: 0 }] });
      const r = h.run(frame({ vlan: { id: 100, pcp: 3 }, ip: { src: CLIENT, dst: VIP }, tcp: { sport: 40001, dport: 80, flags: 'S' } }));
      t.deepEqual(
        r.data,
        frame({ vlan: { id: 100, pcp: 3 }, ip: { src: CLIENT, dst: BACKEND }, tcp: { sport: 40001, dport: 80, flags: 'S' } }),
      );
    } finally {
      h.close();
    }
  });

  test(`${hook}: non-VIP traffic passes byte-identical; ICMP echo to a VIP service is balanced`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: BACKEND, port: 0 }] });
      h.service({ id: 6, vip: VIP, port: 0, proto: 'icmp', endpoints: [{ ip: BACKEND, port: 0 }] });
      h.reasonDelta();
      for (const f of [
        frame({ ip: { src: CLIENT, dst: '198.18.9.9' }, tcp: { sport: 1, dport: 80, flags: 'S' } }),
        frame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 1, dport: 81, flags: 'S' } }),
        frame({ ip: { src: CLIENT, dst: VIP }, udp: { sport: 1, dport: 80 } }),
        frame({ eth: { type: 0x0806 }, payload: 28 }),
      ]) {
        const r = h.run(f);
        t.is(r.verdict, 'pass');
        t.deepEqual(r.data, f);
      }
      t.deepEqual(h.reasonDelta(), { pass_no_service: 3, pass_not_ip: 1 });
      let r = h.run(frame({ ip: { src: CLIENT, dst: VIP }, icmp: { type: 'echo-request', id: 77, seq: 1 } }));
      t.deepEqual(r.data, frame({ ip: { src: CLIENT, dst: BACKEND }, icmp: { type: 'echo-request', id: 77, seq: 1 } }));
      r = h.run(frame({ ip: { src: BACKEND, dst: CLIENT }, icmp: { type: 'echo-reply', id: 77, seq: 1 } }));
      t.deepEqual(r.data, frame({ ip: { src: VIP, dst: CLIENT }, icmp: { type: 'echo-reply', id: 77, seq: 1 } }));
      t.is(h.flow({ src: CLIENT, dst: VIP, sport: 77, dport: 0, proto: 'icmp' })?.state, CT_STATE.indexOf('ICMP_REPLY'));
    } finally {
      h.close();
    }
  });
}

for (const hook of HOOKS) {
  test(`${hook}: DSR forwards without rewriting; a port-range service matches inside its range only`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 7, vip: VIP, port: 80, mode: 'dsr', endpoints: [{ ip: BACKEND, port: 0 }] });
      const syn = frame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 40000, dport: 80, flags: 'S' } });
      h.reasonDelta();
      t.deepEqual(h.run(syn).data, syn);
      t.deepEqual(h.reasonDelta(), { new_flow: 1 });
      const e = h.flow({ src: CLIENT, dst: VIP, sport: 40000, dport: 80, proto: 'tcp' });
      t.is(e?.xlate, 0);
      t.deepEqual([...e!.nat_daddr.subarray(0, 4)], [198, 18, 1, 11]);
      t.is(h.flow({ src: BACKEND, dst: CLIENT, sport: 40000, dport: 40000, proto: 'tcp' }), undefined);

      h.service({ id: 8, vip: VIP, port: 0, portLo: 1000, portHi: 1999, proto: 'udp', endpoints: [{ ip: BACKEND, port: 0 }] });
      const inRange = frame({ ip: { src: CLIENT, dst: VIP }, udp: { sport: 7, dport: 1500 }, payload: 'r' });
      t.deepEqual(h.run(inRange).data, frame({ ip: { src: CLIENT, dst: BACKEND }, udp: { sport: 7, dport: 1500 }, payload: 'r' }));
      const outside = frame({ ip: { src: CLIENT, dst: VIP }, udp: { sport: 7, dport: 2000 }, payload: 'r' });
      t.deepEqual(h.run(outside).data, outside);
    } finally {
      h.close();
    }
  });

  test(`${hook}: ICMP and ICMPv6 echo under full NAT: each flow gets its own identifier, two clients with the same one do not collide`, (t) => {
    const snat4 = Buffer.alloc(16);
    snat4.set([198, 18, 0, 1]);
    const snat6 = Buffer.from('fd000000000000000000000000000001', 'hex');
    const h = openHarness(hook, { config: { snat_v4: snat4, snat_v6: snat6 } });
    try {
      h.service({ id: 1, vip: VIP, port: 0, proto: 'icmp', mode: 'fullnat', endpoints: [{ ip: BACKEND, port: 0 }] });
      h.service({ id: 2, vip: VIP6, port: 0, proto: 'icmp', mode: 'fullnat', endpoints: [{ ip: BACKEND6, port: 0 }] });
      for (const [vip, backend, snat, clients] of [
        [VIP, BACKEND, SNAT, [CLIENT, '198.18.0.11']],
        [VIP6, BACKEND6, SNAT6, [CLIENT6, 'fd00::11']],
      ] as const) {
        const ids: number[] = [];
        for (const client of clients) {
          const r = h.run(frame({ ip: { src: client, dst: vip }, icmp: { type: 'echo-request', id: 77, seq: 1 }, payload: 'ping' }));
          t.is(r.verdict, 'pass');
          const id = h.flow({ src: client, dst: vip, sport: 77, dport: 0, proto: 'icmp' })!.nat_sport;
          t.deepEqual(r.data, frame({ ip: { src: snat, dst: backend }, icmp: { type: 'echo-request', id, seq: 1 }, payload: 'ping' }));
          ids.push(id);
        }
        t.not(ids[0], ids[1], 'two clients with identifier 77 get distinct identifiers towards the backend');
        clients.forEach((client, i) => {
          const r = h.run(frame({ ip: { src: backend, dst: snat }, icmp: { type: 'echo-reply', id: ids[i]!, seq: 1 }, payload: 'ping' }));
          t.deepEqual(r.data, frame({ ip: { src: vip, dst: client }, icmp: { type: 'echo-reply', id: 77, seq: 1 }, payload: 'ping' }));
        });
      }
      t.deepEqual(h.reasonDelta(), { new_flow: 4, tracked: 4 });
    } finally {
      h.close();
    }
  });

  test(`${hook}: ICMPv6 echo balanced; ICMPv6 packet-too-big about a tracked IPv6 flow translated`, (t) => {
    const snat6 = Buffer.alloc(16);
    snat6.writeUInt16BE(0xfd00, 0);
    snat6.writeUInt16BE(1, 14);
    const h = openHarness(hook, { config: { snat_v6: snat6 } });
    try {
      h.service({ id: 9, vip: VIP6, port: 0, proto: 'icmp', endpoints: [{ ip: BACKEND6, port: 0 }] });
      let r = h.run(frame({ ip: { src: CLIENT6, dst: VIP6 }, icmp: { type: 'echo-request', id: 5, seq: 1 } }));
      t.deepEqual(r.data, frame({ ip: { src: CLIENT6, dst: BACKEND6 }, icmp: { type: 'echo-request', id: 5, seq: 1 } }));
      r = h.run(frame({ ip: { src: BACKEND6, dst: CLIENT6 }, icmp: { type: 'echo-reply', id: 5, seq: 1 } }));
      t.deepEqual(r.data, frame({ ip: { src: VIP6, dst: CLIENT6 }, icmp: { type: 'echo-reply', id: 5, seq: 1 } }));

      h.service({ id: 10, vip: VIP6, port: 443, mode: 'fullnat', endpoints: [{ ip: BACKEND6, port: 8443 }] });
      h.run(frame({ ip: { src: CLIENT6, dst: VIP6 }, tcp: { sport: 40000, dport: 443, flags: 'S' } }));
      const port = h.flow({ src: CLIENT6, dst: VIP6, sport: 40000, dport: 443, proto: 'tcp' })!.nat_sport;
      const router = 'fd00::1:fe';
      const ptb = (src: string, dst: string, sport: number, dport: number): FrameSpec['icmp'] => ({
        type: 'packet-too-big',
        mtu: 1280,
        inner: { ip: { src, dst }, tcp: { sport, dport, flags: 'S' } },
        quoteLength: 48,
      });
      r = h.run(frame({ ip: { src: router, dst: SNAT6 }, icmp: ptb(SNAT6, BACKEND6, port, 8443) }));
      t.deepEqual(r.data, frame({ ip: { src: router, dst: CLIENT6 }, icmp: ptb(CLIENT6, VIP6, 40000, 443) }));
    } finally {
      h.close();
    }
  });

  test(`${hook}: QinQ-tagged IPv6 frame is balanced and keeps both tags`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 4, vip: VIP6, port: 443, endpoints: [{ ip: BACKEND6, port: 0 }] });
      const tags = [{ id: 10, tpid: 0x88a8 }, { id: 20 }];
      const r = h.run(frame({ vlan: tags, ip: { src: CLIENT6, dst: VIP6 }, tcp: { sport: 1, dport: 443, flags: 'S' } }));
      t.deepEqual(r.data, frame({ vlan: tags, ip: { src: CLIENT6, dst: BACKEND6 }, tcp: { sport: 1, dport: 443, flags: 'S' } }));
    } finally {
      h.close();
    }
  });
}
