// The golden fixtures (fixtures/packets/golden.{pcap,txt}) still match what the builder and
// decoder produce; if a change is intended, regenerate with `npx tsx src/packet/write-fixtures.ts`
// and review the diff.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { buildFrame } from './build.ts';
import { decodeRecord, readPcap } from './pcap.ts';
import { describe } from './describe.ts';
import { SAMPLES } from './samples.ts';
import { FIXTURE_DIR, goldenLines } from './write-fixtures.ts';

const PCAP = path.join(FIXTURE_DIR, 'golden.pcap');
const REGEN = 'regenerate with `npx tsx src/packet/write-fixtures.ts` if the change is intended';

test('golden.pcap holds exactly the bytes the builder makes for every sample', async (t) => {
  const records = await readPcap(PCAP);
  const names = Object.keys(SAMPLES);
  t.is(records.length, names.length, `sample count changed; ${REGEN}`);
  names.forEach((name, i) => {
    t.deepEqual(records[i]?.data, buildFrame(SAMPLES[name]!), `${name}: bytes differ; ${REGEN}`);
  });
});

test('golden.txt holds the describe() line of every decoded sample', async (t) => {
  const text = await readFile(path.join(FIXTURE_DIR, 'golden.txt'), 'utf8');
  t.deepEqual(text.trimEnd().split('\n'), goldenLines(), REGEN);
  const records = await readPcap(PCAP);
  t.deepEqual(
    records.map((r) => describe(decodeRecord(r))),
    goldenLines().map((l) => l.split('\t')[1]),
  );
});

test('Wireshark finds no malformed sample', async (t) => {
  const r = await execa('tshark', ['-r', PCAP, '-n', '-Y', '_ws.malformed', '-T', 'fields', '-e', 'frame.number'], { reject: false });
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout.trim(), '', `malformed frames (1-based): ${r.stdout}`);
});
