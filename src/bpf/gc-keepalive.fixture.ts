// Child process for object.test.ts (run with --expose-gc): a map and a program kept without
// their BpfObject must stay usable across garbage collections (the object's finalizer would
// otherwise close their fds), and an open RingBuffer nobody references keeps delivering.
import { setImmediate as tick } from 'node:timers/promises';
import { BpfObject, RingBuffer } from './index.ts';
import { testObject } from './test-support.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const map = BpfObject.open(testObject('binding_test')).map('flows');
const prog = BpfObject.open(testObject('binding_test')).program('xdp_count');
const rbObj = BpfObject.open(testObject('binding_test'));
let events = 0;
const weak = new WeakRef(new RingBuffer(rbObj.map('events'), () => events++));
for (let i = 0; i < 5; i++) {
  gc();
  await tick();
}
const key = Buffer.alloc(8, 1);
map.update(key, Buffer.alloc(24, 2));
const ok = map.lookup(key)?.equals(Buffer.alloc(24, 2)) === true;
const retval = prog.testRun({ data: Buffer.alloc(64) }).retval;
rbObj.program('rb_emit').testRun({ data: Buffer.alloc(64), repeat: 5 });
for (let i = 0; i < 50 && events < 5; i++) await tick();
console.log(JSON.stringify({ ok, retval, events }));
weak.deref()?.close();
// The consumer may be unreachable from JS (by design it stays open): exit explicitly.
process.exit(0);
