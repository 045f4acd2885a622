// Open/load, pinning and reuse, map CRUD, per-CPU values, batches, BPF_PROG_TEST_RUN, tail
// calls and the error messages of the binding. Needs root.
import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfError, BpfMap, BpfObject, decodeSkBuff, skBuff, u32, xdpMd } from './index.ts';
import { kconfigText } from './object.ts';
import { numPossibleCpus } from './map.ts';
import { ROOT, testObject, testPinDir } from './test-support.ts';

const OBJ = testObject('binding_test');

function flowKey(addr: number, port: number, proto: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(addr, 0);
  b.writeUInt16BE(port, 4);
  b.writeUInt8(proto, 6);
  return b;
}

function flowVal(packets: bigint, bytes: bigint, backend: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(packets, 0);
  b.writeBigUInt64LE(bytes, 8);
  b.writeUInt32LE(backend, 16);
  return b;
}

test('open lists maps and programs with their kernel types', (t) => {
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const flows = obj.map('flows');
  t.is(flows.type, 'hash');
  t.is(flows.keySize, 8);
  t.is(flows.valueSize, 24);
  t.is(flows.maxEntries, 1024);
  t.false(flows.perCpu);
  t.true(flows.fd > 0);
  t.true(obj.map('counters').perCpu);
  t.is(obj.program('xdp_count').type, 'xdp');
  t.is(obj.program('tc_count').type, 'sched_cls');
  t.is(obj.program('tc_count').section, 'tc');
  t.deepEqual(
    obj
      .programs()
      .map((p) => p.name)
      .sort(),
    ['rb_emit', 'tail_entry', 'tail_target', 'tc_count', 'tc_mark', 'xdp_count', 'xdp_rewrite'],
  );
  t.true(obj.maps().some((m) => m.name === 'events' && m.type === 'ringbuf'));
  t.is(flows.pinPath, undefined, 'without pinDir nothing is pinned');
});

test('maxEntries and programTypes overrides apply before load', (t) => {
  const obj = BpfObject.open(OBJ, { maxEntries: { flows: 4096 }, programTypes: { xdp_count: 'xdp' } });
  t.teardown(() => obj.close());
  t.is(obj.map('flows').maxEntries, 4096);
  const e = t.throws(() => BpfObject.open(OBJ, { maxEntries: { nope: 1 } }), { instanceOf: BpfError });
  t.is(e?.errno, 'ENOENT');
  t.regex(e?.message ?? '', /map 'nope'.*flows/);
});

test('map CRUD: update with flags, lookup, delete, iterate', (t) => {
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const m = obj.map('flows');
  const k1 = flowKey(0xc6120001, 80, 6);
  const k2 = flowKey(0xc6120002, 443, 6);
  t.is(m.lookup(k1), undefined);
  m.update(k1, flowVal(1n, 60n, 7));
  t.deepEqual(m.lookup(k1), flowVal(1n, 60n, 7));
  m.update(k1, flowVal(2n, 120n, 7), 'exist');
  t.is(m.lookup(k1)?.readBigUInt64LE(0), 2n);
  const dup = t.throws(() => m.update(k1, flowVal(0n, 0n, 0), 'noexist'), { instanceOf: BpfError });
  t.is(dup?.errno, 'EEXIST');
  t.is(dup?.op, 'update');
  t.is(dup?.target, 'flows');
  const absent = t.throws(() => m.update(k2, flowVal(0n, 0n, 0), 'exist'), { instanceOf: BpfError });
  t.is(absent?.errno, 'ENOENT');
  m.update(k2, flowVal(5n, 500n, 9), 'noexist');
  const keys = [...m.keys()].map((k) => k.toString('hex')).sort();
  t.deepEqual(keys, [k1.toString('hex'), k2.toString('hex')].sort());
  const entries = new Map([...m.entries()].map(([k, v]) => [k.toString('hex'), v.readUInt32LE(16)]));
  t.is(entries.get(k2.toString('hex')), 9);
  const out = Buffer.alloc(24);
  t.true(m.lookupInto(k2, out));
  t.deepEqual(out, flowVal(5n, 500n, 9));
  t.false(m.lookupInto(flowKey(9, 9, 9), out));
  t.deepEqual(m.lookupDecoded(k2, { decode: (b) => ({ backend: Buffer.from(b).readUInt32LE(16) }) }), { backend: 9 });
  t.is(m.lookupDecoded(flowKey(9, 9, 9), { decode: () => 1 }), undefined);
  t.throws(() => m.lookupInto(k2, Buffer.alloc(8)), { instanceOf: BpfError, message: /must hold 24 bytes/ });
  t.true(m.delete(k1));
  t.false(m.delete(k1));
  t.is(m.lookup(k1), undefined);
});

test('per-CPU maps: one value per possible CPU, replicated or per CPU on update', (t) => {
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const c = obj.map('counters');
  const cpus = numPossibleCpus();
  t.true(cpus >= 1);
  const one = Buffer.alloc(8);
  one.writeBigUInt64LE(3n);
  c.update(u32(2), one);
  const vals = c.lookupPerCpu(u32(2));
  t.is(vals?.length, cpus);
  t.true(vals?.every((v) => v.readBigUInt64LE(0) === 3n));
  const per = Array.from({ length: cpus }, (_, i) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(10 + i));
    return b;
  });
  c.updatePerCpu(u32(3), per);
  t.deepEqual(
    c.lookupPerCpu(u32(3))?.map((v) => v.readBigUInt64LE(0)),
    per.map((v) => v.readBigUInt64LE(0)),
  );
  t.is(
    c.sumPerCpuU64(u32(3)),
    per.reduce((a, v) => a + v.readBigUInt64LE(0), 0n),
  );
});

test('batch lookup/update/delete agree with single operations', (t) => {
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const m = obj.map('flows');
  const entries: [Buffer, Buffer][] = Array.from({ length: 300 }, (_, i) => [
    flowKey(0xc6120000 + i, 1000 + i, 17),
    flowVal(BigInt(i), BigInt(i * 100), i),
  ]);
  m.updateBatch(entries);
  t.is([...m.keys()].length, 300);
  const got = new Map(m.lookupBatch().map(([k, v]) => [k.toString('hex'), v.toString('hex')]));
  t.is(got.size, 300);
  for (const [k, v] of entries) t.is(got.get(k.toString('hex')), v.toString('hex'));
  // Delete 100 present keys plus 5 absent ones: absent keys are skipped and not counted.
  const del = [...entries.slice(0, 100).map(([k]) => k), ...Array.from({ length: 5 }, (_, i) => flowKey(0x0a000000 + i, 1, 1))];
  t.is(m.deleteBatch(del), 100);
  t.is(m.lookupBatch().length, 200);
  t.is(m.lookup(entries[0]![0]), undefined);
  t.truthy(m.lookup(entries[150]![0]));
  // Arrays: batch lookup returns every slot.
  const slots = obj.map('slots');
  slots.updateBatch([
    [u32(1), u32(11)],
    [u32(63), u32(99)],
  ]);
  const all = slots.lookupBatch();
  t.is(all.length, 64);
  t.is(all.find(([k]) => k.readUInt32LE(0) === 63)?.[1].readUInt32LE(0), 99);
});

test('pin, reopen with the same pin directory: the same map and contents', (t) => {
  const pins = testPinDir();
  t.teardown(() => pins.remove());
  const a = BpfObject.open(OBJ, { pinDir: pins.dir });
  t.teardown(() => a.close());
  t.is(a.map('flows').pinPath, `${pins.dir}/flows`);
  t.true(existsSync(`${pins.dir}/flows`));
  t.true(existsSync(`${pins.dir}/counters`));
  t.false(existsSync(`${pins.dir}/slots`), 'maps without pinning are not pinned');
  const k = flowKey(0xc6120101, 8080, 6);
  a.map('flows').update(k, flowVal(42n, 4200n, 3));
  a.close();
  const b = BpfObject.open(OBJ, { pinDir: pins.dir });
  t.teardown(() => b.close());
  t.deepEqual(b.map('flows').lookup(k), flowVal(42n, 4200n, 3));
  // openPinned sees the same map; writes through one are visible through the other.
  const p = BpfMap.openPinned(`${pins.dir}/flows`);
  t.teardown(() => p.close());
  t.is(p.type, 'hash');
  t.is(p.keySize, 8);
  t.is(p.valueSize, 24);
  t.is(p.name, 'flows');
  p.update(flowKey(1, 2, 3), flowVal(1n, 1n, 1));
  t.truthy(b.map('flows').lookup(flowKey(1, 2, 3)));
  // Explicit pin/unpin of an unpinned map.
  const slots = b.map('slots');
  slots.pin(`${pins.dir}/extra/slots`);
  t.true(existsSync(`${pins.dir}/extra/slots`));
  const again = t.throws(() => slots.pin(`${pins.dir}/extra/slots`), { instanceOf: BpfError });
  t.is(again?.errno, 'EEXIST');
  slots.unpin(`${pins.dir}/extra/slots`);
  t.false(existsSync(`${pins.dir}/extra/slots`));
});

test('BPF_PROG_TEST_RUN: exact output bytes with an xdp_md context', (t) => {
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const dst = Buffer.from('020000000001', 'hex');
  const src = Buffer.from('020000000002', 'hex');
  const payload = Buffer.from('0000000048656c6c6f2c20786c6221', 'hex');
  const input = Buffer.concat([dst, src, Buffer.from('0800', 'hex'), payload]);
  const r = obj.program('xdp_rewrite').testRun({ data: input, ctx: xdpMd({ ingressIfindex: 1, rxQueueIndex: 0 }) });
  t.is(r.retval, 3, 'XDP_TX');
  const ifx = Buffer.alloc(4);
  ifx.writeUInt32LE(1);
  const expected = Buffer.concat([src, dst, Buffer.from('0800', 'hex'), ifx, payload.subarray(4)]);
  t.deepEqual(r.data, expected);
  t.is(r.ctx?.length, 24);
  t.true(r.durationNs >= 0);
  const rep = obj.program('xdp_count').testRun({ data: input, repeat: 50 });
  t.is(rep.retval, 2, 'XDP_PASS');
  t.deepEqual(rep.data, input);
  t.is(obj.map('counters').sumPerCpuU64(u32(0)), 50n);
});

test('BPF_PROG_TEST_RUN: __sk_buff context in and out', (t) => {
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const frame = Buffer.concat([Buffer.alloc(12, 0x02), Buffer.from('0800', 'hex'), Buffer.alloc(40)]);
  const r = obj.program('tc_mark').testRun({ data: frame, ctx: skBuff({ mark: 21, ifindex: 1 }) });
  t.is(r.retval, 22);
  t.truthy(r.ctx);
  const out = decodeSkBuff(r.ctx!);
  t.is(out.mark, 42);
  t.is(out.ifindex, 1);
  // cb words go in and come back out.
  const r2 = obj.program('tc_mark').testRun({ data: frame, ctx: skBuff({ mark: 1, cb: [7, 8, 9] }) });
  t.deepEqual(decodeSkBuff(r2.ctx!).cb, [7, 8, 9, 0, 0]);
  t.throws(() => skBuff({ protocol: 0x0800 }), { instanceOf: RangeError, message: /EtherType/ });
});

test('tail calls: prog_array filled with a program fd', (t) => {
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const data = Buffer.alloc(64);
  t.is(obj.program('tail_entry').testRun({ data }).retval, 1, 'XDP_DROP while the slot is empty');
  obj.map('jump').update(u32(0), u32(obj.program('tail_target').fd));
  t.is(obj.program('tail_entry').testRun({ data }).retval, 3, 'XDP_TX from the tail-called program');
  t.true(obj.map('jump').delete(u32(0)));
  t.is(obj.program('tail_entry').testRun({ data }).retval, 1);
  obj.setTailCalls('jump', { 0: 'tail_target' });
  t.is(obj.program('tail_entry').testRun({ data }).retval, 3);
  obj.setTailCalls('jump', { 0: null });
  t.is(obj.program('tail_entry').testRun({ data }).retval, 1);
  t.throws(() => obj.setTailCalls('flows', { 0: 'tail_target' }), { instanceOf: BpfError, message: /not a prog_array/ });
  t.throws(() => obj.setTailCalls('jump', { 9: 'tail_target' }), { instanceOf: BpfError, message: /outside 0\.\.3/ });
  t.throws(() => obj.setTailCalls('jump', { 1: 'nope' }), { instanceOf: BpfError, message: /no program 'nope'/ });
});

test('errors: bad path, bad map name, wrong key size, verifier rejection', (t) => {
  const missing = t.throws(() => BpfObject.open('/nonexistent/x.bpf.o'), { instanceOf: BpfError });
  t.is(missing?.errno, 'ENOENT');
  t.is(missing?.op, 'open');
  t.regex(missing?.message ?? '', /make -C bpf/);

  const notElf = t.throws(() => BpfObject.open('/etc/hostname'), { instanceOf: BpfError });
  t.is(notElf?.op, 'open');
  t.is(notElf?.target, '/etc/hostname');

  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const badMap = t.throws(() => obj.map('flow'), { instanceOf: BpfError });
  t.is(badMap?.errno, 'ENOENT');
  t.regex(badMap?.message ?? '', /no map 'flow'; its maps are: .*flows/);
  const badProg = t.throws(() => obj.program('nope'), { instanceOf: BpfError });
  t.regex(badProg?.message ?? '', /xdp_count/);

  const badKey = t.throws(() => obj.map('flows').lookup(Buffer.alloc(4)), { instanceOf: BpfError });
  t.is(badKey?.errno, 'EINVAL');
  t.is(badKey?.target, 'flows');
  t.regex(badKey?.message ?? '', /key is 4 bytes, map 'flows' has key_size 8/);
  const badVal = t.throws(() => obj.map('flows').update(Buffer.alloc(8), Buffer.alloc(3)), { instanceOf: BpfError });
  t.regex(badVal?.message ?? '', /value is 3 bytes, map 'flows' expects 24/);

  const rejected = t.throws(() => BpfObject.open(testObject('binding_reject')), { instanceOf: BpfError });
  t.is(rejected?.op, 'load');
  t.is(rejected?.errno, 'EACCES');
  t.regex(rejected?.target ?? '', /program xdp_unchecked/);
  t.regex(rejected?.verifierLog ?? '', /invalid access to packet/);
  t.regex(rejected?.message ?? '', /verifier log ends with/);

  // A log longer than one formatting buffer (libbpf prints it in one message): the verdict, at
  // its end, is still what the error carries.
  const late = t.throws(() => BpfObject.open(testObject('binding_reject_long')), { instanceOf: BpfError });
  t.is(late?.errno, 'EACCES');
  t.regex(late?.target ?? '', /program xdp_unchecked_late/);
  t.regex(late?.verifierLog ?? '', /invalid access to packet[\s\S]*processed \d+ insns/);

  obj.close();
  const closed = t.throws(() => obj.map('flows'), { instanceOf: BpfError });
  t.is(closed?.errno, 'EBADF');
});

test('a pinned map that no longer matches the object is a clear load error naming the map', (t) => {
  const pins = testPinDir();
  t.teardown(() => pins.remove());
  const a = BpfObject.open(OBJ, { pinDir: pins.dir });
  t.teardown(() => a.close());
  const e = t.throws(() => BpfObject.open(OBJ, { pinDir: pins.dir, maxEntries: { flows: 2048 } }), { instanceOf: BpfError });
  t.is(e?.op, 'load');
  t.is(e?.errno, 'EINVAL');
  t.regex(e?.target ?? '', /\(map flows\)$/);
  t.regex(e?.message ?? '', /couldn't reuse pinned map/);
  t.regex(e?.hint ?? '', /unpin it or use another pin directory/);
});

test('maps, programs and open ring buffers survive garbage collection', async (t) => {
  const fixture = fileURLToPath(new URL('./gc-keepalive.fixture.ts', import.meta.url));
  const r = await execa('node', ['--expose-gc', '--import', 'tsx', fixture], { timeout: 30_000, cwd: ROOT });
  t.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}'), { ok: true, retval: 2, events: 5 });
});

test("kconfig values become libbpf's CONFIG_NAME=y|n lines; another name is refused", (t) => {
  t.is(kconfigText({ CONFIG_XLB_KERN_CTX: true, CONFIG_B: false }), 'CONFIG_XLB_KERN_CTX=y\nCONFIG_B=n\n');
  t.throws(() => kconfigText({ XLB_KERN_CTX: true }), { message: /kconfig name 'XLB_KERN_CTX' is not CONFIG_/ });
});
