// Ring buffer consumer on Node's event loop: 10,000 records, in order, none dropped. Needs root.
import test from 'ava';
import { execa } from 'execa';
import { setImmediate as tick } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BpfError, BpfObject, RingBuffer, u32 } from './index.ts';
import { ROOT, testObject } from './test-support.ts';

const OBJ = testObject('binding_test');
const TOTAL = 10_000;

function bss(obj: BpfObject): { seq: bigint; drops: bigint } {
  const m = obj.maps().find((x) => x.name.endsWith('.bss'));
  const v = m?.lookup(u32(0));
  if (v === undefined) throw new Error('the .bss map of the test object is missing');
  return { seq: v.readBigUInt64LE(0), drops: v.readBigUInt64LE(8) };
}

test('10,000 events arrive in order through the event loop', async (t) => {
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const seqs: bigint[] = [];
  const lens = new Set<number>();
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  const rb = new RingBuffer(obj.map('events'), (data) => {
    seqs.push(data.readBigUInt64LE(0));
    lens.add(data.readUInt32LE(12));
    if (seqs.length === TOTAL) resolveDone();
  });
  t.teardown(() => rb.close());
  const prog = obj.program('rb_emit');
  const packet = Buffer.alloc(60);
  // 10 bursts of 1,000 program runs; between bursts only the event loop drains the ring.
  for (let i = 0; i < 10; i++) {
    prog.testRun({ data: packet, repeat: 1000 });
    await tick();
  }
  const timeout = setTimeout(() => resolveDone(), 10_000);
  await done;
  clearTimeout(timeout);
  t.is(seqs.length, TOTAL);
  t.true(
    seqs.every((s, i) => s === BigInt(i)),
    'records in order, none missing',
  );
  t.deepEqual([...lens], [60]);
  t.deepEqual(bss(obj), { seq: BigInt(TOTAL), drops: 0n });
});

test('close() inside the callback stops delivery; consume() drains synchronously', (t) => {
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  let got = 0;
  const rb: RingBuffer = new RingBuffer(obj.map('events'), () => {
    got++;
    if (got === 5) rb.close();
  });
  t.teardown(() => rb.close());
  obj.program('rb_emit').testRun({ data: Buffer.alloc(60), repeat: 20 });
  t.is(rb.consume(), 5, 'the drain stops at the record whose callback closed the consumer');
  t.is(got, 5);
  t.true(rb.closed);
  t.throws(() => rb.consume(), { instanceOf: BpfError, message: /closed/ });
  const rb2 = new RingBuffer(obj.map('events'), () => got++);
  t.teardown(() => rb2.close());
  t.is(rb2.consume(), 15, 'the other 15 records are still in the ring');
  t.is(got, 20);
});

test('a ring buffer consumer on a non-ringbuf map is a clear error', (t) => {
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const e = t.throws(() => new RingBuffer(obj.map('flows'), () => {}), { instanceOf: BpfError });
  t.regex(e?.message ?? '', /not a ringbuf/);
});

test('a callback that throws reaches uncaughtException; later records still arrive', async (t) => {
  const fixture = fileURLToPath(new URL('./ringbuf-throw.fixture.ts', import.meta.url));
  const r = await execa('node', ['--import', 'tsx', fixture], { timeout: 30_000, cwd: ROOT });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { errors: string[]; seqs: number[] };
  t.deepEqual(out.errors, ['callback failed on record 2']);
  t.deepEqual(out.seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});
