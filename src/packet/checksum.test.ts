import test from 'ava';
import { fold, internetChecksum, onesEqual, partialChecksum, pseudoHeaderSum, sumWords, updateChecksum16 } from './checksum.ts';
import { parseIpv4, parseIpv6 } from './addr.ts';

test('RFC 1071 worked example', (t) => {
  const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  t.is(fold(sumWords(b, 0, b.length)), 0xddf2);
  t.is(internetChecksum(b, 0, b.length), 0x220d);
});

test('odd length pads the last byte with zero', (t) => {
  const b = Uint8Array.from([0x12, 0x34, 0x56]);
  t.is(sumWords(b, 0, 3), 0x1234 + 0x5600);
});

test('a buffer holding its own checksum sums to 0xffff', (t) => {
  const b = Uint8Array.from([0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0, 0, 198, 18, 0, 1, 198, 18, 1, 1]);
  const c = internetChecksum(b, 0, b.length);
  b[10] = c >> 8;
  b[11] = c & 0xff;
  t.is(fold(sumWords(b, 0, b.length)), 0xffff);
});

test('pseudo-header sums for IPv4 and IPv6 (32-bit length)', (t) => {
  const s4 = pseudoHeaderSum(parseIpv4('198.18.0.1'), parseIpv4('198.18.1.1'), 17, 13);
  t.is(s4, 0xc612 + 0x0001 + 0xc612 + 0x0101 + 17 + 13);
  t.is(partialChecksum(parseIpv4('198.18.0.1'), parseIpv4('198.18.1.1'), 17, 13), 0x8d45);
  const s6 = pseudoHeaderSum(parseIpv6('fd00::1'), parseIpv6('fd00::2'), 6, 0x12345);
  t.is(s6, 0xfd00 + 1 + 0xfd00 + 2 + 6 + 0x1 + 0x2345);
});

test('incremental update (RFC 1624) equals recomputation', (t) => {
  const b = new Uint8Array(40);
  for (let i = 0; i < b.length; i++) b[i] = (i * 37 + 11) & 0xff;
  b[10] = 0;
  b[11] = 0;
  const before = internetChecksum(b, 0, b.length);
  for (const now of [0x0000, 0xffff, 0x1234, 0xc612]) {
    const old = (b[20]! << 8) | b[21]!;
    const copy = Uint8Array.from(b);
    copy[20] = now >> 8;
    copy[21] = now & 0xff;
    t.true(onesEqual(updateChecksum16(before, old, now), internetChecksum(copy, 0, copy.length)), `word -> ${now.toString(16)}`);
  }
});
