// Child process for object.test.ts (run with --expose-gc): a map and a program kept without
// their BpfObject must stay usable across garbage collections (the object's finalizer would
// otherwise close their fds).
import { setImmediate as tick } from 'node:timers/promises';
import { BpfObject } from './index.ts';
import { testObject } from './test-support.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const map = BpfObject.open(testObject('binding_test')).map('flows');
const prog = BpfObject.open(testObject('binding_test')).program('xdp_count');
for (let i = 0; i < 5; i++) {
  gc();
  await tick();
}
const key = Buffer.alloc(8, 1);
map.update(key, Buffer.alloc(24, 2));
const ok = map.lookup(key)?.equals(Buffer.alloc(24, 2)) === true;
const retval = prog.testRun({ data: Buffer.alloc(64) }).retval;
console.log(JSON.stringify({ ok, retval }));
