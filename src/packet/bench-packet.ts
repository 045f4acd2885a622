// Micro-benchmark of the packet toolkit: `npx tsx src/packet/bench-packet.ts [iterations]`.
// Prints µs per call for build, decode, describe and flowOf on typical lab packets.
import { buildFrame } from './build.ts';
import { decodeFrame } from './decode.ts';
import { describe } from './describe.ts';
import { flowOf } from './flow.ts';
import type { FrameSpec } from './spec.ts';

const N = Number(process.argv[2] ?? 100000);
const SPECS: Record<string, FrameSpec> = {
  'tcp4 SYN + 5 options': {
    ip: { src: '198.18.0.1', dst: '198.18.1.1' },
    tcp: {
      sport: 40000,
      dport: 80,
      flags: 'S',
      options: [
        { kind: 'mss', value: 1460 },
        { kind: 'sack-permitted' },
        { kind: 'timestamp', value: 1, echo: 0 },
        { kind: 'nop' },
        { kind: 'wscale', shift: 7 },
      ],
    },
  },
  'udp6 100 B payload': { ip: { src: 'fd00::1', dst: 'fd00::2' }, udp: { sport: 5000, dport: 53 }, payload: 100 },
  'tcp4 1400 B payload': { ip: { src: '198.18.0.1', dst: '198.18.1.1' }, tcp: { sport: 40000, dport: 80, flags: 'PA' }, payload: 1400 },
};

function time(fn: () => unknown): number {
  for (let i = 0; i < Math.min(N, 5000); i++) fn(); // warm up the JIT
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / N;
}

console.log(`${N} iterations each, µs per call`);
console.log(['packet'.padEnd(22), 'build', 'decode', 'describe', 'flowOf'].join('\t'));
for (const [name, spec] of Object.entries(SPECS)) {
  const bytes = buildFrame(spec);
  const frame = decodeFrame(bytes);
  const row = [time(() => buildFrame(spec)), time(() => decodeFrame(bytes)), time(() => describe(frame)), time(() => flowOf(frame))];
  console.log([name.padEnd(22), ...row.map((x) => x.toFixed(2))].join('\t'));
}
