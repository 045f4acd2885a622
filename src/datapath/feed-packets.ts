// Test helper process: feeds TCP SYNs to a VIP through BPF_PROG_TEST_RUN of its own instance of
// the datapath program, over the maps pinned by the test (same pin dir), as fast as it can for
// --ms milliseconds, and prints one JSON line: how many packets went to which destination, and
// the verdicts. Used by kernel-datapath.test.ts to apply changes while packets flow (a separate
// process, so the changes and the packets really run at the same time).
//
//   tsx feed-packets.ts --pin-dir DIR --hook tc|xdp --vip IP --port N --ms N
import { parseArgs } from 'node:util';
import { buildFrame } from '../packet/index.ts';
import { openKernelDatapath } from './kernel-datapath.ts';

const { values } = parseArgs({
  options: {
    'pin-dir': { type: 'string' },
    hook: { type: 'string' },
    vip: { type: 'string' },
    port: { type: 'string' },
    ms: { type: 'string' },
  },
});
const hook = values.hook === 'xdp' ? 'xdp' : 'tc';
const h = openKernelDatapath({ hook, pinDir: values['pin-dir'] as string });
try {
  const byDst: Record<string, number> = {};
  const retvals: Record<string, number> = {};
  let sent = 0;
  // Every packet is a new flow (a new client tuple), so every one goes through selection.
  const frame = (n: number): Buffer =>
    buildFrame({
      ip: { src: `198.18.1.${(Math.floor(n / 60000) % 200) + 10}`, dst: values.vip as string },
      tcp: { sport: 1024 + (n % 60000), dport: Number(values.port), flags: 'S', seq: 1000 },
    });
  process.stdout.write('ready\n');
  const end = Date.now() + Number(values.ms);
  while (Date.now() < end) {
    for (let i = 0; i < 200; i++) {
      const r = h.program.testRun({ data: frame(sent + i) });
      const dst = r.data.length >= 34 ? `${r.data[30]}.${r.data[31]}.${r.data[32]}.${r.data[33]}` : 'short';
      byDst[dst] = (byDst[dst] ?? 0) + 1;
      retvals[r.retval] = (retvals[r.retval] ?? 0) + 1;
    }
    sent += 200;
  }
  process.stdout.write(`${JSON.stringify({ sent, byDst, retvals })}\n`);
} finally {
  h.close();
}
