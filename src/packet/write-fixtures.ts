// Regenerates the golden fixtures from src/packet/samples.ts:
//   npx tsx src/packet/write-fixtures.ts
// fixtures/packets/golden.pcap  one record per sample, in order (Ethernet)
// fixtures/packets/golden.txt   "name<TAB>describe(decoded)" per sample
// Run it only after an intended change to the builder, decoder or samples, and review the diff.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFrame } from './build.ts';
import { decodeFrame } from './decode.ts';
import { describe } from './describe.ts';
import { writePcap } from './pcap.ts';
import { SAMPLES } from './samples.ts';
import { ROOT } from '../root.ts';

export const FIXTURE_DIR = path.join(ROOT, 'fixtures', 'packets');

export function goldenLines(): string[] {
  return Object.entries(SAMPLES).map(([name, spec]) => `${name}\t${describe(decodeFrame(buildFrame(spec)))}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const frames = Object.values(SAMPLES).map((spec, i) => ({ data: buildFrame(spec), tsSec: 1700000000, tsNsec: i * 1000 }));
  await writePcap(path.join(FIXTURE_DIR, 'golden.pcap'), frames);
  await writeFile(path.join(FIXTURE_DIR, 'golden.txt'), goldenLines().join('\n') + '\n');
  console.log(`wrote ${frames.length} samples to ${FIXTURE_DIR}/golden.{pcap,txt}`);
}
