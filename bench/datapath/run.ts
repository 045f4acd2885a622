// Datapath benchmark: ns per packet from BPF_PROG_TEST_RUN for an established flow (both
// directions), a new flow, and non-VIP traffic, at TC and XDP, each beside an empty program of
// the same type measured in the same run. Method (as Katran's tester): repeat 1 per call on a
// fresh copy of the packet, mean of the kernel's durations over n calls, median of `rounds`
// interleaved rounds. Runs inside a throwaway network namespace (xlb-dpb-<id>) with routes and
// permanent neighbours, so new flows do a real FIB lookup and a redirect; established flows use
// the per-flow next-hop cache (and, as a separate row, a FIB lookup per packet). Needs root.
//   node --import tsx bench/datapath/run.ts [--n 2000] [--rounds 5] [--out FILE.json] [--object-dir DIR]
// --object-dir: measure other builds of the objects (DIR/xlb_tc.bpf.o, DIR/xlb_xdp.bpf.o), e.g. variants
// compiled with a stage cut out, to see what each stage costs.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BpfObject, ifindex, inNetns, skBuff, xdpMd } from '../../src/bpf/index.ts';
import type { BpfProgram } from '../../src/bpf/index.ts';
import { buildFrame } from '../../src/packet/index.ts';
import { loadDatapath } from '../../src/datapath/loader.ts';
import { withVethNamespace } from '../../src/datapath/test-netns.ts';
import type { Hook, LoadedDatapath } from '../../src/datapath/loader.ts';
import { putService, writeEndpoints } from '../../src/datapath/maps.ts';
import { ROOT } from '../../src/root.ts';

const VIP = '198.18.100.1';
const BACKEND = '198.18.1.11';
const CLIENT = '198.18.0.10';
const LB_MAC = '02:00:00:00:00:aa';
const CLIENT_MAC = '02:00:00:00:00:c1';
const BACKEND_MAC = '02:00:00:00:b1:01';

export const CASES = ['empty', 'established', 'established_fib', 'reply', 'new_flow', 'non_vip'] as const;
export type Case = (typeof CASES)[number];

export interface HookResult {
  hook: Hook;
  /** Median over rounds of the mean kernel ns per packet. */
  ns: Record<Case, number>;
  /** ns / the empty program's ns. */
  ratio: Record<Case, number>;
  /** What each case returned (a benchmark of a failing path is worthless). */
  verdicts: Record<Case, number>;
  /** Program size as loaded (bpftool prog show): xlated instructions, jited bytes. */
  programs: { name: string; xlatedInsns: number; jitedBytes: number }[];
}

export interface DatapathBench {
  n: number;
  rounds: number;
  kernel: string;
  results: HookResult[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function progInfo(prog: BpfProgram): Promise<HookResult['programs'][number]> {
  const { id } = prog.info();
  const { stdout } = await execa('bpftool', ['prog', 'show', 'id', String(id), '--json']);
  const j = JSON.parse(stdout) as { bytes_xlated: number; bytes_jited: number };
  return { name: prog.name, xlatedInsns: j.bytes_xlated / 8, jitedBytes: j.bytes_jited };
}

const eth = { src: CLIENT_MAC, dst: LB_MAC };
let nextFlow = 0;

/** n SYNs of distinct, never used tuples (each one is a new flow). */
function freshSyns(n: number): Buffer[] {
  return Array.from({ length: n }, () => {
    const i = nextFlow++;
    return buildFrame({ eth, ip: { src: `198.18.${2 + ((i >> 16) & 63)}.${(i >> 8) & 255}`, dst: VIP }, tcp: { sport: 1024 + (i & 255), dport: 80, flags: 'S' } });
  });
}

async function benchHook(hook: Hook, ns: string, n: number, rounds: number, objectDir?: string): Promise<HookResult> {
  const pinDir = `/sys/fs/bpf/xlb/bench-${randomBytes(4).toString('hex')}`;
  let dp: LoadedDatapath | undefined;
  let empty: BpfObject | undefined;
  try {
    const objectPath = objectDir ? path.join(objectDir, `xlb_${hook}.bpf.o`) : undefined;
    dp = loadDatapath({ hook, pinDir, ctEntries: 4 * n * rounds + 1024, maxServices: 8, ...(objectPath ? { objectPath } : {}) });
    empty = BpfObject.open(path.join(ROOT, 'build', 'bpf', 'test', 'xlb_empty.bpf.o'));
    const emptyProg = empty.program(`xlb_empty_${hook}`);
    writeEndpoints(dp, 1, 0, [{ ip: BACKEND, port: 8080 }]);
    putService(dp, { id: 1, vip: VIP, port: 80, proto: 'tcp', mode: 'dnat', algo: 'hash', epCount: 1, gen: 0 });
    const loaded = dp;
    const est = buildFrame({ eth, ip: { src: CLIENT, dst: VIP }, tcp: { sport: 1000, dport: 80, seq: 1, ack: 6, flags: 'PA' }, payload: 64 });
    const reply = buildFrame({ eth: { src: BACKEND_MAC, dst: LB_MAC }, ip: { src: BACKEND, dst: CLIENT }, tcp: { sport: 8080, dport: 1000, seq: 6, ack: 65, flags: 'PA' }, payload: 64 });
    const nonVip = buildFrame({ eth, ip: { src: CLIENT, dst: '198.18.1.99' }, udp: { sport: 1, dport: 2 }, payload: 64 });
    const result = inNetns(ns, () => {
      const dev = ifindex('xlb0');
      const ctx = (): Buffer => (hook === 'xdp' ? xdpMd({ ingressIfindex: dev }) : skBuff({ ifindex: dev }));
      const run = (prog: BpfProgram, data: Buffer): { ns: number; retval: number } => {
        const r = prog.testRun({ data: Buffer.from(data), ctx: ctx(), repeat: 1 });
        return { ns: r.durationNs, retval: r.retval };
      };
      // the established flow: a handshake through the datapath
      run(loaded.main, buildFrame({ eth, ip: { src: CLIENT, dst: VIP }, tcp: { sport: 1000, dport: 80, seq: 0, flags: 'S' } }));
      run(loaded.main, buildFrame({ eth, ip: { src: BACKEND, dst: CLIENT }, tcp: { sport: 8080, dport: 1000, seq: 5, ack: 1, flags: 'SA' } }));
      run(loaded.main, buildFrame({ eth, ip: { src: CLIENT, dst: VIP }, tcp: { sport: 1000, dport: 80, seq: 1, ack: 6, flags: 'A' } }));
      const perRound = Object.fromEntries(CASES.map((c) => [c, [] as number[]])) as Record<Case, number[]>;
      const verdicts = {} as Record<Case, number>;
      for (let r = 0; r < rounds; r++) {
        for (const c of CASES) {
          const prog = c === 'empty' ? emptyProg : loaded.main;
          const src = c === 'new_flow' ? freshSyns(n) : c === 'reply' ? [reply] : c === 'non_vip' ? [nonVip] : [est];
          if (c === 'established_fib') loaded.writeConfig({ fib_cache_ms: 0 });
          let sum = 0;
          for (let i = 0; i < n; i++) {
            const out = run(prog, src[i % src.length] as Buffer);
            sum += out.ns;
            verdicts[c] = out.retval;
          }
          if (c === 'established_fib') loaded.writeConfig({ fib_cache_ms: 1000 });
          perRound[c].push(sum / n);
        }
      }
      return { perRound, verdicts };
    });
    const nsOf = Object.fromEntries(CASES.map((c) => [c, median(result.perRound[c])])) as Record<Case, number>;
    const ratio = Object.fromEntries(CASES.map((c) => [c, nsOf[c] / nsOf.empty])) as Record<Case, number>;
    const programs = [await progInfo(dp.main), await progInfo(dp.slow)];
    return { hook, ns: nsOf, ratio, verdicts: result.verdicts, programs };
  } finally {
    empty?.close();
    dp?.close();
    rmSync(pinDir, { recursive: true, force: true });
  }
}

export async function runDatapathBench(opts: { n?: number; rounds?: number; objectDir?: string } = {}): Promise<DatapathBench> {
  const n = opts.n ?? 2000;
  const rounds = opts.rounds ?? 5;
  return withVethNamespace('dpb', LB_MAC, async (ns, ip) => {
    await ip('addr', 'add', '198.18.1.1/24', 'dev', 'xlb0');
    await ip('addr', 'add', '198.18.0.1/24', 'dev', 'xlb1');
    await ip('neigh', 'replace', BACKEND, 'lladdr', BACKEND_MAC, 'dev', 'xlb0', 'nud', 'permanent');
    await ip('neigh', 'replace', CLIENT, 'lladdr', CLIENT_MAC, 'dev', 'xlb1', 'nud', 'permanent');
    await execa('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.all.forwarding=1']);
    const results: HookResult[] = [];
    for (const hook of ['tc', 'xdp'] as Hook[]) results.push(await benchHook(hook, ns, n, rounds, opts.objectDir));
    const { stdout: kernel } = await execa('uname', ['-r']);
    return { n, rounds, kernel, results };
  });
}

export function formatBench(b: DatapathBench): string {
  const lines = [`datapath bench: kernel ${b.kernel}, ${b.n} calls per case and round, median of ${b.rounds} rounds (ns/packet, ratio to the empty program)`];
  for (const r of b.results) {
    lines.push(`${r.hook}:`);
    for (const c of CASES) lines.push(`  ${c.padEnd(16)} ${r.ns[c].toFixed(1).padStart(8)} ns  ${r.ratio[c].toFixed(2).padStart(6)}x  (retval ${r.verdicts[c]})`);
    for (const p of r.programs) lines.push(`  program ${p.name}: ${p.xlatedInsns} xlated insns, ${p.jitedBytes} jited bytes`);
  }
  return lines.join('\n');
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values } = parseArgs({ options: { n: { type: 'string' }, rounds: { type: 'string' }, out: { type: 'string' }, 'object-dir': { type: 'string' } } });
  const b = await runDatapathBench({ n: values.n ? Number(values.n) : undefined, rounds: values.rounds ? Number(values.rounds) : undefined, objectDir: values['object-dir'] });
  process.stdout.write(formatBench(b) + '\n');
  if (values.out) writeFileSync(values.out, JSON.stringify(b, null, 2));
}
