import test from 'ava';
import { buildFrame } from './build.ts';
import { checksumProblems, checksumsOf, fixChecksums } from './checks.ts';
import { decodeFrame } from './decode.ts';

const V4 = { src: '198.18.0.1', dst: '198.18.1.1' };

test('checksumsOf lists IPv4 and L4 checksums with field offsets', (t) => {
  const bytes = buildFrame({ vlan: 5, ip: V4, tcp: { sport: 1, dport: 2, checksum: 'bad' } });
  const list = checksumsOf(decodeFrame(bytes));
  t.deepEqual(
    list.map((c) => [c.layer, c.verdict, c.fieldOffset]),
    [
      ['ipv4', 'ok', 28],
      ['tcp', 'bad', 18 + 20 + 16],
    ],
  );
  t.is(bytes.readUInt16BE(18 + 20 + 16), list[1]?.value ?? -1);
  t.deepEqual(checksumProblems(decodeFrame(bytes)), [
    `tcp bad 0x${list[1]!.value.toString(16).padStart(4, '0')} (want 0x${list[1]!.expected!.toString(16).padStart(4, '0')})`,
  ]);
  t.deepEqual(checksumProblems(decodeFrame(buildFrame({ ip: V4, udp: { sport: 1, dport: 2, checksum: 'zero' } }))), []);
});

test('fixChecksums repairs an edited packet in place, and can keep partial checksums', (t) => {
  const good = buildFrame({ ip: V4, udp: { sport: 1, dport: 2 }, payload: 9 });
  const edited = Buffer.from(good);
  edited[14 + 19] = 99; // destination 198.18.1.99: IP and UDP (pseudo-header) checksums now wrong
  t.deepEqual(
    checksumProblems(decodeFrame(edited)).map((p) => p.split(' ').slice(0, 2).join(' ')),
    ['ipv4 bad', 'udp bad'],
  );
  const fixed = fixChecksums(edited);
  t.deepEqual(checksumProblems(fixed), []);
  t.deepEqual(edited, buildFrame({ ip: { ...V4, dst: '198.18.1.99' }, udp: { sport: 1, dport: 2 }, payload: 9 }));

  const partial = buildFrame({ ip: { ...V4, checksum: 'bad' }, tcp: { sport: 1, dport: 2, checksum: 'partial' } });
  const kept = fixChecksums(partial, 'ethernet', { keepPartial: true });
  t.deepEqual(
    checksumsOf(kept).map((c) => c.verdict),
    ['ok', 'partial'],
  );
  t.deepEqual(
    checksumsOf(fixChecksums(partial)).map((c) => c.verdict),
    ['ok', 'ok'],
  );
});
