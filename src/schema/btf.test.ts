// The BTF layout check against the binding's test object: a matching codec gives no message,
// deliberately wrong codecs give precise ones; the same for enum mirrors against the datapath object.
import test from 'ava';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError } from '../bpf/errors.ts';
import {
  assertEnumMirrors,
  checkEnumMirrors,
  checkStructLayouts,
  readBtfEnums,
  readBtfStructs,
  assertStructLayouts,
  upperSnake,
} from './btf.ts';
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

// Enum mirrors, against the datapath object (the binding's test object has no enums).
const DP_OBJ = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../build/bpf/xlb_tc.bpf.o');

test('BTF enums carry names and values in declaration order', (t) => {
  const e = readBtfEnums(DP_OBJ).find((x) => x.name === 'xlb_mode');
  t.deepEqual(e?.values, [
    { name: 'XLB_MODE_DNAT', value: 0n },
    { name: 'XLB_MODE_FULLNAT', value: 1n },
    { name: 'XLB_MODE_DSR', value: 2n },
  ]);
  t.is(e?.size, 4);
  t.is(upperSnake('finClient'), 'FIN_CLIENT');
  t.is(upperSnake('drop_no_endpoint'), 'DROP_NO_ENDPOINT');
  t.is(upperSnake('SYN_SENT'), 'SYN_SENT');
});

test('mismatching enum mirrors: the name and both values, loudly', (t) => {
  t.deepEqual(
    checkEnumMirrors(DP_OBJ, [{ cEnum: 'xlb_mode', prefix: 'XLB_MODE_', tsName: 'MODE', values: { dnat: 0, fullnat: 1, dsr: 2 } }]),
    [],
  );
  // a wrong value, a missing name, a name C does not have
  t.deepEqual(
    checkEnumMirrors(DP_OBJ, [{ cEnum: 'xlb_mode', prefix: 'XLB_MODE_', tsName: 'MODE', values: { dnat: 0, fullnat: 2, tunnel: 3 } }]),
    [
      "enum xlb_mode: XLB_MODE_FULLNAT = 1 in C, but MODE 'fullnat' = 2",
      "enum xlb_mode: XLB_MODE_DSR = 2 in C has no name in MODE (src/schema/maps.ts; expected 'dsr' or 'DSR' as spelled there)",
      "MODE 'tunnel' = 3 (src/schema/maps.ts): enum xlb_mode has no XLB_MODE_TUNNEL (C enumerators: XLB_MODE_DNAT, XLB_MODE_FULLNAT, XLB_MODE_DSR)",
    ],
  );
  // a list one short: the count enumerator says so as well as the missing name
  const states = [
    'NONE',
    'SYN_SENT',
    'SYN_RECV',
    'ESTABLISHED',
    'FIN_WAIT',
    'CLOSE_WAIT',
    'TIME_WAIT',
    'CLOSED',
    'UDP_NEW',
    'UDP_SEEN',
    'UDP_ESTABLISHED',
    'ICMP_REQUEST',
  ];
  t.deepEqual(
    checkEnumMirrors(DP_OBJ, [
      {
        cEnum: 'xlb_ct_state',
        prefix: 'XLB_CT_',
        tsName: 'CT_STATE',
        values: Object.fromEntries(states.map((n, i) => [n, i])),
        count: 'XLB_CT_STATE_MAX',
      },
    ]),
    [
      "enum xlb_ct_state: XLB_CT_ICMP_REPLY = 12 in C has no name in CT_STATE (src/schema/maps.ts; expected 'icmp_reply' or 'ICMP_REPLY' as spelled there)",
      'enum xlb_ct_state: XLB_CT_STATE_MAX = 13 in C, but CT_STATE has 12 names (src/schema/maps.ts)',
    ],
  );
  const missing = checkEnumMirrors(DP_OBJ, [{ cEnum: 'xlb_no_such', prefix: 'X_', tsName: 'X', values: {} }]);
  t.is(missing.length, 1);
  t.regex(missing[0]!, /^enum xlb_no_such \(mirrored by X\): not in the BTF of .*xlb_tc\.bpf\.o \(its enums: .*xlb_reason.*\); rebuild/);
  t.throws(() => assertEnumMirrors(DP_OBJ, [{ cEnum: 'xlb_mode', prefix: 'XLB_MODE_', tsName: 'MODE', values: { dnat: 1 } }]), {
    message: /XLB_MODE_DNAT = 0 in C, but MODE 'dnat' = 1/,
  });
});
