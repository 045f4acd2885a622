// Child process for ringbuf.test.ts: a record callback that throws. The error must reach
// process 'uncaughtException' (not crash the addon) and the remaining records must still arrive.
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfObject, RingBuffer } from './index.ts';
import { testObject } from './test-support.ts';

const errors: string[] = [];
process.on('uncaughtException', (e) => errors.push(e.message));
const obj = BpfObject.open(testObject('binding_test'));
const seqs: number[] = [];
const rb = new RingBuffer(obj.map('events'), (data) => {
  const seq = Number(data.readBigUInt64LE(0));
  seqs.push(seq);
  if (seq === 2) throw new Error('callback failed on record 2');
});
obj.program('rb_emit').testRun({ data: Buffer.alloc(60), repeat: 10 });
for (let i = 0; i < 50 && seqs.length < 10; i++) await sleep(10);
rb.close();
obj.close();
console.log(JSON.stringify({ errors, seqs }));
