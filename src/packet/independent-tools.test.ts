// Our checksums and verdicts against independent implementations: tshark (status and calculated
// value for IPv4/TCP/UDP/ICMP/ICMPv6) and tcpdump -vv (the "->" correct value it prints for bad
// ones), on a pcap the builder wrote, including deliberately broken checksums. Also tshark's view
// of Linux cooked (SLL/SLL2) and raw-IP captures we wrote.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { parseIpv6 } from './addr.ts';
import { buildFrame, buildIpPacket } from './build.ts';
import { decodeFrame } from './decode.ts';
import type { ChecksumVerdict, DecodedFrame } from './decoded.ts';
import { writePcap } from './pcap.ts';
import type { FrameSpec } from './spec.ts';

const V4 = { src: '198.18.0.1', dst: '198.18.1.1' };
const V6 = { src: 'fd00::1', dst: 'fd00::2' };

function udpZeroSumPayload(ip: typeof V4): Uint8Array {
  // A payload word equal to the checksum of the zero-payload datagram makes the computed checksum 0 (sent as 0xffff).
  const probe = decodeFrame(buildFrame({ ip, udp: { sport: 7, dport: 9 }, payload: new Uint8Array(2) }));
  const c = probe.udp?.checksum.value ?? 0;
  return Uint8Array.from([c >> 8, c & 0xff]);
}

const CASES: Array<[string, FrameSpec]> = [
  [
    'tcp4 ok, vlan, options',
    {
      vlan: 10,
      ip: V4,
      tcp: {
        sport: 40000,
        dport: 80,
        options: [
          { kind: 'mss', value: 1460 },
          { kind: 'sack-permitted' },
          { kind: 'timestamp', value: 1, echo: 0 },
          { kind: 'nop' },
          { kind: 'wscale', shift: 7 },
        ],
      },
    },
  ],
  ['tcp4 ip bad, tcp bad', { ip: { ...V4, checksum: 'bad' }, tcp: { sport: 1, dport: 2, flags: 'PA', checksum: 'bad' }, payload: 7 }],
  ['tcp4 partial (CHECKSUM_PARTIAL capture)', { ip: V4, tcp: { sport: 1, dport: 2, flags: 'A', checksum: 'partial' }, payload: 100 }],
  ['tcp4 with IP options', { ip: { ...V4, options: [{ type: 148, data: new Uint8Array(2) }] }, tcp: { sport: 5, dport: 6 }, payload: 3 }],
  ['udp4 ok odd payload', { ip: V4, udp: { sport: 53, dport: 5353 }, payload: 7 }],
  ['udp4 zero (no checksum)', { ip: V4, udp: { sport: 1, dport: 2, checksum: 'zero' }, payload: 4 }],
  ['udp4 partial', { ip: V4, udp: { sport: 1, dport: 2, checksum: 'partial' }, payload: 4 }],
  ['udp4 computed 0 sent as 0xffff', { ip: V4, udp: { sport: 7, dport: 9 }, payload: udpZeroSumPayload(V4) }],
  ['udp4 explicit wrong value', { ip: V4, udp: { sport: 1, dport: 2, checksum: 0x1234 }, payload: 4 }],
  ['icmp4 echo ok', { ip: V4, icmp: { type: 'echo-request', id: 1, seq: 2 }, payload: 56 }],
  ['icmp4 echo bad', { ip: V4, icmp: { type: 'echo-reply', id: 1, seq: 2, checksum: 'bad' }, payload: 5 }],
  [
    'icmp4 frag-needed ok',
    {
      ip: V4,
      icmp: { type: 'dest-unreachable', code: 'frag-needed', mtu: 1400, inner: { ip: V4, tcp: { sport: 1, dport: 2 }, payload: 100 } },
    },
  ],
  [
    'tcp6 ok, ext headers, QinQ',
    { vlan: [1, 2], ip: { ...V6, extensions: [{ type: 'hop-by-hop' }, { type: 'dest-opts' }] }, tcp: { sport: 1, dport: 2 }, payload: 9 },
  ],
  ['tcp6 bad', { ip: V6, tcp: { sport: 1, dport: 2, checksum: 'bad' }, payload: 9 }],
  ['tcp6 partial', { ip: V6, tcp: { sport: 1, dport: 2, checksum: 'partial' }, payload: 9 }],
  ['udp6 ok', { ip: V6, udp: { sport: 1, dport: 2 }, payload: 11 }],
  ['udp6 computed 0 sent as 0xffff', { ip: V6, udp: { sport: 7, dport: 9 }, payload: udpZeroSumPayload(V6) }],
  ['udp6 bad', { ip: V6, udp: { sport: 1, dport: 2, checksum: 'bad' }, payload: 11 }],
  ['icmp6 echo ok', { ip: V6, icmp: { type: 'echo-request', id: 3, seq: 4 }, payload: 8 }],
  ['icmp6 echo bad', { ip: V6, icmp: { type: 'echo-request', id: 3, seq: 4, checksum: 'bad' }, payload: 8 }],
  // Routing headers with segments left: the pseudo-header takes the final destination (RFC 8200 8.1).
  [
    'udp6 SRH, final destination in the pseudo-header',
    {
      ip: {
        src: V6.src,
        dst: 'fd00::2',
        extensions: [
          {
            type: 'routing',
            routingType: 4,
            segmentsLeft: 1,
            data: Uint8Array.from([1, 0, 0, 0, ...parseIpv6('fd00::100:1'), ...parseIpv6('fd00::2')]),
          },
        ],
      },
      udp: { sport: 1, dport: 2 },
      payload: 5,
    },
  ],
  [
    'tcp6 RH0, final destination in the pseudo-header',
    {
      ip: {
        src: V6.src,
        dst: 'fd00::2',
        extensions: [{ type: 'routing', routingType: 0, segmentsLeft: 1, data: Uint8Array.from([0, 0, 0, 0, ...parseIpv6('fd00::99')]) }],
      },
      tcp: { sport: 1, dport: 2 },
      payload: 5,
    },
  ],
  [
    'icmp6 packet-too-big ok',
    {
      ip: { src: 'fd00::9', dst: V6.src },
      icmp: { type: 'packet-too-big', mtu: 1280, inner: { ip: V6, udp: { sport: 1, dport: 2 }, payload: 2000 } },
    },
  ],
];

const FIELDS = [
  'ip.checksum.status',
  'ip.checksum_calculated',
  'tcp.checksum.status',
  'tcp.checksum_calculated',
  'udp.checksum.status',
  'udp.checksum_calculated',
  'icmp.checksum.status',
  'icmpv6.checksum.status',
  'tcp.srcport',
  'udp.srcport',
  'sll.pkttype',
  'sll.ifindex',
];

/** tshark's checksum status field: 0 Bad, 1 Good, 2 Unverified, 3 Not present. */
function tsharkStatus(v: ChecksumVerdict): string {
  return v === 'ok' ? '1' : v === 'zero' ? '3' : '0';
}

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'xlb-packet-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function tshark(file: string): Promise<Array<Record<string, string>>> {
  const args = [
    '-r',
    file,
    '-n',
    '-o',
    'ip.check_checksum:TRUE',
    '-o',
    'tcp.check_checksum:TRUE',
    '-o',
    'udp.check_checksum:TRUE',
    '-T',
    'fields',
    '-E',
    'separator=/t',
    '-E',
    'occurrence=f',
  ];
  for (const f of FIELDS) args.push('-e', f);
  const r = await execa('tshark', args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`tshark failed (is it installed? ./xlb setup installs it): ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => Object.fromEntries(line.split('\t').map((v, i) => [FIELDS[i]!, v])));
}

/** tcpdump -vv output split per packet (continuation lines start with whitespace). */
async function tcpdump(file: string): Promise<string[]> {
  const r = await execa('tcpdump', ['-vv', '-n', '-r', file], { reject: false });
  if (r.exitCode !== 0) throw new Error(`tcpdump failed (is it installed?): ${r.stderr}`);
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (/^\d\d:\d\d:\d\d\./.test(line)) out.push(line);
    else if (out.length > 0) out[out.length - 1] += `\n${line}`;
  }
  return out;
}

const hex = (n: number | undefined): string => `0x${(n ?? -1).toString(16).padStart(4, '0')}`;

/** The value tcpdump -vv says a bad checksum should have, for the outermost layer of this kind. */
function tcpdumpExpected(text: string, layer: 'ip' | 'tcp' | 'udp' | 'icmp' | 'icmp6'): number | undefined {
  const re = {
    ip: /bad cksum [0-9a-f]+ \(->([0-9a-f]+)\)!/,
    tcp: /cksum 0x[0-9a-f]+ \(incorrect -> 0x([0-9a-f]+)\)/,
    udp: /\[bad udp cksum 0x[0-9a-f]+ -> 0x([0-9a-f]+)!\]/,
    icmp: /wrong icmp cksum [0-9a-f]+ \(->([0-9a-f]+)\)!/,
    icmp6: /\[bad icmp6 cksum 0x[0-9a-f]+ -> 0x([0-9a-f]+)!\]/,
  }[layer];
  const m = re.exec(text);
  return m?.[1] === undefined ? undefined : parseInt(m[1], 16);
}

test('checksum verdicts and correct values match tshark and tcpdump -vv', async (t) => {
  const frames = CASES.map(([, spec]) => buildFrame(spec));
  const decoded: DecodedFrame[] = frames.map((f) => decodeFrame(f));
  await withTmp(async (dir) => {
    const file = path.join(dir, 'checksums.pcap');
    await writePcap(file, frames);
    const shark = await tshark(file);
    const dump = await tcpdump(file);
    t.is(shark.length, CASES.length);
    t.is(dump.length, CASES.length);
    CASES.forEach(([name, spec], i) => {
      const f = decoded[i]!;
      const s = shark[i]!;
      const d = dump[i]!;
      t.is(f.error, undefined, name);
      if (f.ip?.version === 4) {
        t.is(s['ip.checksum.status'], tsharkStatus(f.ip.checksum.verdict), `${name}: ip status`);
        t.is(s['ip.checksum_calculated'], hex(f.ip.checksum.expected), `${name}: ip calculated`);
        if (f.ip.checksum.verdict === 'bad') t.is(tcpdumpExpected(d, 'ip'), f.ip.checksum.expected, `${name}: tcpdump ip`);
        else t.false(d.includes('bad cksum'), `${name}: tcpdump says the IP checksum is bad`);
      }
      const l4 = f.l4;
      if (l4 === undefined) return t.fail(`${name}: no L4`);
      const c = l4.checksum;
      t.not(c.verdict, 'unverifiable', name);
      if (l4.proto === 'tcp' || l4.proto === 'udp') {
        t.is(s[`${l4.proto}.checksum.status`], tsharkStatus(c.verdict), `${name}: ${l4.proto} status`);
        if (c.verdict !== 'zero') t.is(s[`${l4.proto}.checksum_calculated`], hex(c.expected), `${name}: ${l4.proto} calculated`);
      } else {
        t.is(
          s[l4.proto === 'icmp' ? 'icmp.checksum.status' : 'icmpv6.checksum.status'],
          tsharkStatus(c.verdict),
          `${name}: ${l4.proto} status`,
        );
      }
      if (c.verdict === 'bad' || c.verdict === 'partial')
        t.is(tcpdumpExpected(d, l4.proto), c.expected, `${name}: tcpdump ${l4.proto}\n${d}`);
      else t.is(tcpdumpExpected(d, l4.proto), undefined, `${name}: tcpdump reports a bad ${l4.proto} checksum\n${d}`);
      // The verdicts the spec asked for.
      const want = (spec.tcp ?? spec.udp ?? spec.icmp)?.checksum;
      const wantVerdict = want === undefined ? 'ok' : want === 'partial' ? 'partial' : want === 'zero' ? 'zero' : 'bad';
      t.is(c.verdict, wantVerdict, name);
    });
  });
});

test('tshark decodes our SLL, SLL2 and raw-IP pcaps the way we do', async (t) => {
  const ip = buildIpPacket({ ip: V4, tcp: { sport: 4242, dport: 80 } });
  const sll = Buffer.alloc(16);
  sll.writeUInt16BE(4, 0);
  sll.writeUInt16BE(1, 2);
  sll.writeUInt16BE(6, 4);
  sll.writeUInt16BE(0x0800, 14);
  const sll2 = Buffer.alloc(20);
  sll2.writeUInt16BE(0x0800, 0);
  sll2.writeUInt32BE(9, 4);
  sll2.writeUInt16BE(1, 8);
  sll2[10] = 3;
  sll2[11] = 6;
  await withTmp(async (dir) => {
    const cases: Array<[Buffer, 'sll' | 'sll2' | 'raw-ip']> = [
      [Buffer.concat([sll, ip]), 'sll'],
      [Buffer.concat([sll2, ip]), 'sll2'],
      [ip, 'raw-ip'],
    ];
    for (const [bytes, linkType] of cases) {
      const file = path.join(dir, `${linkType}.pcap`);
      await writePcap(file, [bytes], linkType);
      const [s] = await tshark(file);
      const f = decodeFrame(bytes, linkType);
      t.is(s?.['tcp.srcport'], String(f.tcp?.sport), linkType);
      t.is(s?.['tcp.checksum.status'], '1', linkType);
      if (linkType !== 'raw-ip') t.is(s?.['sll.pkttype'], String(f.cooked?.packetType), linkType);
      if (linkType === 'sll2') t.is(s?.['sll.ifindex'], String(f.cooked?.ifindex), linkType);
    }
  });
});
