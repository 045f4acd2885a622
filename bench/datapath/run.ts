// Datapath benchmark: ns per packet from BPF_PROG_TEST_RUN for established flows (both
// directions, DNAT and full NAT), new flows with the conntrack table empty, half full and full
// (evicting), a full-NAT new flow, and non-VIP traffic, at TC and XDP, each beside an empty
// program of the same type measured in the same run, and beside the floor under a new flow
// (bpf/test/xlb_floor.bpf.c: the tuple at fixed offsets, then only the conntrack map's own
// operations on xlb's key and entry sizes: one lookup that hits, as under the established rows;
// one miss; a miss and one insert; two misses and two inserts), so each row can be read against
// what the kernel map alone costs.
// Method (as Katran's tester, /work/shared/katran-bench/METHOD.md): repeat 1 per call on a fresh
// copy of the packet, mean of the kernel's durations over n calls, median of `rounds`
// interleaved rounds (round r of every case, then round r+1). Runs inside a throwaway network
// namespace (xlb-dpb-<id>) with routes and permanent neighbours, so new flows do a real FIB
// lookup (or take the endpoint's cached next hop) and a redirect; established flows use the
// per-flow next-hop cache (and, as a separate row, a FIB lookup per packet). Needs root.
//   node --import tsx bench/datapath/run.ts [--n 20000] [--rounds 5] [--ct-entries 262144]
//        [--quick] [--hook tc,xdp] [--cases a,b] [--out FILE.json] [--object-dir DIR [--no-check]]
//        [--object-dir-b DIR]
// --object-dir: measure other builds of the objects (DIR/xlb_tc.bpf.o, DIR/xlb_xdp.bpf.o), e.g. variants
// compiled with a stage cut out (bench/datapath/stages.sh), or an older commit's build.
// --object-dir-b: paired A/B. A is --object-dir (default: this checkout's build), B this
// directory's objects; both are loaded side by side (each its own maps and pins) and every
// round measures each case for A and B back to back (A first in even rounds, B first in odd
// ones), so both see the same machine noise. Reported: each side's ratio to the empty program
// and B/A, the median of the per-round B/A ratios (min–max). Run A = B to see the noise floor.
// --no-check: do not require each case's reason counter to move n times (a variant with a stage
// cut out does not count, or stops before it counts).
//
// Table fill: every new-flow case starts from a table holding only the bench's established
// flows, then synthetic entries are written from user space (outside the timed region) up to
// 0 %, 50 % or 100 % of ctEntries; the n new flows of the round then add 2n entries (at 100 %
// every insert evicts). The table is emptied and the established flows are set up again before
// each round and each new-flow case.
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
import { withVethNamespace } from '../../src/datapath/scratch-netns.ts';
import type { Hook, LoadedDatapath } from '../../src/datapath/loader.ts';
import { addr16, lookupFlow, putService, readReasons, writeEndpoints, writeSched } from '../../src/datapath/maps.ts';
import { maglevTable } from '../../src/controller/lookup-tables.ts';
import { CT_STATE, ctEntry, ctKey, REASON } from '../../src/schema/maps.ts';
import type { ReasonName } from '../../src/schema/maps.ts';
import { ROOT } from '../../src/root.ts';

const VIP = '198.18.100.1';
const VIP_FULLNAT = '198.18.100.2';
const SNAT = '198.18.1.1';
const BACKENDS = ['198.18.1.11', '198.18.1.12', '198.18.1.13', '198.18.1.14'];
const CLIENT = '198.18.0.10';
const LB_MAC = '02:00:00:00:00:aa';
const CLIENT_MAC = '02:00:00:00:00:c1';
const backendMac = (i: number): string => `02:00:00:00:b1:0${i + 1}`;

export const CASES = [
  'empty',
  'established',
  'established_fib',
  'reply',
  'fullnat_established',
  'fullnat_reply',
  'non_vip',
  'new_flow',
  'new_flow_50',
  'new_flow_100',
  'fullnat_new',
  'floor_hit',
  'floor_miss',
  'floor_insert',
  'floor_insert2',
] as const;
export type Case = (typeof CASES)[number];
/** Cases timed once per round on a program of their own (not per object set): the baselines. */
const BASELINES = ['empty', 'floor_hit', 'floor_miss', 'floor_insert', 'floor_insert2'] as const;
type Baseline = (typeof BASELINES)[number];
const isBaseline = (c: Case): c is Baseline => (BASELINES as readonly Case[]).includes(c);
/** The entries a floor row leaves in its map after n calls (hit: the one put in before it). */
const FLOOR_ENTRIES: Record<Exclude<Baseline, 'empty'>, (n: number) => number> = {
  floor_hit: () => 1,
  floor_miss: () => 0,
  floor_insert: (n) => n,
  floor_insert2: (n) => 2 * n,
};

/**
 * How full the conntrack table is when a new-flow case starts (fraction of ctEntries); every case
 * listed here runs on fresh SYNs. The floor rows use their own map, emptied before each of them.
 */
const FILL: Partial<Record<Case, number>> = {
  new_flow: 0,
  new_flow_50: 0.5,
  new_flow_100: 1,
  fullnat_new: 0,
  floor_miss: 0,
  floor_insert: 0,
  floor_insert2: 0,
};
/** The reason every packet of a case must be counted with (a benchmark of a failing path is worthless). */
const EXPECT: Record<Exclude<Case, Baseline>, ReasonName> = {
  established: 'fast_path',
  established_fib: 'fast_path',
  reply: 'fast_path',
  fullnat_established: 'fast_path',
  fullnat_reply: 'fast_path',
  non_vip: 'pass_no_service',
  new_flow: 'new_flow',
  new_flow_50: 'new_flow',
  new_flow_100: 'new_flow',
  fullnat_new: 'new_flow',
};

/** One object set's figures in one hook's run. */
export interface SideResult {
  /** Median over rounds of the mean kernel ns per packet. */
  ns: Record<Case, number>;
  /** Smallest and largest round of each case. */
  range: Record<Case, [number, number]>;
  /** ns / the empty program's ns. */
  ratio: Record<Case, number>;
  /** What each case returned (the last call's retval). */
  verdicts: Record<Case, number>;
  /** Program size as loaded (bpftool prog show): xlated instructions, jited bytes. */
  programs: { name: string; xlatedInsns: number; jitedBytes: number }[];
}

export interface HookResult extends SideResult {
  hook: Hook;
  /** Paired A/B (--object-dir-b): B's figures, measured in the same rounds as A's. */
  b?: SideResult & {
    /** Median over rounds of B's ns / A's ns in the same round (paired), and its min–max. */
    bOverA: Record<Case, number>;
    bOverARange: Record<Case, [number, number]>;
  };
}

export interface DatapathBench {
  n: number;
  rounds: number;
  ctEntries: number;
  kernel: string;
  objectDir: string | null;
  /** Paired A/B: B's object directory (null: A only). */
  objectDirB?: string | null;
  /** `uptime` before and after (the machine is shared: the load average says how quiet it was). */
  uptime: [string, string];
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

/** n SYNs of distinct tuples never used before in this process (each one is a new flow). */
function freshSyns(n: number, vip: string): Buffer[] {
  return Array.from({ length: n }, () => {
    const i = nextFlow++;
    return buildFrame({
      eth,
      ip: { src: `198.18.${2 + ((i >> 16) & 63)}.${(i >> 8) & 255}`, dst: vip },
      tcp: { sport: 1024 + (i & 255), dport: 80, flags: 'S' },
    });
  });
}

/**
 * count synthetic conntrack entries (tuples no bench packet uses: 198.19.0.0/16 → 198.18.100.9),
 * packed for one updateBatchRaw. Live ESTABLISHED forward entries: what a busy table holds.
 */
function syntheticEntries(count: number): { keys: Buffer; values: Buffer } {
  const keys = Buffer.alloc(ctKey.size * count);
  const values = Buffer.alloc(ctEntry.size * count);
  const dst = addr16('198.18.100.9').addr;
  const value = ctEntry.encode({
    created_ns: 0n,
    last_seen_ns: 0n,
    packets: 1n,
    bytes: 64n,
    peer_touch_ns: 0n,
    fib_ns: 0n,
    nat_saddr: Buffer.alloc(16),
    nat_daddr: dst,
    nat_sport: 0,
    nat_dport: 80,
    svc_id: 7,
    next_seq: 0,
    fib_ifindex: 0,
    fib_dmac: Buffer.alloc(6),
    fib_smac: Buffer.alloc(6),
    ep_slot: 0,
    tcp_win: 0,
    state: CT_STATE.indexOf('ESTABLISHED'),
    flags: 0,
    xlate: 0,
    last_ack: 0,
  });
  for (let i = 0; i < count; i++) {
    const src = Buffer.from([198, 19, (i >> 8) & 255, i & 255, ...new Array<number>(12).fill(0)]);
    keys.set(ctKey.encode({ saddr: src, daddr: dst, sport: 1 + (i >> 16), dport: 80, proto: 6, family: 4 }), i * ctKey.size);
    values.set(value, i * ctEntry.size);
  }
  return { keys, values };
}

function clearTable(dp: LoadedDatapath): void {
  const raw = dp.maps.ct.lookupBatchRaw();
  if (raw.count > 0) dp.maps.ct.deleteBatchRaw(raw.keys, raw.count);
}

/** One loaded object set of a run: its datapath, pins and the bench's flows through it. */
interface Subject {
  dp: LoadedDatapath;
  pinDir: string;
  flows: { dnat: { fwd: Buffer; rev: Buffer }; fullnat: { fwd: Buffer; rev: Buffer } };
  perRound: Record<Case, number[]>;
  verdicts: Record<Case, number>;
}

function loadSubject(hook: Hook, ctEntries: number, objectDir: string | undefined): Subject {
  const pinDir = `/sys/fs/bpf/xlb/bench-${randomBytes(4).toString('hex')}`;
  const objectPath = objectDir ? path.join(objectDir, `xlb_${hook}.bpf.o`) : undefined;
  const dp = loadDatapath({
    hook,
    pinDir,
    ctEntries,
    maxServices: 8,
    config: { snat_v4: addr16(SNAT).addr, snat_port_min: 1024, snat_port_max: 65535 },
    ...(objectPath ? { objectPath } : {}),
  });
  // Maglev over 4 endpoints (as Katran's ring over 4 reals): DNAT service 1, full NAT service 2.
  // Full NAT sources from ports 1024-65535: a round's 20,000 flows from one SNAT address to 4
  // endpoints would otherwise fill 18 % of the default range, and about one flow in 20,000
  // finds all 8 candidates taken (drop_snat_exhausted, a real outcome the check would refuse)
  const eps = BACKENDS.map((ip) => ({ ip, port: 8080, weight: 1, active: true }));
  const table = maglevTable(eps, dp.maglevSize);
  for (const [id, vip, mode] of [
    [1, VIP, 'dnat'],
    [2, VIP_FULLNAT, 'fullnat'],
  ] as const) {
    writeEndpoints(dp, id, 0, eps);
    writeSched(dp, id, 0, table);
    putService(dp, { id, vip, port: 80, proto: 'tcp', mode, algo: 'maglev', epCount: eps.length, gen: 0 });
  }
  const none = { fwd: Buffer.alloc(0), rev: Buffer.alloc(0) };
  return {
    dp,
    pinDir,
    flows: { dnat: none, fullnat: none },
    perRound: Object.fromEntries(CASES.map((c) => [c, [] as number[]])) as Record<Case, number[]>,
    verdicts: {} as Record<Case, number>,
  };
}

function closeSubject(s: Subject | undefined): void {
  if (s === undefined) return;
  s.dp.close();
  rmSync(s.pinDir, { recursive: true, force: true });
}

async function sideResult(s: Subject, cases: readonly Case[], emptyNs: number): Promise<SideResult> {
  const ns = Object.fromEntries(cases.map((c) => [c, median(s.perRound[c])])) as Record<Case, number>;
  const range = Object.fromEntries(cases.map((c) => [c, [Math.min(...s.perRound[c]), Math.max(...s.perRound[c])]])) as Record<
    Case,
    [number, number]
  >;
  const ratio = Object.fromEntries(cases.map((c) => [c, ns[c] / emptyNs])) as Record<Case, number>;
  const programs = [await progInfo(s.dp.main), await progInfo(s.dp.slow)];
  return { ns, range, ratio, verdicts: s.verdicts, programs };
}

async function benchHook(
  hook: Hook,
  ns: string,
  n: number,
  rounds: number,
  ctEntries: number,
  check: boolean,
  cases: readonly Case[],
  objectDir?: string,
  objectDirB?: string,
): Promise<HookResult> {
  const subjects: Subject[] = [];
  let empty: BpfObject | undefined;
  let floor: BpfObject | undefined;
  try {
    subjects.push(loadSubject(hook, ctEntries, objectDir));
    if (objectDirB !== undefined) subjects.push(loadSubject(hook, ctEntries, objectDirB));
    empty = BpfObject.open(path.join(ROOT, 'build', 'bpf', 'test', 'xlb_empty.bpf.o'));
    floor = BpfObject.open(path.join(ROOT, 'build', 'bpf', 'test', 'xlb_floor.bpf.o'), {
      maxEntries: { xlb_floor_ct: ctEntries },
    });
    const floorMap = floor.map('xlb_floor_ct');
    const baseProg: Record<Baseline, BpfProgram> = {
      empty: empty.program(`xlb_empty_${hook}`),
      floor_hit: floor.program(`xlb_floor_hit_${hook}`),
      floor_miss: floor.program(`xlb_floor_miss_${hook}`),
      floor_insert: floor.program(`xlb_floor_insert_${hook}`),
      floor_insert2: floor.program(`xlb_floor_insert2_${hook}`),
    };
    const baseRounds = Object.fromEntries(BASELINES.map((c) => [c, [] as number[]])) as Record<Baseline, number[]>;
    const baseVerdict = Object.fromEntries(BASELINES.map((c) => [c, 0])) as Record<Baseline, number>;
    const passCode = hook === 'xdp' ? 2 : 0; // XDP_PASS, TC_ACT_OK
    const fill = syntheticEntries(ctEntries);
    const nonVip = buildFrame({ eth, ip: { src: CLIENT, dst: '198.18.1.99' }, udp: { sport: 1, dport: 2 }, payload: 64 });
    const wrong = inNetns(ns, () => {
      const dev = ifindex('xlb0');
      const ctx = (): Buffer => (hook === 'xdp' ? xdpMd({ ingressIfindex: dev }) : skBuff({ ifindex: dev }));
      const run = (prog: BpfProgram, data: Buffer): { ns: number; retval: number } => {
        const r = prog.testRun({ data: Buffer.from(data), ctx: ctx(), repeat: 1 });
        return { ns: r.durationNs, retval: r.retval };
      };
      // An established flow of the service on vip: a handshake through the datapath; returns
      // its client → VIP and backend → client data packets.
      const establish = (loaded: LoadedDatapath, vip: string, sport: number): { fwd: Buffer; rev: Buffer } => {
        const c = { src: CLIENT, dst: vip };
        run(loaded.main, buildFrame({ eth, ip: c, tcp: { sport, dport: 80, seq: 0, flags: 'S' } }));
        const key = { saddr: addr16(CLIENT).addr, daddr: addr16(vip).addr, sport, dport: 80, proto: 6, family: 4 };
        const e = lookupFlow(loaded, key);
        if (e === undefined) {
          if (check) throw new Error(`bench: the SYN to ${vip} created no flow (is the object broken?)`);
          return { fwd: buildFrame({ eth, ip: c, tcp: { sport, dport: 80, seq: 1, ack: 6, flags: 'PA' }, payload: 64 }), rev: nonVip };
        }
        const bip = `${e.nat_daddr[0]}.${e.nat_daddr[1]}.${e.nat_daddr[2]}.${e.nat_daddr[3]}`;
        const dst = `${e.nat_saddr[0]}.${e.nat_saddr[1]}.${e.nat_saddr[2]}.${e.nat_saddr[3]}`;
        const beth = { src: backendMac(BACKENDS.indexOf(bip)), dst: LB_MAC };
        run(
          loaded.main,
          buildFrame({ eth: beth, ip: { src: bip, dst }, tcp: { sport: 8080, dport: e.nat_sport, seq: 5, ack: 1, flags: 'SA' } }),
        );
        run(loaded.main, buildFrame({ eth, ip: c, tcp: { sport, dport: 80, seq: 1, ack: 6, flags: 'A' } }));
        return {
          fwd: buildFrame({ eth, ip: c, tcp: { sport, dport: 80, seq: 1, ack: 6, flags: 'PA' }, payload: 64 }),
          rev: buildFrame({
            eth: beth,
            ip: { src: bip, dst },
            tcp: { sport: 8080, dport: e.nat_sport, seq: 6, ack: 65, flags: 'PA' },
            payload: 64,
          }),
        };
      };
      const reset = (s: Subject, fraction: number): void => {
        clearTable(s.dp);
        s.flows = { dnat: establish(s.dp, VIP, 1000), fullnat: establish(s.dp, VIP_FULLNAT, 1001) };
        const count = Math.min(ctEntries - 4, Math.round(fraction * ctEntries));
        if (count > 0) s.dp.maps.ct.updateBatchRaw({ count, keys: fill.keys, values: fill.values });
      };
      const wrong: string[] = [];
      const measure = (s: Subject | undefined, c: Case, record: boolean): void => {
        const fraction = FILL[c];
        if (s !== undefined && fraction !== undefined) reset(s, fraction);
        if (isBaseline(c) && c !== 'empty') {
          const raw = floorMap.lookupBatchRaw();
          if (raw.count > 0) floorMap.deleteBatchRaw(raw.keys, raw.count);
          // the hit row looks up the established packet's tuple: its entry is put in first
          if (c === 'floor_hit') run(baseProg.floor_insert, (subjects[0] as Subject).flows.dnat.fwd);
        }
        const src =
          fraction !== undefined
            ? freshSyns(n, c === 'fullnat_new' ? VIP_FULLNAT : VIP)
            : s === undefined
              ? [(subjects[0] as Subject).flows.dnat.fwd]
              : c === 'reply'
                ? [s.flows.dnat.rev]
                : c === 'fullnat_established'
                  ? [s.flows.fullnat.fwd]
                  : c === 'fullnat_reply'
                    ? [s.flows.fullnat.rev]
                    : c === 'non_vip'
                      ? [nonVip]
                      : [s.flows.dnat.fwd];
        if (s !== undefined && c === 'established_fib') s.dp.writeConfig({ fib_cache_ms: 0 });
        const before = s === undefined ? undefined : readReasons(s.dp);
        const prog = isBaseline(c) ? baseProg[c] : (s as Subject).dp.main;
        let sum = 0;
        let retval = 0;
        for (let i = 0; i < n; i++) {
          const out = run(prog, src[i % src.length] as Buffer);
          sum += out.ns;
          retval = out.retval;
        }
        if (s !== undefined && c === 'established_fib') s.dp.writeConfig({ fib_cache_ms: 1000 });
        if (isBaseline(c)) baseVerdict[c] = retval;
        else (s as Subject).verdicts[c] = retval;
        if (check && isBaseline(c) && c !== 'empty') {
          const held = floorMap.lookupBatchRaw().count;
          const want = FLOOR_ENTRIES[c](n);
          if (retval !== passCode || held !== want)
            wrong.push(`${hook} ${c}: expected verdict ${passCode} and ${want} entries, got ${retval} and ${held}`);
        }
        if (check && s !== undefined && before !== undefined && !isBaseline(c)) {
          const after = readReasons(s.dp);
          const want = EXPECT[c];
          const moved = REASON.filter((x) => after[x].packets !== before[x].packets).map(
            (x) => `${x} ${after[x].packets - before[x].packets}`,
          );
          const side = subjects.length > 1 ? ` (${s === subjects[0] ? 'A' : 'B'})` : '';
          if (after[want].packets - before[want].packets !== BigInt(n))
            wrong.push(`${hook} ${c}${side}: expected ${n} × ${want}, counted ${moved.join(', ') || 'nothing'}`);
        }
        if (!record) return;
        if (isBaseline(c)) baseRounds[c].push(sum / n);
        else (s as Subject).perRound[c].push(sum / n);
      };
      // one unrecorded warm-up round (the first calls after a load are slower), then the rounds;
      // in a paired run A and B alternate which goes first
      for (let r = -1; r < rounds; r++) {
        for (const s of subjects) reset(s, 0);
        const order = r % 2 === 0 || r < 0 ? subjects : [...subjects].reverse();
        for (const c of cases) {
          if (isBaseline(c)) measure(undefined, c, r >= 0);
          else for (const s of order) measure(s, c, r >= 0);
        }
      }
      return wrong;
    });
    if (wrong.length > 0) throw new Error(`bench: a case did not take the path it measures:\n  ${wrong.join('\n  ')}`);
    const emptyNs = median(baseRounds.empty);
    const [a, b] = subjects as [Subject, Subject | undefined];
    for (const s of subjects)
      for (const c of BASELINES) {
        if (!cases.includes(c)) continue;
        s.perRound[c] = baseRounds[c];
        s.verdicts[c] = baseVerdict[c];
      }
    const result: HookResult = { hook, ...(await sideResult(a, cases, emptyNs)) };
    if (b !== undefined) {
      const paired = (c: Case): number[] => b.perRound[c].map((x, i) => x / (a.perRound[c][i] as number));
      result.b = {
        ...(await sideResult(b, cases, emptyNs)),
        bOverA: Object.fromEntries(cases.map((c) => [c, median(paired(c))])) as Record<Case, number>,
        bOverARange: Object.fromEntries(cases.map((c) => [c, [Math.min(...paired(c)), Math.max(...paired(c))]])) as Record<
          Case,
          [number, number]
        >,
      };
    }
    return result;
  } finally {
    empty?.close();
    floor?.close();
    for (const s of subjects) closeSubject(s);
  }
}

export interface DatapathBenchOptions {
  /** Calls per case and round (default 20,000; fewer gives an unstable median on a shared machine). */
  n?: number;
  rounds?: number;
  /** Conntrack table size (default 262,144, the loader's default). */
  ctEntries?: number;
  objectDir?: string;
  /** Paired A/B: B's objects (A: objectDir or this checkout's build), measured in the same rounds. */
  objectDirB?: string;
  hooks?: Hook[];
  /** false: do not check that every case takes its path (variants with a stage cut out). */
  check?: boolean;
  /** The cases to run (default all; 'empty' is always run). */
  cases?: Case[];
}

/** The options of `--quick` (a smoke run: numbers noisier). */
export const QUICK: DatapathBenchOptions = { n: 2000, rounds: 3, ctEntries: 65536 };

export async function runDatapathBench(opts: DatapathBenchOptions = {}): Promise<DatapathBench> {
  const n = opts.n ?? 20_000;
  const rounds = opts.rounds ?? 5;
  const ctEntries = opts.ctEntries ?? 262_144;
  if (2 * n > ctEntries / 2)
    throw new RangeError(`--n ${n}: a round's ${2 * n} entries must fit in half the table (--ct-entries ${ctEntries})`);
  const up0 = (await execa('uptime')).stdout.trim();
  return withVethNamespace('dpb', LB_MAC, async (ns, ip) => {
    await ip('addr', 'add', '198.18.1.1/24', 'dev', 'xlb0');
    await ip('addr', 'add', '198.18.0.1/24', 'dev', 'xlb1');
    for (const [i, b] of BACKENDS.entries()) await ip('neigh', 'replace', b, 'lladdr', backendMac(i), 'dev', 'xlb0', 'nud', 'permanent');
    await ip('neigh', 'replace', CLIENT, 'lladdr', CLIENT_MAC, 'dev', 'xlb1', 'nud', 'permanent');
    await execa('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.all.forwarding=1']);
    const results: HookResult[] = [];
    for (const hook of opts.hooks ?? (['tc', 'xdp'] as Hook[]))
      results.push(
        await benchHook(
          hook,
          ns,
          n,
          rounds,
          ctEntries,
          opts.check ?? true,
          CASES.filter((c) => c === 'empty' || opts.cases === undefined || opts.cases.includes(c)),
          opts.objectDir,
          opts.objectDirB,
        ),
      );
    const { stdout: kernel } = await execa('uname', ['-r']);
    const up1 = (await execa('uptime')).stdout.trim();
    return {
      n,
      rounds,
      ctEntries,
      kernel,
      objectDir: opts.objectDir ?? null,
      ...(opts.objectDirB !== undefined ? { objectDirB: opts.objectDirB } : {}),
      uptime: [up0, up1],
      results,
    };
  });
}

export function formatBench(b: DatapathBench): string {
  const lines = [
    `datapath bench: kernel ${b.kernel}, ${b.n} calls per case and round, median of ${b.rounds} interleaved rounds (min–max), ct table ${b.ctEntries} entries${b.objectDir ? `, objects from ${b.objectDir}` : ''}`,
    ...(b.objectDirB
      ? [`  paired A/B: A = ${b.objectDir ?? "this checkout's build"}, B = ${b.objectDirB} (back to back in every round)`]
      : []),
    `  uptime before: ${b.uptime[0]}`,
    `  uptime after:  ${b.uptime[1]}`,
  ];
  for (const r of b.results) {
    if (r.b !== undefined) {
      lines.push(`${r.hook}:                      A ns/packet  B ns/packet   A ratio   B ratio   B/A paired (min–max)`);
      for (const c of CASES) {
        if (r.range[c] === undefined) continue;
        const [lo, hi] = r.b.bOverARange[c];
        lines.push(
          `  ${c.padEnd(20)} ${r.ns[c].toFixed(1).padStart(11)} ${r.b.ns[c].toFixed(1).padStart(12)} ${r.ratio[c].toFixed(2).padStart(8)}x ${r.b.ratio[c].toFixed(2).padStart(8)}x   ${r.b.bOverA[c].toFixed(3)} (${lo.toFixed(3)}–${hi.toFixed(3)})`,
        );
      }
      for (const [side, progs] of [
        ['A', r.programs],
        ['B', r.b.programs],
      ] as const)
        for (const p of progs) lines.push(`  ${side} program ${p.name}: ${p.xlatedInsns} xlated insns, ${p.jitedBytes} jited bytes`);
      continue;
    }
    lines.push(`${r.hook}:                       ns/packet           ratio to empty`);
    for (const c of CASES) {
      if (r.range[c] === undefined) continue;
      const [lo, hi] = r.range[c];
      lines.push(
        `  ${c.padEnd(20)} ${r.ns[c].toFixed(1).padStart(8)} (${lo.toFixed(0)}–${hi.toFixed(0)})  ${r.ratio[c].toFixed(2).padStart(6)}x  (retval ${r.verdicts[c]})`,
      );
    }
    for (const p of r.programs) lines.push(`  program ${p.name}: ${p.xlatedInsns} xlated insns, ${p.jitedBytes} jited bytes`);
  }
  return lines.join('\n');
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values } = parseArgs({
    options: {
      n: { type: 'string' },
      rounds: { type: 'string' },
      'ct-entries': { type: 'string' },
      quick: { type: 'boolean', default: false },
      hook: { type: 'string' },
      out: { type: 'string' },
      'object-dir': { type: 'string' },
      'object-dir-b': { type: 'string' },
      'no-check': { type: 'boolean', default: false },
      cases: { type: 'string' },
    },
  });
  const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));
  const base = values.quick ? QUICK : {};
  const b = await runDatapathBench({
    ...base,
    ...(values.n ? { n: num(values.n) } : {}),
    ...(values.rounds ? { rounds: num(values.rounds) } : {}),
    ...(values['ct-entries'] ? { ctEntries: num(values['ct-entries']) } : {}),
    ...(values.hook ? { hooks: values.hook.split(',') as Hook[] } : {}),
    ...(values['object-dir'] ? { objectDir: path.resolve(values['object-dir']) } : {}),
    ...(values['object-dir-b'] ? { objectDirB: path.resolve(values['object-dir-b']) } : {}),
    check: !values['no-check'],
    ...(values.cases ? { cases: values.cases.split(',') as Case[] } : {}),
  });
  process.stdout.write(formatBench(b) + '\n');
  if (values.out) writeFileSync(values.out, JSON.stringify(b, null, 2));
}
