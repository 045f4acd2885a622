// Every codec of src/schema/maps.ts against the BTF of both compiled datapath objects.
import test from 'ava';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkStructLayouts, readBtfStructs } from './btf.ts';
import { SCHEMA_CODECS, config, ctEntry } from './maps.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OBJECTS = ['xlb_tc', 'xlb_xdp'].map((n) => path.join(ROOT, 'build', 'bpf', `${n}.bpf.o`));

for (const obj of OBJECTS) {
  test(`every schema struct matches the BTF of ${path.basename(obj)}`, (t) => {
    t.deepEqual(checkStructLayouts(obj, SCHEMA_CODECS), []);
  });
}

test('every xlb_ struct of the schema header has a codec', (t) => {
  const internal = new Set(['xlb_pkt', 'xlb_scratch', 'xlb_tmp', 'xlb_lc_best', 'xlb_verdict', 'xlb_nh']);
  const names = new Set(SCHEMA_CODECS.map((c) => c.name));
  const inC = readBtfStructs(OBJECTS[0]!)
    .filter((s) => s.kind === 'struct' && s.name.startsWith('xlb_') && !internal.has(s.name))
    .map((s) => s.name);
  t.deepEqual(inC.filter((n) => !names.has(n)), []);
});

test('codecs round-trip and reject a wrong field', (t) => {
  const c = config.decode(Buffer.alloc(config.size));
  t.is(c.timeouts_s.length, 16);
  t.is(config.encode(c).length, 136);
  t.is(ctEntry.size, 120);
  t.throws(() => config.encode({ ...c, unknown_tcp: 300 }), { message: /__u8/ });
});
