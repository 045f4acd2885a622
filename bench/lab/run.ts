// The lab bench: xlb against the load balancers users would pick instead (bench/lab/configs.ts),
// on one two-arm topology, the same backends and the same client load, in one run:
//
//   requests/s     wrk -t T -c C, keep-alive, D seconds                 (higher is better)
//   connections/s  the same with `Connection: close`: one TCP connection per request
//   UDP packets/s  trafgen sends a fixed count from the client (round robin over 256 source
//                  ports); the backends count what arrives (nftables counter): delivered / send time
//   latency        p50 and p99 of the keep-alive run (wrk --latency)
//   softirq µs/req softirq CPU time of the whole machine during the keep-alive run / requests;
//                  cpu µs/req is all busy CPU time (user + system + softirq …) likewise — the
//                  proxies' cost is mostly user space, the kernel LBs' mostly softirq
//
// Method (the pitfalls of issue 14): configurations interleaved (round 1 of every configuration,
// then round 2, …), median of `rounds`; a fresh lab (fresh namespaces) for every configuration
// and round, so no TIME_WAIT or conntrack state of one run meets the next; before every
// measurement a wait (bounded) for an idle CPU, the idle fraction recorded; the client and the
// LB node get ip_local_port_range 1024-65535 and tcp_tw_reuse; bridge-nf-call-* off in the switch
// namespace; GRO on every veth (XDP_REDIRECT into a veth needs it; on for every configuration, so
// they share one topology); tx checksum offload off everywhere (XDP cannot finish a partial
// checksum). Every figure is also given as a ratio to `direct` and to `nft-dnat` of the same run.
//
//   node --import tsx bench/lab/run.ts [--quick] [--rounds N] [--duration S] [--configs a,b] [--out FILE] [--report DIR]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAsScript, writeScriptReport } from '../script-report.ts';
import { parseArgs } from 'node:util';
import { Lab } from '../../lab/lab.ts';
import { builtinTopology, VIP } from '../../src/topology/builtins.ts';
import {
  CONFIG_SUMMARY,
  HTTP_PORT,
  LB_CONFIGS,
  UDP_PORT,
  readUdpCounter,
  setUp,
  startBackendNginx,
  sysTool,
  udpCounterRules,
} from './configs.ts';
import type { BenchLab, LbConfig, Target } from './configs.ts';
import { parseWrk, threadAddrScript, wrkArgs } from './wrk.ts';
import type { WrkResult } from './wrk.ts';

export const METRICS = [
  { key: 'rps', label: 'requests/s (keep-alive)', unit: '/s', better: 'higher' },
  { key: 'cps', label: 'connections/s', unit: '/s', better: 'higher' },
  { key: 'udpPps', label: 'UDP packets/s delivered', unit: '/s', better: 'higher' },
  { key: 'p50Ms', label: 'latency p50', unit: 'ms', better: 'lower' },
  { key: 'p99Ms', label: 'latency p99', unit: 'ms', better: 'lower' },
  { key: 'softirqUsPerReq', label: 'softirq µs/request', unit: 'µs', better: 'lower' },
  { key: 'cpuUsPerReq', label: 'CPU µs/request', unit: 'µs', better: 'lower' },
] as const;
export type MetricKey = (typeof METRICS)[number]['key'];
export type Figures = Record<MetricKey, number | null>;

export interface LabBenchOptions {
  configs: LbConfig[];
  rounds: number;
  durationS: number;
  threads: number;
  connections: number;
  backends: number;
  udpPackets: number;
  /** Idle fraction (0-1) to wait for before each measurement, and the longest wait. */
  idleTarget: number;
  idleWaitMs: number;
  quick: boolean;
}

export const DEFAULT_LAB_BENCH: LabBenchOptions = {
  configs: [...LB_CONFIGS],
  rounds: 3,
  durationS: 5,
  threads: 2,
  connections: 64,
  backends: 2,
  udpPackets: 150_000,
  idleTarget: 0.8,
  idleWaitMs: 6_000,
  quick: false,
};

export const QUICK_LAB_BENCH: Partial<LabBenchOptions> = {
  rounds: 1,
  durationS: 1,
  connections: 16,
  udpPackets: 5000,
  idleWaitMs: 0,
  quick: true,
};

export interface UdpResult {
  sent: number;
  delivered: number;
  sendS: number;
  /** delivered / sendS */
  pps: number;
  /** trafgen runs it took (> 1: its TX ring flush met EAGAIN and the measurement was repeated). */
  attempts: number;
}

export interface Sample {
  config: LbConfig;
  round: number;
  setupMs: number;
  /** Idle fraction of the machine just before each measurement (1 = idle). */
  idleBefore: { keepalive: number; close: number; udp: number | null };
  keepalive: WrkResult;
  close: WrkResult;
  udp: UdpResult | null;
  cpu: { softirqS: number; busyS: number };
  figures: Figures;
}

export interface ConfigSummary {
  config: LbConfig;
  summary: string;
  /** Median over rounds (null: not measurable for this configuration, e.g. HAProxy UDP). */
  median: Figures;
  /** median / direct's median, and / nft-dnat's median (null when either is missing). */
  vsDirect: Figures;
  vsNftDnat: Figures;
}

export interface LabBenchResult {
  options: LabBenchOptions;
  startedAt: string;
  durationS: number;
  topology: string;
  samples: Sample[];
  /** Rounds that failed (the configuration did not come up, a tool failed): reported, not measured. */
  failures: { config: LbConfig; round: number; error: string }[];
  configs: ConfigSummary[];
}

function median(xs: number[]): number | null {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? null) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

interface CpuTimes {
  softirq: number;
  busy: number;
  idle: number;
}

/** The machine's CPU time so far (/proc/stat `cpu` line), seconds. */
export function cpuTimes(): CpuTimes {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const hz = 100; // USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture that matters here
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return { softirq: softirq / hz, busy: (user + nice + system + irq + softirq + steal) / hz, idle: (idle + iowait) / hz };
}

/** Idle fraction of the machine over `ms`. */
async function idleOver(ms: number): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  const total = b.busy - a.busy + (b.idle - a.idle);
  return total > 0 ? (b.idle - a.idle) / total : 1;
}

/** Waits (at most waitMs) until the machine is at least `target` idle over 500 ms; returns the last idle fraction. */
async function waitIdle(target: number, waitMs: number): Promise<number> {
  const deadline = Date.now() + waitMs;
  let idle = await idleOver(waitMs > 0 ? 500 : 100);
  while (idle < target && Date.now() < deadline) idle = await idleOver(500);
  return idle;
}

/** The two-arm lab of the bench: 1 client, N backends on a bridge, IPv4 only. */
export function benchTopology(backends: number): ReturnType<typeof builtinTopology> {
  const spec = builtinTopology('two-arm', { clients: 1, backends, ipv6: false, offload: false, staticNeighbours: true });
  spec.name = 'two-arm-bench';
  for (const n of spec.nodes) {
    // The client opens a connection per request (connections/s) and the proxies one per client
    // connection: the default port range (28k ports) and TIME_WAIT would limit the run, not the LB.
    if (n.role === 'client' || n.role === 'lb')
      n.sysctls = { ...n.sysctls, 'net.ipv4.ip_local_port_range': '1024 65535', 'net.ipv4.tcp_tw_reuse': 1 };
    if (n.role === 'backend' || n.role === 'lb')
      n.sysctls = { ...n.sysctls, 'net.core.somaxconn': 8192, 'net.ipv4.tcp_max_syn_backlog': 8192 };
  }
  return spec;
}

async function prepareLab(backends: number, dir: string): Promise<BenchLab> {
  const lab = await Lab.up(benchTopology(backends), { runDir: dir });
  try {
    // br_netfilter (when loaded) would send bridged frames through iptables: off, per namespace.
    await Promise.all(
      lab.topology.switches.map((sw) =>
        lab.exec(sw.name, sysTool('sh'), [
          '-c',
          'for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e "$f" ] && echo 0 > "$f"; done; true',
        ]),
      ),
    );
    await lab.setGro(true);
    const backendNodes = lab.topology.nodes.filter((n) => n.role === 'backend');
    await Promise.all(
      backendNodes.map(async (n) => {
        await lab.exec(n.name, sysTool('nft'), ['-f', '-'], { input: udpCounterRules() });
        await startBackendNginx(lab, n.name, path.join(dir, n.name));
      }),
    );
    return {
      lab,
      dir,
      vip: VIP.ipv4,
      backends: backendNodes.map((n) => ({ node: n.name, ip: lab.iface(n.name).ipv4 })),
      lbClientIf: lab.iface('lb', 'clients').ifname,
      lbBackendIf: lab.iface('lb', 'backends').ifname,
    };
  } catch (e) {
    await lab.close();
    throw e;
  }
}

/** A few requests, one connection each, must reach every backend before anything is measured. */
async function checkReachesBackends(b: BenchLab, t: Target): Promise<void> {
  const urls = t.http.length > 1 ? t.http.map((a) => `http://${a}/`) : Array.from({ length: 16 }, () => `http://${t.http[0]}/`);
  const r = await b.lab.exec('c1', sysTool('curl'), ['-sS', '--max-time', '3', '-H', 'Connection: close', ...urls], {
    reject: false,
    timeoutMs: 20_000,
  });
  const seen = new Set(
    r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== ''),
  );
  const missing = b.backends.filter((x) => !seen.has(x.node)).map((x) => x.node);
  if (r.exitCode !== 0 || missing.length > 0) {
    throw new Error(
      `the HTTP check through ${t.http.join(',')} did not reach ${missing.join(', ') || 'every backend'} (curl exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`,
    );
  }
}

async function runWrk(b: BenchLab, t: Target, o: LabBenchOptions, close: boolean): Promise<WrkResult> {
  const scriptPath = path.join(b.dir, 'threads.lua');
  if (t.http.length > 1) writeFileSync(scriptPath, threadAddrScript(t.http, HTTP_PORT));
  const args = wrkArgs({
    url: `http://${t.http[0]}/`,
    threads: o.threads,
    connections: o.connections,
    durationS: o.durationS,
    close,
    ...(t.http.length > 1 ? { threadAddrs: t.http, scriptPath } : {}),
  });
  const r = await b.lab.exec('c1', sysTool('wrk'), args, { timeoutMs: (o.durationS + 20) * 1000, reject: false });
  if (r.exitCode !== 0) throw new Error(`wrk ${args.join(' ')} exited with ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(0, 800)}`);
  return parseWrk(r.stdout);
}

/** trafgen's packet config: one packet per destination, sent round robin, 256 source ports. */
export function trafgenConfig(srcMac: string, dstMac: string, src: string, dsts: string[]): string {
  return dsts
    .map(
      (d) => `{
  eth(da=${dstMac}, sa=${srcMac}),
  ipv4(saddr=${src}, daddr=${d}, ttl=64),
  udp(sp=dinc(10000, 10255), dp=${UDP_PORT}),
  fill(0x78, 18)
}`,
    )
    .join('\n');
}

async function runUdp(b: BenchLab, t: Target, o: LabBenchOptions): Promise<UdpResult | null> {
  if (t.udp === null) return null;
  const cIf = b.lab.iface('c1', 'clients');
  const lbIf = b.lab.iface('lb', 'clients');
  const conf = path.join(b.dir, 'udp.trafgen');
  writeFileSync(conf, trafgenConfig(cIf.mac, lbIf.mac, cIf.ipv4, t.udp));
  // trafgen gives up when a flush of its PF_PACKET TX ring meets EAGAIN (the device queue full:
  // seen once, in the --quick smoke under load 5). That is back-pressure, not a result: the
  // measurement is repeated from fresh counters, at most 3 runs, and the result says how many.
  for (let attempt = 1; ; attempt++) {
    const before = await Promise.all(b.backends.map((x) => readUdpCounter(b.lab, x.node)));
    const t0 = performance.now();
    // One sender process (-P 1), a fixed count; packets go out through the PF_PACKET TX ring.
    const r = await b.lab.exec(
      'c1',
      sysTool('trafgen'),
      ['--dev', cIf.ifname, '--conf', conf, '-n', String(o.udpPackets), '-P', '1', '-q'],
      {
        reject: false,
        timeoutMs: 120_000,
      },
    );
    const sendS = (performance.now() - t0) / 1000;
    const out = (r.stderr || r.stdout).trim();
    if (r.exitCode !== 0 && attempt < 3 && /Resource temporarily unavailable/.test(out)) continue;
    if (r.exitCode !== 0) throw new Error(`trafgen exited with ${r.exitCode} (run ${attempt}): ${out.slice(0, 800)}`);
    // Let the last packets cross the LB (the backlog and proxies drain in well under this).
    await new Promise((res) => setTimeout(res, 300));
    const after = await Promise.all(b.backends.map((x) => readUdpCounter(b.lab, x.node)));
    const delivered = after.reduce((s, v, i) => s + v - (before[i] ?? 0), 0);
    return { sent: o.udpPackets, delivered, sendS, pps: delivered / sendS, attempts: attempt };
  }
}

async function measureOne(config: LbConfig, round: number, o: LabBenchOptions, log: (s: string) => void): Promise<Sample> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `xlb-bench-${config}-`));
  const t0 = performance.now();
  const b = await prepareLab(o.backends, dir);
  try {
    const target = await setUp(config, b);
    await checkReachesBackends(b, target);
    const setupMs = performance.now() - t0;
    const idleKa = await waitIdle(o.idleTarget, o.idleWaitMs);
    const c0 = cpuTimes();
    const keepalive = await runWrk(b, target, o, false);
    const c1 = cpuTimes();
    const idleClose = await waitIdle(o.idleTarget, o.idleWaitMs);
    const close = await runWrk(b, target, o, true);
    const idleUdp = target.udp === null ? null : await waitIdle(o.idleTarget, o.idleWaitMs);
    const udp = await runUdp(b, target, o);
    const softirqS = c1.softirq - c0.softirq;
    const busyS = c1.busy - c0.busy;
    const ok = keepalive.requests > 0;
    const figures: Figures = {
      rps: keepalive.requestsPerSec,
      cps: close.requestsPerSec,
      udpPps: udp?.pps ?? null,
      p50Ms: keepalive.latencyP50Ms,
      p99Ms: keepalive.latencyP99Ms,
      softirqUsPerReq: ok ? (softirqS * 1e6) / keepalive.requests : null,
      cpuUsPerReq: ok ? (busyS * 1e6) / keepalive.requests : null,
    };
    log(
      `  ${config.padEnd(9)} round ${round}: ${fmt(figures.rps)} req/s, ${fmt(figures.cps)} conn/s, ${udp === null ? 'no UDP' : `${fmt(udp.pps)} UDP pkt/s (${udp.delivered}/${udp.sent})`}, p50 ${fmt(figures.p50Ms)} ms p99 ${fmt(figures.p99Ms)} ms; idle before ${Math.round(idleKa * 100)}%`,
    );
    return {
      config,
      round,
      setupMs,
      idleBefore: { keepalive: idleKa, close: idleClose, udp: idleUdp },
      keepalive,
      close,
      udp,
      cpu: { softirqS, busyS },
      figures,
    };
  } finally {
    await b.lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function ratio(a: number | null, b: number | null | undefined): number | null {
  return a === null || b === null || b === undefined || b === 0 ? null : a / b;
}

export function summarizeSamples(samples: Sample[], configs: LbConfig[]): ConfigSummary[] {
  const med = (c: LbConfig): Figures => {
    const mine = samples.filter((s) => s.config === c);
    const out = {} as Figures;
    for (const m of METRICS) out[m.key] = median(mine.map((s) => s.figures[m.key]).filter((v): v is number => v !== null));
    return out;
  };
  const medians = new Map(configs.map((c) => [c, med(c)]));
  const direct = medians.get('direct');
  const nft = medians.get('nft-dnat');
  return configs.map((c) => {
    const m = medians.get(c) ?? med(c);
    const vs = (base: Figures | undefined): Figures => {
      const out = {} as Figures;
      for (const k of METRICS) out[k.key] = ratio(m[k.key], base?.[k.key]);
      return out;
    };
    return { config: c, summary: CONFIG_SUMMARY[c], median: m, vsDirect: vs(direct), vsNftDnat: vs(nft) };
  });
}

export async function runLabBench(
  opts: Partial<LabBenchOptions> = {},
  log: (s: string) => void = (s) => console.log(s),
): Promise<LabBenchResult> {
  const o: LabBenchOptions = { ...DEFAULT_LAB_BENCH, ...(opts.quick === true ? QUICK_LAB_BENCH : {}), ...opts };
  for (const c of o.configs)
    if (!(LB_CONFIGS as readonly string[]).includes(c))
      throw new Error(`unknown configuration '${c}': the configurations are ${LB_CONFIGS.join(', ')}`);
  // Every tool up front: a missing one fails now, not after minutes of rounds.
  for (const tool of ['wrk', 'trafgen', 'nft', 'curl', 'ss', 'nginx', ...(o.configs.includes('haproxy') ? ['haproxy'] : [])]) sysTool(tool);
  const started = new Date();
  log(
    `lab bench: ${o.configs.length} configurations × ${o.rounds} round(s), wrk -t${o.threads} -c${o.connections} ${o.durationS}s, ${o.udpPackets} UDP packets, ${o.backends} backends`,
  );
  const samples: Sample[] = [];
  const failures: LabBenchResult['failures'] = [];
  for (let round = 1; round <= o.rounds; round++) {
    // Interleaved: every configuration once per round; the order rotates so none is always first.
    const order = o.configs.map((_, i) => o.configs[(i + round - 1) % o.configs.length] as LbConfig);
    for (const c of order) {
      // One failed round (its lab is already gone) is reported and the run goes on: the other
      // configurations' figures stay good, and a median of the rounds that worked is still one.
      try {
        samples.push(await measureOne(c, round, o, log));
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        failures.push({ config: c, round, error });
        log(`  ${c.padEnd(9)} round ${round}: FAILED: ${error}`);
      }
    }
  }
  return {
    options: o,
    startedAt: started.toISOString(),
    durationS: (Date.now() - started.getTime()) / 1000,
    topology: `two-arm: c1 ↔ lb ↔ bridge ↔ ${o.backends} backends (nginx), IPv4, GRO on, tx csum offload off`,
    samples,
    failures,
    configs: summarizeSamples(samples, o.configs),
  };
}

/** The Markdown table: one row per configuration, medians and the two ratios. */
export function labMarkdown(r: LabBenchResult): string {
  const head = ['configuration', ...METRICS.map((m) => `${m.label}`), '× direct (req/s, conn/s, UDP)', '× nft-dnat (req/s, conn/s, UDP)'];
  const rows = r.configs.map((c) => {
    const x = (f: Figures): string => [f.rps, f.cps, f.udpPps].map((v) => (v === null ? '—' : `${v.toFixed(2)}×`)).join(' / ');
    return [`**${c.config}**`, ...METRICS.map((m) => fmt(c.median[m.key])), x(c.vsDirect), x(c.vsNftDnat)];
  });
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Every figure as a ratio: `× direct / × nft-dnat` per cell (for latency and CPU, lower is better). */
export function labRatiosMarkdown(r: LabBenchResult): string {
  const x = (v: number | null): string => (v === null ? '—' : `${v.toFixed(2)}×`);
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const head = ['× direct / × nft-dnat', ...METRICS.map((m) => `${m.label} (${m.better} is better)`)];
  return [
    line(head),
    line(head.map(() => '---')),
    ...r.configs.map((c) => line([c.config, ...METRICS.map((m) => `${x(c.vsDirect[m.key])} / ${x(c.vsNftDnat[m.key])}`)])),
  ].join('\n');
}

export function formatLabBench(r: LabBenchResult): string {
  return `${r.topology}; median of ${r.options.rounds} round(s), ${r.durationS.toFixed(0)} s in all\n${labMarkdown(r)}`;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      configs: { type: 'string' },
      out: { type: 'string' },
      report: { type: 'string' },
    },
  });
  const opts: Partial<LabBenchOptions> = { quick: values.quick };
  if (values.rounds !== undefined) opts.rounds = Number(values.rounds);
  if (values.duration !== undefined) opts.durationS = Number(values.duration);
  if (values.configs !== undefined) opts.configs = values.configs.split(',') as LbConfig[];
  // Imported here: report.ts imports this module (its tables), so not at the top.
  const { environment } = await import('../report.ts');
  const env = await environment();
  const r = await runLabBench(opts);
  console.log(formatLabBench(r));
  await writeScriptReport(
    { script: 'node --import tsx bench/lab/run.ts', argv, quick: values.quick, out: values.out, report: values.report },
    env,
    r,
    { lab: r },
  );
  return 0;
}

runAsScript(import.meta.url, 'lab bench', main);
