// Root test: maps pinned under a throwaway pin directory are read back through the struct
// codecs (no lab needed: the readers take any pin path).
import { existsSync } from 'node:fs';
import test from 'ava';
import { BpfMap, numPossibleCpus } from '../src/bpf/index.ts';
import { be16, be32, defineStruct, u32, u64, u8, pad } from '../src/schema/codec.ts';
import { withPinDir } from '../src/datapath/scratch-netns.ts';
import { readPinnedMap, readPinnedPerCpuMap } from './maps.ts';

const Key = defineStruct('lab_test_key', { addr: be32, port: be16, proto: u8, _pad: pad(1) }, { size: 8 });
const Val = defineStruct('lab_test_val', { backend: u32, packets: u64 }, { size: 16 });

test('readPinnedMap / readPinnedPerCpuMap decode what was written', async (t) => {
  let hashPath = '';
  await withPinDir('lab-maps-test', (dir) => {
    hashPath = `${dir}/svc`;
    const pcpuPath = `${dir}/stats`;
    const h = BpfMap.create({ type: 'hash', keySize: Key.size, valueSize: Val.size, maxEntries: 16, name: 'lab_svc' });
    const p = BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 2, name: 'lab_stats' });
    try {
      h.update(Key.encode({ addr: 0xc6126401, port: 80, proto: 6 }), Val.encode({ backend: 2, packets: 7n }));
      h.update(Key.encode({ addr: 0xc6126402, port: 53, proto: 17 }), Val.encode({ backend: 3, packets: 9n }));
      const cpus = numPossibleCpus();
      p.updatePerCpu(
        Buffer.from([1, 0, 0, 0]),
        Array.from({ length: cpus }, (_, i) => u64Bytes(BigInt(i + 1))),
      );
      h.pin(hashPath);
      p.pin(pcpuPath);
    } finally {
      h.close();
      p.close();
    }
    const entries = readPinnedMap(hashPath, Key, Val).sort((a, b) => a.key.port - b.key.port);
    t.deepEqual(entries, [
      { key: { addr: 0xc6126402, port: 53, proto: 17 }, value: { backend: 3, packets: 9n } },
      { key: { addr: 0xc6126401, port: 80, proto: 6 }, value: { backend: 2, packets: 7n } },
    ]);
    const stats = readPinnedPerCpuMap(pcpuPath, u32, u64);
    const one = stats.find((e) => e.key === 1);
    t.deepEqual(
      one?.values,
      Array.from({ length: numPossibleCpus() }, (_, i) => BigInt(i + 1)),
    );
    t.throws(() => readPinnedMap(pcpuPath, u32, u64), { message: /readPinnedPerCpuMap/ });
  });
  t.false(existsSync(hashPath), 'the pins went with the directory');
});

function u64Bytes(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}
