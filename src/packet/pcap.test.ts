import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { buildFrame } from './build.ts';
import { describe } from './describe.ts';
import { decodeRecord, pcapBytes, readPcap, readPcapBuffer, readPcapFile, writePcap } from './pcap.ts';
import { PcapWriter } from './pcap-writer.ts';

const V4 = { src: '198.18.0.1', dst: '198.18.1.1' };

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'xlb-pcap-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const frames = [1, 2, 3].map((i) => buildFrame({ ip: V4, udp: { sport: 1000 + i, dport: 5555 }, payload: i * 10 }));

test('write then read: timestamps, lengths, link type, microsecond and nanosecond files', async (t) => {
  await withTmp(async (dir) => {
    const us = path.join(dir, 'us.pcap');
    await writePcap(us, [
      { data: frames[0]!, tsSec: 1700000000, tsNsec: 123456789 },
      frames[1]!,
      { data: frames[2]!, originalLength: 9000 },
    ]);
    const f = await readPcapFile(us);
    t.is(f.linkTypeNumber, 1);
    t.is(f.linkType, 'ethernet');
    t.is(f.precision, 'us');
    t.is(f.trailingBytes, 0);
    t.deepEqual(
      f.records.map((r) => [r.index, r.tsSec, r.tsNsec, r.capturedLength, r.originalLength]),
      [
        [0, 1700000000, 123456000, frames[0]!.length, frames[0]!.length],
        [1, 0, 1000, frames[1]!.length, frames[1]!.length],
        [2, 0, 2000, frames[2]!.length, 9000],
      ],
    );
    t.deepEqual(f.records[1]!.data, frames[1]);
    const ns = path.join(dir, 'ns.pcap');
    await writePcap(ns, [{ data: frames[0]!, tsSec: 5, tsNsec: 123456789 }], 'ethernet', { precision: 'ns' });
    const g = await readPcapFile(ns);
    t.is(g.precision, 'ns');
    t.is(g.records[0]!.tsNsec, 123456789);
    t.is(g.records[0]!.tsSec, 5);
  });
});

test('snaplen cuts records; decodeRecord treats them as truncated, not broken', async (t) => {
  const big = buildFrame({ ip: V4, tcp: { sport: 1, dport: 2, flags: 'PA' }, payload: 500 });
  const f = await readPcapBuffer(pcapBytes([big], 'ethernet', { snaplen: 96 }));
  const r = f.records[0]!;
  t.is(f.snaplen, 96);
  t.is(r.capturedLength, 96);
  t.is(r.originalLength, big.length);
  const d = decodeRecord(r);
  t.is(d.error, undefined);
  t.true(d.truncated);
  t.is(d.tcp?.checksum.verdict, 'unverifiable');
  t.regex(describe(d), /\(truncated\)/);
});

test('tcpdump reads our files, and we read what tcpdump writes (micro and nano precision)', async (t) => {
  await withTmp(async (dir) => {
    const ours = path.join(dir, 'ours.pcap');
    await writePcap(
      ours,
      frames.map((data, i) => ({ data, tsSec: 1700000000 + i, tsNsec: 500000000 })),
    );
    const listed = await execa('tcpdump', ['-nn', '-tt', '-r', ours]);
    t.regex(listed.stdout, /1700000000\.500000 IP 198\.18\.0\.1\.1001 > 198\.18\.1\.1\.5555: UDP, length 10/);
    for (const precision of ['micro', 'nano']) {
      const theirs = path.join(dir, `theirs-${precision}.pcap`);
      await execa('tcpdump', ['--time-stamp-precision', precision, '-r', ours, '-w', theirs]);
      const f = await readPcapFile(theirs);
      t.is(f.precision, precision === 'nano' ? 'ns' : 'us');
      t.deepEqual(
        f.records.map((r) => r.data),
        frames,
      );
      t.deepEqual(
        f.records.map((r) => [r.tsSec, r.tsNsec]),
        frames.map((_, i) => [1700000000 + i, 500000000]),
      );
    }
  });
});

test('a pcapng file is named as such, with a conversion command that works', async (t) => {
  await withTmp(async (dir) => {
    const ours = path.join(dir, 'ours.pcap');
    const ng = path.join(dir, 'capture.pcapng');
    await writePcap(ours, frames);
    await execa('tshark', ['-r', ours, '-F', 'pcapng', '-w', ng]);
    t.is((await readFile(ng)).readUInt32BE(0), 0x0a0d0d0a);
    const err = await t.throwsAsync(readPcap(ng));
    t.regex(
      err?.message ?? '',
      /is pcapng \(magic 0x0a0d0d0a\), not pcap; convert it with 'tshark -F pcap -r .*capture\.pcapng -w out\.pcap' or 'editcap -F pcap/,
    );
    const converted = path.join(dir, 'out.pcap');
    await execa('tshark', ['-F', 'pcap', '-r', ng, '-w', converted]);
    t.deepEqual(
      (await readPcap(converted)).map((r) => r.data),
      frames,
    );
  });
});

test('big-endian files, a cut last record, and bad files', async (t) => {
  const le = pcapBytes(frames);
  // Byte-swap the headers into a big-endian file.
  const be = Buffer.from(le);
  be.writeUInt32BE(0xa1b2c3d4, 0);
  be.writeUInt16BE(2, 4);
  be.writeUInt16BE(4, 6);
  be.writeUInt32BE(le.readUInt32LE(16), 16);
  be.writeUInt32BE(1, 20);
  let off = 24;
  for (const f of frames) {
    for (let k = 0; k < 4; k++) be.writeUInt32BE(le.readUInt32LE(off + 4 * k), off + 4 * k);
    off += 16 + f.length;
  }
  t.deepEqual(
    (await readPcapBuffer(be)).records.map((r) => r.data),
    frames,
  );

  const cut = await readPcapBuffer(le.subarray(0, le.length - 5));
  t.is(cut.records.length, 2);
  t.is(cut.trailingBytes, 16 + frames[2]!.length - 5);

  await t.throwsAsync(readPcapBuffer(Buffer.alloc(0), 'empty.pcap'), { message: /empty.pcap: empty file, not a pcap .*tcpdump -U/ });
  await t.throwsAsync(readPcapBuffer(Buffer.alloc(10), 'short.pcap'), {
    message: 'short.pcap: 10 bytes is shorter than the 24-byte pcap header',
  });
  await t.throwsAsync(readPcapBuffer(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'x.txt'), {
    message: /x.txt: unknown magic 0x47455420; expected a pcap file/,
  });
  await t.throwsAsync(readPcap('/nonexistent/xlb.pcap'), { message: /cannot read pcap \/nonexistent\/xlb.pcap: ENOENT/ });
});

test('link types: raw IP, SLL2, and a link type xlb does not decode', async (t) => {
  const raw = frames[0]!.subarray(14);
  const r = (await readPcapBuffer(pcapBytes([raw], 'raw-ip'))).records[0]!;
  t.is(r.linkTypeNumber, 101);
  t.is(decodeRecord(r).udp?.sport, 1001);
  const sll2 = (
    await readPcapBuffer(pcapBytes([Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0]), raw])], 276))
  ).records[0]!;
  t.is(sll2.linkType, 'sll2');
  t.is(decodeRecord(sll2).cooked?.ifindex, 3);
  t.is(decodeRecord(sll2).udp?.dport, 5555);
  const odd = (await readPcapBuffer(pcapBytes([raw], 147))).records[0]!;
  t.is(odd.linkType, undefined);
  t.regex(decodeRecord(odd).error?.reason ?? '', /pcap link type 147 is not decoded/);
});

test('large files parse in one pass (10,000 records)', async (t) => {
  await withTmp(async (dir) => {
    const file = path.join(dir, 'big.pcap');
    const many = Array.from({ length: 10000 }, (_, i) => buildFrame({ ip: V4, udp: { sport: 1 + (i % 60000), dport: 53 }, payload: 64 }));
    await writeFile(file, pcapBytes(many));
    const recs = await readPcap(file);
    t.is(recs.length, 10000);
    t.is(decodeRecord(recs[9999]!).udp?.sport, 10000);
  });
});

test('PcapWriter appends records; the file is readable while open and after close', async (t) => {
  await withTmp(async (dir) => {
    const file = path.join(dir, 'stream.pcap');
    const w = new PcapWriter(file, 'ethernet', { bufferBytes: 0 });
    w.write(frames[0]!);
    t.deepEqual(
      (await readPcap(file)).map((r) => r.data),
      [frames[0]],
    );
    w.write({ data: frames[1]!, tsSec: 9, tsNsec: 7000 });
    w.close();
    w.close();
    const recs = await readPcap(file);
    t.deepEqual(
      recs.map((r) => [r.tsSec, r.tsNsec, r.data.length]),
      [
        [0, 0, frames[0]!.length],
        [9, 7000, frames[1]!.length],
      ],
    );
    t.is(w.count, 2);
    t.throws(() => w.write(frames[2]!), { message: /is closed; open a new PcapWriter/ });
    t.deepEqual(await readFile(file), pcapBytes([frames[0]!, { data: frames[1]!, tsSec: 9, tsNsec: 7000 }]));
    t.throws(() => new PcapWriter(path.join(dir, 'no/such/dir.pcap')), { message: /cannot create pcap .*no\/such\/dir.pcap: ENOENT/ });
  });
});
