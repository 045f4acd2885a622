// Untrusted bytes: every truncation and the classic malformed fields give a precise reason and never throw.
import test, { type ExecutionContext } from 'ava';
import { buildFrame, buildIpPacket } from './build.ts';
import { decodeFrame } from './decode.ts';
import type { DecodedFrame, LinkType } from './decoded.ts';
import { describe } from './describe.ts';
import { flowOf } from './flow.ts';
import type { FrameSpec } from './spec.ts';

const V4 = { src: '198.18.0.1', dst: '198.18.1.1' };
const V6 = { src: 'fd00::1', dst: 'fd00::2' };

const SAMPLES: Record<string, FrameSpec> = {
  'tcp4 with options': {
    ip: { ...V4, options: [{ type: 148, data: new Uint8Array(2) }] },
    tcp: {
      sport: 1,
      dport: 2,
      options: [
        { kind: 'mss', value: 1460 },
        { kind: 'wscale', shift: 7 },
      ],
    },
    payload: 10,
  },
  'udp4 in QinQ': { vlan: [1, 2], ip: V4, udp: { sport: 1, dport: 2 }, payload: 5 },
  'icmp4 echo': { ip: V4, icmp: { type: 'echo-request', id: 1, seq: 1 }, payload: 4 },
  'icmp4 frag-needed': {
    ip: V4,
    icmp: { type: 'dest-unreachable', code: 'frag-needed', mtu: 1400, inner: { ip: V4, tcp: { sport: 1, dport: 2 } } },
  },
  'tcp6 with extensions': {
    ip: { ...V6, extensions: [{ type: 'hop-by-hop' }, { type: 'routing' }, { type: 'dest-opts' }] },
    tcp: { sport: 1, dport: 2 },
    payload: 3,
  },
  'udp6 in a VLAN': { vlan: 7, ip: V6, udp: { sport: 1, dport: 2 }, payload: 5 },
  'icmp6 packet-too-big': {
    ip: V6,
    icmp: { type: 'packet-too-big', mtu: 1280, inner: { ip: V6, udp: { sport: 1, dport: 2 }, payload: 50 } },
  },
};

function decodeSafely(t: ExecutionContext, bytes: Uint8Array, linkType: LinkType, allowTruncation: boolean): DecodedFrame | undefined {
  try {
    const f = decodeFrame(bytes, linkType, { allowTruncation });
    describe(f);
    flowOf(f);
    return f;
  } catch (e) {
    t.fail(`threw on ${Buffer.from(bytes).toString('hex')}: ${(e as Error).stack ?? String(e)}`);
    return undefined;
  }
}

test('every truncation of every sample gives an error at the right layer (strict mode)', (t) => {
  for (const [name, spec] of Object.entries(SAMPLES)) {
    const bytes = buildFrame(spec);
    const full = decodeFrame(bytes);
    t.is(full.error, undefined, name);
    const ipOff = full.ip?.offset ?? 0;
    const ipLayer = full.ip?.version === 4 ? 'ipv4' : 'ipv6';
    const ipFixed = full.ip?.version === 4 ? full.ip.headerLength : 40;
    for (let n = 0; n < bytes.length; n++) {
      const f = decodeSafely(t, bytes.subarray(0, n), 'ethernet', false);
      if (f === undefined) return;
      const e = f.error;
      if (e === undefined) return t.fail(`${name} cut at ${n}: no error`);
      t.true(e.offset <= n, `${name} cut at ${n}: error offset ${e.offset}`);
      const want = n < 14 ? 'ethernet' : n < ipOff ? 'vlan' : ipLayer;
      t.is(e.layer, want, `${name} cut at ${n}: ${e.reason}`);
      if (n >= ipOff + ipFixed) t.regex(e.reason, /runs past the end of the bytes/, `${name} cut at ${n}`);
      else t.regex(e.reason, /truncated/, `${name} cut at ${n}`);
    }
  }
});

test('every truncation decodes as far as possible with allowTruncation (snaplen mode)', (t) => {
  for (const [name, spec] of Object.entries(SAMPLES)) {
    const bytes = buildFrame(spec);
    const full = decodeFrame(bytes);
    const l4 = full.l4;
    if (l4 === undefined) return t.fail(`${name}: no L4`);
    const l4Min = 8; // a cut TCP header still yields ports and seq from 8 bytes on; UDP and ICMP headers are 8 bytes
    for (let n = 0; n < bytes.length; n++) {
      const f = decodeSafely(t, bytes.subarray(0, n), 'ethernet', true);
      if (f === undefined) return;
      if (n < l4.offset + l4Min) {
        t.truthy(f.error, `${name} cut at ${n}`);
        if (n >= l4.offset) t.is(f.error?.layer, l4.proto, `${name} cut at ${n}`);
      } else {
        t.is(f.error, undefined, `${name} cut at ${n}: ${f.error?.reason ?? ''}`);
        t.true(f.truncated, `${name} cut at ${n}`);
        t.is(f.l4?.checksum.verdict, 'unverifiable', `${name} cut at ${n}`);
        t.deepEqual(flowOf(f), flowOf(full), `${name} cut at ${n}`);
      }
    }
  }
});

function expectError(
  t: ExecutionContext,
  bytes: Uint8Array,
  want: { layer: string; offset: number; reason: string },
  linkType: LinkType = 'ethernet',
): void {
  t.like(decodeFrame(bytes, linkType).error, want, want.reason);
}

test('malformed IPv4 fields', (t) => {
  const base = buildFrame({ ip: V4, tcp: { sport: 1, dport: 2 } });
  const ihl = Buffer.from(base);
  ihl[14] = 0x43;
  expectError(t, ihl, { layer: 'ipv4', offset: 14, reason: 'IHL 3 < 5' });
  expectError(t, buildFrame({ ip: { ...V4, totalLength: 1000 }, tcp: { sport: 1, dport: 2 } }), {
    layer: 'ipv4',
    offset: 16,
    reason: 'total length 1000 runs past the end of the bytes (40 from offset 14)',
  });
  expectError(t, buildFrame({ ip: { ...V4, totalLength: 19 } }), {
    layer: 'ipv4',
    offset: 16,
    reason: 'total length 19 < header length 20',
  });
  expectError(t, buildFrame({ ip: { ...V4, totalLength: 0 } }), {
    layer: 'ipv4',
    offset: 16,
    reason: 'total length 0 (< header length 20; a GSO/BIG TCP capture?)',
  });
  expectError(t, buildFrame({ ip: { ...V4, ihl: 15 } }), {
    layer: 'ipv4',
    offset: 34,
    reason: 'truncated: IHL 15 says 60 header bytes, 20 present',
  });
  const ver = Buffer.from(base);
  ver[14] = 0x65;
  expectError(t, ver, { layer: 'ipv4', offset: 14, reason: 'version 6 where IPv4 (4) was expected' });
  expectError(t, buildFrame({ ip: { ...V4, options: Uint8Array.from([7, 1, 0, 0]) } }), {
    layer: 'ipv4',
    offset: 35,
    reason: 'option 7 (rr) length 1 < 2',
  });
  expectError(t, buildFrame({ ip: { ...V4, options: Uint8Array.from([1, 1, 148, 9]) } }), {
    layer: 'ipv4',
    offset: 37,
    reason: 'option 148 (router-alert) length 9 runs past the header end (2 bytes left)',
  });
  expectError(t, buildFrame({ ip: { ...V4, options: Uint8Array.from([1, 1, 1, 68]) } }), {
    layer: 'ipv4',
    offset: 37,
    reason: 'option 68 (timestamp) at the end of the header has no length byte',
  });
});

test('malformed TCP, UDP and ICMP fields', (t) => {
  expectError(t, buildFrame({ ip: V4, tcp: { sport: 1, dport: 2, dataOffset: 3 } }), {
    layer: 'tcp',
    offset: 46,
    reason: 'data offset 3 < 5',
  });
  expectError(t, buildFrame({ ip: V4, tcp: { sport: 1, dport: 2, dataOffset: 8 }, payload: 4 }), {
    layer: 'tcp',
    offset: 46,
    reason: 'data offset 8 (32 bytes) runs past the segment end (24 bytes)',
  });
  const zeroLen = decodeFrame(buildFrame({ ip: V4, tcp: { sport: 1, dport: 2, options: Uint8Array.from([2, 0, 0, 0]) } }));
  t.like(zeroLen.error, { layer: 'tcp', offset: 55, reason: 'option 2 length 0 < 2' });
  t.is(zeroLen.tcp?.sport, 1); // what was parsed is kept
  expectError(t, buildFrame({ ip: V4, tcp: { sport: 1, dport: 2, options: Uint8Array.from([1, 8, 12, 0]) } }), {
    layer: 'tcp',
    offset: 56,
    reason: 'option 8 length 12 runs past the header end (3 bytes left)',
  });
  expectError(t, buildFrame({ ip: V4, tcp: { sport: 1, dport: 2, options: Uint8Array.from([1, 1, 1, 3]) } }), {
    layer: 'tcp',
    offset: 57,
    reason: 'option 3 at the end of the header has no length byte',
  });
  expectError(t, buildFrame({ ip: V4, udp: { sport: 1, dport: 2, length: 100 } }), {
    layer: 'udp',
    offset: 38,
    reason: 'length 100 runs past the IP payload (8 bytes)',
  });
  expectError(t, buildFrame({ ip: { ...V4, protocol: 6 }, payload: 19 }), {
    layer: 'tcp',
    offset: 53,
    reason: 'truncated: 19 of 20 header bytes',
  });
  expectError(t, buildFrame({ ip: { ...V6, protocol: 58 }, payload: 7 }), {
    layer: 'icmp6',
    offset: 61,
    reason: 'truncated: 7 of 8 header bytes',
  });
  // A TCP option with a known kind but an odd length is kept as raw (as the kernel ignores it), not an error.
  const odd = decodeFrame(buildFrame({ ip: V4, tcp: { sport: 1, dport: 2, options: Uint8Array.from([2, 3, 5, 0]) } }));
  t.is(odd.error, undefined);
  t.deepEqual(odd.tcp?.options, [{ kind: 'raw', type: 2, data: Uint8Array.from([5]) }]);
});

test('malformed IPv6 extension chains and link layers', (t) => {
  expectError(t, buildFrame({ ip: { ...V6, payloadLength: 500 } }), {
    layer: 'ipv6',
    offset: 18,
    reason: 'payload length 500 runs past the end of the bytes (0 after the header at offset 14)',
  });
  const hbh = buildFrame({ ip: { ...V6, extensions: [{ type: 'hop-by-hop' }] }, udp: { sport: 1, dport: 2 } });
  hbh[55] = 9; // hdr ext len 9 -> 80 bytes
  expectError(t, hbh, { layer: 'ipv6-ext', offset: 55, reason: 'hop-by-hop header length 80 runs past the packet end (16 bytes left)' });
  expectError(t, buildFrame({ ip: { ...V6, extensions: [{ type: 'dest-opts' }, { type: 'hop-by-hop' }] } }), {
    layer: 'ipv6-ext',
    offset: 62,
    reason: 'hop-by-hop header not directly after the IPv6 header',
  });
  const many = buildFrame({ ip: { ...V6, extensions: new Array(17).fill({ type: 'dest-opts' }) } });
  expectError(t, many, { layer: 'ipv6-ext', offset: 54 + 16 * 8, reason: 'more than 16 extension headers' });
  expectError(t, buildFrame({ ip: { ...V6, protocol: 0 } }), {
    layer: 'ipv6-ext',
    offset: 54,
    reason: 'truncated: hop-by-hop header needs 2 bytes, 0 present',
  });
  expectError(t, buildFrame({ ip: { ...V6, protocol: 44 }, payload: 4 }), {
    layer: 'ipv6-ext',
    offset: 58,
    reason: 'truncated: fragment header needs 8 bytes, 4 present',
  });
  const vlans = buildFrame({ vlan: new Array(9).fill(1).map((id: number) => ({ id, tpid: 0x8100 })), ip: V4 });
  expectError(t, vlans, { layer: 'vlan', offset: 44, reason: 'more than 8 VLAN tags' });
  expectError(t, buildFrame({ vlan: 5, ip: V4 }).subarray(0, 16), { layer: 'vlan', offset: 16, reason: 'truncated: 2 of 4 header bytes' });
  expectError(t, Uint8Array.from([0x55, 0, 0]), { layer: 'ip', offset: 0, reason: 'version 5 is neither 4 nor 6' }, 'raw-ip');
  expectError(t, new Uint8Array(0), { layer: 'ip', offset: 0, reason: 'no bytes' }, 'raw-ip');
  expectError(t, new Uint8Array(10), { layer: 'sll', offset: 10, reason: 'truncated: 10 of 16 header bytes' }, 'sll');
  expectError(t, new Uint8Array(19), { layer: 'sll2', offset: 19, reason: 'truncated: 19 of 20 header bytes' }, 'sll2');
  expectError(
    t,
    buildIpPacket({ ip: V4 }).subarray(0, 12),
    { layer: 'ipv4', offset: 12, reason: 'truncated: 12 of 20 header bytes' },
    'raw-ip',
  );
});

test('random mutations and random bytes never throw (seeded, 30k inputs)', (t) => {
  let s = 0x9e3779b9;
  const rnd = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
  const bases = Object.values(SAMPLES).map((spec) => buildFrame(spec));
  const linkTypes: LinkType[] = ['ethernet', 'raw-ip', 'sll', 'sll2'];
  let errors = 0;
  for (let i = 0; i < 30000; i++) {
    let bytes: Uint8Array;
    if (i % 5 === 0) {
      bytes = new Uint8Array(Math.floor(rnd() * 120));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rnd() * 256);
      // Steer random bytes past the first checks now and then.
      if (bytes.length > 14 && rnd() < 0.5) {
        bytes[12] = 0x08;
        bytes[13] = 0;
        bytes[14] = 0x45;
      }
    } else {
      const base = bases[i % bases.length]!;
      bytes = Uint8Array.from(base.subarray(0, Math.max(1, Math.floor(rnd() * (base.length + 1)))));
      const flips = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < flips; k++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
    }
    const f = decodeSafely(t, bytes, i % 7 === 0 ? linkTypes[i % 4]! : 'ethernet', rnd() < 0.3);
    if (f === undefined) return;
    if (f.error !== undefined) {
      errors++;
      if (!(f.error.offset >= 0 && f.error.offset <= bytes.length && f.error.reason.length > 0))
        return t.fail(`bad error ${JSON.stringify(f.error)}`);
    }
  }
  t.true(errors > 1000, `only ${errors} of 30000 mutated inputs were rejected`);
});

test('ICMP errors nested in quotes are decoded two levels deep, and hostile nesting does not exhaust the stack', (t) => {
  const udp = buildIpPacket({ ip: V4, udp: { sport: 1, dport: 2 } });
  const wrap = (inner: Uint8Array): Uint8Array =>
    buildIpPacket({ ip: V4, icmp: { type: 'dest-unreachable', code: 'port', inner, quoteLength: 65000 } });
  const three = wrap(wrap(wrap(udp)));
  const f = decodeFrame(three, 'raw-ip');
  t.is(f.error, undefined);
  const l1 = f.icmp?.inner;
  const l2 = l1?.icmp?.inner;
  t.is(l1?.icmp?.typeName, 'dest-unreachable');
  t.is(l2?.icmp?.typeName, 'dest-unreachable');
  t.is(l2?.icmp?.inner, undefined);
  t.is(l2?.payload?.length, udp.length); // the undecoded quote is the payload
  let deep: Uint8Array = udp;
  while (deep.length < 65000 - 28) deep = wrap(deep);
  t.notThrows(() => describe(decodeFrame(deep, 'raw-ip')));
});
