import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { buildFrame } from './build.ts';
import { main } from './cli.ts';
import { pcapBytes } from './pcap.ts';

const V4 = { src: '198.18.0.1', dst: '198.18.1.1' };

async function run(argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(argv, (l) => lines.push(l));
  return { code, lines };
}

test('xlb pcap: one line per packet, a summary, --problems and --json', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'xlb-pcapcli-'));
  try {
    const file = path.join(dir, 'c.pcap');
    await writeFile(
      file,
      pcapBytes([
        { data: buildFrame({ ip: V4, tcp: { sport: 1, dport: 80, checksum: 'partial' } }), tsSec: 10, tsNsec: 250000000 },
        buildFrame({ ip: V4, udp: { sport: 2, dport: 53, checksum: 'bad' } }),
        buildFrame({ ip: V4, tcp: { sport: 1, dport: 80, dataOffset: 2 } }),
      ]),
    );
    const all = await run([file]);
    t.is(all.code, 0);
    t.is(all.lines.length, 4);
    t.is(all.lines[0], '    0 10.250000 IP 198.18.0.1.1 > 198.18.1.1.80: tcp [S] seq 0 win 65535 len 0 tcp-cksum partial');
    t.regex(all.lines[2] ?? '', /^ {4}2 0\.000002 .* !! tcp@46: data offset 2 < 5$/);
    t.is(all.lines[3], '3 packets (link type ethernet, us timestamps), 1 decode errors; checksums: ok 4, bad 1, partial 1');
    const problems = await run([file, '--problems']);
    t.deepEqual(
      problems.lines.slice(0, -1).map((l) => l.trim().split(' ')[0]),
      ['1', '2'],
    );
    const json = await run([file, '--json']);
    const first = JSON.parse(json.lines[0] ?? '{}') as { flow: string; checksums: Array<{ verdict: string }> };
    t.is(first.flow, 'tcp 198.18.0.1:1 > 198.18.1.1:80');
    t.deepEqual(
      first.checksums.map((c) => c.verdict),
      ['ok', 'partial'],
    );
    t.is(json.lines.length, 3);
    const missing = await run([path.join(dir, 'nope.pcap')]);
    t.is(missing.code, 1);
    t.is((await run([])).code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
