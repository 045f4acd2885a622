// Every codec and every enum mirror of src/schema/maps.ts against the BTF of both compiled
// datapath objects.
import test from 'ava';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkEnumMirrors, readBtfEnums, checkStructLayouts, readBtfStructs } from './btf.ts';
import { SCHEMA_CODECS, SCHEMA_ENUMS, config, ctEntry } from './maps.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OBJECTS = ['xlb_tc', 'xlb_xdp'].map((n) => path.join(ROOT, 'build', 'bpf', `${n}.bpf.o`));

for (const obj of OBJECTS) {
  test(`every schema struct matches the BTF of ${path.basename(obj)}`, (t) => {
    t.deepEqual(checkStructLayouts(obj, SCHEMA_CODECS), []);
  });
}

for (const obj of OBJECTS) {
  test(`every schema enum (states, reasons, fwd results, modes, algorithms, protocols, flags) matches the BTF of ${path.basename(obj)}`, (t) => {
    // One message per name/value that differs, so the failure says what to fix.
    t.deepEqual(checkEnumMirrors(obj, SCHEMA_ENUMS), []);
  });
}

test('every xlb_ enum of the schema header has a TypeScript mirror', (t) => {
  const mirrored = new Set(SCHEMA_ENUMS.map((m) => m.cEnum));
  const inC = readBtfEnums(OBJECTS[0]!)
    .map((e) => e.name)
    .filter((n) => n.startsWith('xlb_'));
  t.true(inC.length >= SCHEMA_ENUMS.length);
  t.deepEqual(
    inC.filter((n) => !mirrored.has(n)),
    [],
  );
});

test('every xlb_ struct of the schema header has a codec', (t) => {
  const internal = new Set([
    'xlb_pkt',
    'xlb_scratch',
    'xlb_tmp',
    'xlb_lc_best',
    'xlb_verdict',
    'xlb_nh',
    'xlb_flood',
    'xlb_schema_enums',
    'xlb_frag_key',
    'xlb_frag_val',
  ]);
  const names = new Set(SCHEMA_CODECS.map((c) => c.name));
  const inC = readBtfStructs(OBJECTS[0]!)
    .filter((s) => s.kind === 'struct' && s.name.startsWith('xlb_') && !internal.has(s.name))
    .map((s) => s.name);
  t.deepEqual(
    inC.filter((n) => !names.has(n)),
    [],
  );
});

test('codecs round-trip and reject a wrong field', (t) => {
  const c = config.decode(Buffer.alloc(config.size));
  t.is(c.timeouts_s.length, 16);
  t.is(config.encode(c).length, 136);
  t.is(ctEntry.size, 120);
  t.throws(() => config.encode({ ...c, unknown_tcp: 300 }), { message: /__u8/ });
});
