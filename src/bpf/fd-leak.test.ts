// File descriptors never leak: 10,000 open/close cycles of each kind of handle, counting
// /proc/self/fd before and after. Needs root.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { readdirSync } from 'node:fs';
import { BpfError, BpfMap, BpfObject, RingBuffer } from './index.ts';
import { testObject, testPinDir } from './test-support.ts';

const OBJ = testObject('binding_test');
const CYCLES = 10_000;

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * No fd left behind: a leak of one per cycle would leave thousands. The count may end lower than
 * it began: Node closes fds of its own meanwhile (seen once in a fresh clone: 29 → 28), which is
 * not this test's business.
 */
function noneLeft(t: ExecutionContext, before: number): void {
  const after = openFds();
  t.true(after <= before, `${after - before} fd(s) more than before the cycles (${before} → ${after})`);
}

test.serial(`${CYCLES} object open/load/close cycles leave no fd behind`, (t) => {
  BpfObject.open(OBJ).close(); // warm-up: lazy one-time fds (addon, libbpf feature probes)
  const before = openFds();
  for (let i = 0; i < CYCLES; i++) {
    const obj = BpfObject.open(OBJ);
    obj.close();
    obj.close(); // idempotent
  }
  noneLeft(t, before);
});

test.serial(`${CYCLES} pinned-map, created-map and ring buffer cycles leave no fd behind`, (t) => {
  const pins = testPinDir();
  t.teardown(() => pins.remove());
  const obj = BpfObject.open(OBJ, { pinDir: pins.dir });
  t.teardown(() => obj.close());
  const before = openFds();
  for (let i = 0; i < CYCLES; i++) {
    const m = BpfMap.openPinned(`${pins.dir}/flows`);
    m.close();
    m.close();
    const c = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
    c.close();
    const rb = new RingBuffer(obj.map('events'), () => {});
    rb.close();
  }
  noneLeft(t, before);
});

test.serial('failed opens (verifier rejection, bad pin path) leave no fd behind', (t) => {
  const reject = testObject('binding_reject');
  const before = openFds();
  for (let i = 0; i < 500; i++) {
    t.throws(() => BpfObject.open(reject), { instanceOf: BpfError });
    t.throws(() => BpfMap.openPinned('/sys/fs/bpf/xlb/does-not-exist'), { instanceOf: BpfError });
  }
  noneLeft(t, before);
});
