// ICMP in the model with exact expected bytes built by the packet toolkit: echo balanced (DNAT
// and full NAT with per-flow identifiers), errors about tracked flows translated with their
// embedded checksums, untracked errors untouched.
import test from 'ava';
import { buildFrame, buildIpPacket } from '../packet/index.ts';
import { openModelDatapath } from './index.ts';
import { program } from './case-service.ts';

const CLIENT = '198.18.0.10';
const CLIENT2 = '198.18.0.11';
const VIP = '198.18.100.1';
const B = '198.18.1.11';
const SNAT = '198.18.0.1';
const ROUTER = '198.18.0.254';

for (const hook of ['tc', 'xdp'] as const) {
  test(`${hook}: ICMP echo under DNAT: request to the backend, reply from the VIP`, (t) => {
    const m = openModelDatapath({ hook });
    program(m.control, { id: 1, vip: VIP, port: 0, protocol: 'icmp', endpoints: [{ ip: B, port: 0 }] });
    const r = m.packets.process(
      buildFrame({ ip: { src: CLIENT, dst: VIP }, icmp: { type: 'echo-request', id: 3, seq: 1 }, payload: 32 }),
      1,
    );
    t.is(r.reason, 'new_flow');
    t.deepEqual(r.frame, buildFrame({ ip: { src: CLIENT, dst: B }, icmp: { type: 'echo-request', id: 3, seq: 1 }, payload: 32 }));
    const back = m.packets.process(
      buildFrame({ ip: { src: B, dst: CLIENT }, icmp: { type: 'echo-reply', id: 3, seq: 1 }, payload: 32 }),
      1,
    );
    t.is(back.reason, 'tracked');
    t.deepEqual(back.frame, buildFrame({ ip: { src: VIP, dst: CLIENT }, icmp: { type: 'echo-reply', id: 3, seq: 1 }, payload: 32 }));
    t.deepEqual(
      m.packets
        .conntrack()
        .map((e) => e.state)
        .sort(),
      ['ICMP_REPLY', 'ICMP_REPLY'],
    );
  });

  test(`${hook}: ICMPv6 echo under full NAT: two clients with the same identifier get distinct ones`, (t) => {
    const m = openModelDatapath({ hook, settings: { snatV6: 'fd00::1' } });
    program(m.control, {
      id: 1,
      vip: 'fd00::100:1',
      port: 0,
      protocol: 'icmp',
      mode: 'fullnat',
      endpoints: [{ ip: 'fd00::1:11', port: 0 }],
    });
    const ids = ['fd00::10', 'fd00::11'].map((c) => {
      const r = m.packets.process(
        buildFrame({ ip: { src: c, dst: 'fd00::100:1' }, icmp: { type: 'echo-request', id: 9, seq: 1 }, payload: 8 }),
        1,
      );
      const id = m.packets.conntrack().find((e) => !e.reply && e.key.src === c)?.nat.sport ?? -1;
      t.deepEqual(
        r.frame,
        buildFrame({ ip: { src: 'fd00::1', dst: 'fd00::1:11' }, icmp: { type: 'echo-request', id, seq: 1 }, payload: 8 }),
      );
      return id;
    });
    t.not(ids[0], ids[1]);
    const back = m.packets.process(
      buildFrame({ ip: { src: 'fd00::1:11', dst: 'fd00::1' }, icmp: { type: 'echo-reply', id: ids[1], seq: 1 }, payload: 8 }),
      1,
    );
    t.deepEqual(
      back.frame,
      buildFrame({ ip: { src: 'fd00::100:1', dst: 'fd00::11' }, icmp: { type: 'echo-reply', id: 9, seq: 1 }, payload: 8 }),
    );
  });

  test(`${hook}: frag-needed from a router about a translated packet: outer and embedded packet restored, checksums exact`, (t) => {
    const m = openModelDatapath({ hook });
    program(m.control, { id: 1, vip: VIP, port: 80, endpoints: [{ ip: B, port: 8080 }] });
    m.packets.process(buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 40000, dport: 80, seq: 1, flags: 'S' } }), 1);
    const quoted = (dst: string, dport: number): Buffer =>
      buildIpPacket({ ip: { src: CLIENT, dst, id: 5 }, tcp: { sport: 40000, dport, seq: 1, flags: 'S' }, payload: 64 });
    const err = (inner: Buffer): Buffer =>
      buildFrame({ ip: { src: ROUTER, dst: CLIENT }, icmp: { type: 'dest-unreachable', code: 'frag-needed', mtu: 1400, inner } });
    const r = m.packets.process(err(quoted(B, 8080)), 1);
    t.is(r.reason, 'icmp_error');
    t.deepEqual(r.frame, err(quoted(VIP, 80)), 'the client sees the error about the packet it sent (embedded TCP checksum updated)');
  });

  test(`${hook}: full NAT: port unreachable from the backend about a UDP datagram, SNAT source and port restored`, (t) => {
    const m = openModelDatapath({ hook, settings: { snatV4: SNAT } });
    program(m.control, { id: 1, vip: VIP, port: 53, protocol: 'udp', mode: 'fullnat', endpoints: [{ ip: B, port: 53 }] });
    for (const client of [CLIENT, CLIENT2])
      m.packets.process(buildFrame({ ip: { src: client, dst: VIP }, udp: { sport: 5000, dport: 53 }, payload: 10 }), 1);
    const port = m.packets.conntrack().find((e) => !e.reply && e.key.src === CLIENT2)?.nat.sport ?? 0;
    const inner = (src: string, sport: number, dst: string, zero?: boolean): Buffer =>
      buildIpPacket({ ip: { src, dst }, udp: { sport, dport: 53, ...(zero === true ? { checksum: 'zero' as const } : {}) }, payload: 10 });
    const err = (src: string, dst: string, q: Buffer): Buffer =>
      buildFrame({ ip: { src, dst }, icmp: { type: 'dest-unreachable', code: 'port', inner: q } });
    const r = m.packets.process(err(B, SNAT, inner(SNAT, port, B)), 1);
    t.is(r.reason, 'icmp_error');
    t.deepEqual(r.frame, err(VIP, CLIENT2, inner(CLIENT2, 5000, VIP)));
    // a quoted UDP checksum of 0 stays 0
    const z = m.packets.process(err(B, SNAT, inner(SNAT, port, B, true)), 1);
    t.deepEqual(z.frame, err(VIP, CLIENT2, inner(CLIENT2, 5000, VIP, true)));
  });

  test(`${hook}: an error about no tracked flow passes untouched`, (t) => {
    const m = openModelDatapath({ hook });
    const f = buildFrame({
      ip: { src: ROUTER, dst: CLIENT },
      icmp: { type: 'time-exceeded', inner: { ip: { src: CLIENT, dst: VIP }, udp: { sport: 1, dport: 2 } } },
    });
    const r = m.packets.process(f, 1);
    t.is(r.reason, 'pass_icmp_untracked');
    t.deepEqual(r.frame, f);
    t.is(r.fwd, undefined);
  });
}
