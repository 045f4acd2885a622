// The incremental checksum arithmetic against recomputation: random packets, random rewrites of
// addresses and ports, both hook forms. The result must verify as the recomputed one does
// (equal, or the other representation of zero where the spec's rule picks it), and UDP keeps 0.
import test from 'ava';
import { internetChecksum, onesEqual } from '../packet/index.ts';
import { applyL4, csumAdd, csumFold, writeBytesDiff, writePortDiff } from './checksum.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

test('csumAdd is end-around carry; csumFold folds twice and complements', (t) => {
  t.is(csumAdd(0xffffffff, 1), 1);
  t.is(csumAdd(0x80000000, 0x80000000), 1);
  t.is(csumFold(0x0001ffff), 0xfffe);
  t.is(csumFold(0), 0xffff);
  t.is(csumFold(0xffff), 0);
});

for (const hook of ['tc', 'xdp'] as const) {
  test(`${hook}: random rewrites keep the checksum right (5000 packets)`, (t) => {
    const r = rng(hook === 'tc' ? 7 : 11);
    for (let n = 0; n < 5000; n++) {
      const len = 8 + (r() % 64);
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) b[i] = r() & 0xff;
      b.writeUInt16BE(0, 6);
      b.writeUInt16BE(internetChecksum(b, 0, len), 6);
      // rewrite a 4-byte "address" at 0..3 (one difference) and a "port" at 4 (another), as the datapath does
      const addr = Buffer.from([r() & 0xff, r() & 0xff, r() & 0xff, r() & 0xff]);
      const a = writeBytesDiff(b, 0, addr, 4, 0);
      const p = writePortDiff(b, 4, r() & 0xffff, 0);
      applyL4(hook, b, 6, a, false);
      applyL4(hook, b, 6, p, false);
      const field = b.readUInt16BE(6);
      b.writeUInt16BE(0, 6);
      const want = internetChecksum(b, 0, len);
      if (!onesEqual(field, want)) {
        t.fail(`packet ${n}: incremental 0x${field.toString(16)} vs recomputed 0x${want.toString(16)}`);
        return;
      }
    }
    t.pass();
  });
}

test('UDP: a zero checksum stays zero, a computed zero is sent as 0xffff', (t) => {
  const b = Buffer.from([0x12, 0x34, 0, 0]);
  applyL4('xdp', b, 2, writePortDiff(b, 0, 0x4321, 0), true);
  t.is(b.readUInt16BE(2), 0);
  // a field that becomes 0 after the update: the UDP rule writes 0xffff
  const c = Buffer.from([0x00, 0x01, 0xff, 0xfe]); // sum of words: 0x0001 + 0xfffe = 0xffff -> verifies
  applyL4('tc', c, 2, writePortDiff(c, 0, 0x0000, 0), true);
  t.is(c.readUInt16BE(2), 0xffff);
});
