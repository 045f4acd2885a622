import test from 'ava';
import { array, be16, be32, bytes, defineStruct, pad, u16, u32, u64, u8 } from './codec.ts';

test('layout follows C alignment and padding rules', (t) => {
  const s = defineStruct('demo', { a: u8, b: u32, c: u16, d: u64 });
  t.deepEqual(
    s.fields.map((f) => [f.name, f.offset, f.size]),
    [
      ['a', 0, 1],
      ['b', 4, 4],
      ['c', 8, 2],
      ['d', 16, 8],
    ],
  );
  t.is(s.size, 24);
  t.is(s.align, 8);
});

test('round trip with network-order fields, arrays, nested structs and padding', (t) => {
  const inner = defineStruct('inner', { port: be16, proto: u8, _pad: pad(1) }, { size: 4 });
  const outer = defineStruct('outer', { addr: bytes(16), inner, ids: array(u32, 3), vip: be32 });
  const value = { addr: Buffer.alloc(16, 7), inner: { port: 8080, proto: 6 }, ids: [1, 2, 3], vip: 0xc6120001 };
  const buf = outer.encode(value);
  t.is(buf.length, 36);
  t.is(buf.readUInt16BE(16), 8080);
  t.is(buf.readUInt32BE(32), 0xc6120001);
  t.deepEqual(outer.decode(buf), value);
});

test('declared size guard and range errors are precise', (t) => {
  t.throws(() => defineStruct('short', { a: u32 }, { size: 8 }), { message: /struct short: declared fields give 4 bytes, expected 8/ });
  const s = defineStruct('r', { a: u8 });
  t.throws(() => s.encode({ a: 256 }), { message: /__u8: 256 is not an integer in \[0, 255\]/ });
  t.throws(() => s.decode(new Uint8Array(0)), { message: /need 1 bytes, got 0/ });
});
