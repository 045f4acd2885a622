// The BTF layout check against the binding's test object: a matching codec gives no message,
// deliberately wrong codecs give precise ones.
import test from 'ava';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError } from '../bpf/errors.ts';
import { checkStructLayouts, readBtfStructs, assertStructLayouts } from './btf.ts';
import { be16, be32, defineStruct, pad, u16, u32, u64, u8 } from './codec.ts';

const OBJ = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../build/bpf/test/binding_test.bpf.o');

const key = defineStruct('xlb_test_key', { addr: be32, port: be16, proto: u8, pad: pad(1) }, { size: 8 });
const val = defineStruct('xlb_test_val', { packets: u64, bytes: u64, backend: u32, flags: u16, state: u8 }, { size: 24 });

test('matching codecs: no mismatch', (t) => {
  t.deepEqual(checkStructLayouts(OBJ, [key, val]), []);
  t.notThrows(() => assertStructLayouts(OBJ, [key, val]));
});

test('BTF structs carry sizes, offsets and C spellings', (t) => {
  const s = readBtfStructs(OBJ).find((x) => x.name === 'xlb_test_val');
  t.is(s?.size, 24);
  t.deepEqual(
    s?.members.map((m) => [m.name, m.offset, m.size, m.type]),
    [
      ['packets', 0, 8, '__u64'],
      ['bytes', 8, 8, '__u64'],
      ['backend', 16, 4, '__u32'],
      ['flags', 20, 2, '__u16'],
      ['state', 22, 1, '__u8'],
    ],
  );
});

test('mismatching codecs: precise messages', (t) => {
  // backend declared as u64: offsets and size move; state missing; an extra field.
  const bad = defineStruct('xlb_test_val', { packets: u64, bytes: u64, backend: u64, flags: u16, extra: u8 });
  t.deepEqual(checkStructLayouts(OBJ, [bad]), [
    'struct xlb_test_val: size is 24 bytes in C, 32 in the codec',
    'struct xlb_test_val.backend: size is 4 bytes in C (__u32), 8 in the codec (__u64)',
    'struct xlb_test_val.flags: offset is 20 in C, 24 in the codec',
    'struct xlb_test_val.extra: not a member in C (C members: packets, bytes, backend, flags, state)',
    'struct xlb_test_val.state: in C (offset 22, 1 bytes, __u8) but not in the codec',
  ]);
  const swapped = defineStruct('xlb_test_key', { port: be16, addr: be32, proto: u8, pad: pad(1) });
  t.deepEqual(checkStructLayouts(OBJ, [swapped]), [
    'struct xlb_test_key: size is 8 bytes in C, 12 in the codec',
    'struct xlb_test_key.port: offset is 4 in C, 0 in the codec',
    'struct xlb_test_key.addr: offset is 0 in C, 4 in the codec',
    'struct xlb_test_key.proto: offset is 6 in C, 8 in the codec',
    'struct xlb_test_key.pad: offset is 7 in C, 9 in the codec',
  ]);
  const missing = checkStructLayouts(OBJ, [defineStruct('xlb_no_such', { a: u32 })]);
  t.is(missing.length, 1);
  t.regex(missing[0]!, /^struct xlb_no_such: not found in the BTF of .*binding_test\.bpf\.o \(its structs: .*xlb_test_key.*\)$/);
  t.throws(() => assertStructLayouts(OBJ, [bad]), { message: /update src\/schema/ });
});

test('an object without BTF or a missing file is a clear error', (t) => {
  const e = t.throws(() => readBtfStructs('/nonexistent.bpf.o'), { instanceOf: BpfError });
  t.is(e?.op, 'read BTF');
  t.is(e?.errno, 'ENOENT');
});
