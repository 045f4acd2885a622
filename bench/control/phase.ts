// One phase of the control bench in its own process, so its peak memory (getrusage maxRSS) is
// that phase's alone: the controller programming N services, or an agent (its REST API and its
// config persistence, no interfaces) that the parent process drives over HTTP as a client would.
// Run by bench/control/run.ts; not a command of its own.
//
//   phase.ts '{"phase":"controller", ...}'  → one JSON line: timings, µs per map write, memory
//   phase.ts '{"phase":"agent", ...}'       → {"port":P} once listening; on a line "rss" on
//                                             stdin: {"maxRssKb":…} (the peak so far); on
//                                             "stop": {"maxRssKb":…, …} and exit
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Controller } from '../../src/controller/controller.ts';
import { MemoryDatapath } from '../../src/controller/memory-datapath.ts';
import type { DatapathHandle, DpService } from '../../src/controller/datapath.ts';
import type { KernelDatapathHandle } from '../../src/datapath/kernel-datapath.ts';
import type { Algorithm } from '../../src/controller/types.ts';
import { startAgent } from '../../src/agent/agent.ts';
import { createLogger } from '../../src/agent/log.ts';
import { CT_F, CT_STATE, PROTO, ctEntry, ctKey } from '../../src/schema/maps.ts';
import { addr16 } from '../../src/datapath/maps.ts';
import { BpfMap } from '../../src/bpf/index.ts';
import { services } from './services.ts';

export interface PhaseArgs {
  phase: 'controller' | 'agent';
  backend: 'kernel' | 'double';
  services: number;
  endpoints: number;
  algorithm: Algorithm;
  /** Distinct endpoint sets (services.ts); default one per service. */
  pools?: number;
  /** Conntrack map size (kernel); default 262144. */
  ctEntries?: number;
  /** agent: conntrack entries to write before listening (two per flow, spread over the services). */
  ctFill?: number;
  /**
   * Write a V8 CPU profile of the phase (after the datapath is open) into this directory. Not
   * `node --cpu-prof`: its sampling signal interrupts the verifier, and the program load fails
   * with EAGAIN.
   */
  cpuProfDir?: string;
}

export interface ControllerPhaseResult {
  loadMs: number;
  noopMs: number;
  updateMs: number;
  /** µs per operation, measured after the load on the loaded maps. */
  perOp: {
    putServiceUs: number;
    writeGenerationUs: number;
    writeGenerationCached: number;
    tableBuildUs: number;
    tableBuildNativeUs?: number;
  };
  maxRssKb: number;
  /** Of maxRssKb: the maps' pages mapped into the process (mmapable arrays), which stay mapped to the end. */
  mappedMapKb: number;
  kernelMapKb: number;
  /** Kernel: Maglev tables built, and taken from the adapter's cache, over the whole phase. */
  maglev?: { hits: number; builds: number };
}

export interface AgentPhaseResult {
  maxRssKb: number;
  /** Of maxRssKb: the maps' pages mapped into the process (mmapable arrays), which stay mapped to the end. */
  mappedMapKb: number;
  kernelMapKb: number;
  startMs: number;
  ctFillMs?: number;
}

let pinDir: string | undefined;

async function open(a: PhaseArgs): Promise<DatapathHandle> {
  if (a.backend === 'double') {
    const dp = new MemoryDatapath({ maxServices: a.services + 1 });
    return { datapath: dp, describe: 'test double', attach: () => {}, detach: () => {}, close: () => {} };
  }
  const { openKernelDatapath } = await import('../../src/datapath/kernel-datapath.ts');
  pinDir = `/sys/fs/bpf/xlb/bench-ctl-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  // Removed on close, and on a signal (the parent stops a phase that runs too long).
  const dir = pinDir;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(1);
    });
  }
  return openKernelDatapath({ hook: 'tc', pinDir, maxServices: a.services + 1, ctEntries: a.ctEntries ?? 262144, removePinsOnClose: true });
}

/** Kernel memory of this process's BPF maps (the memlock the kernel charges, from fdinfo). */
export function kernelMapKb(): number {
  let bytes = 0;
  const seen = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let info: string;
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).startsWith('anon_inode:bpf-map')) continue;
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const id = /map_id:\s+(\d+)/.exec(info)?.[1] ?? fd;
    if (seen.has(id)) continue;
    seen.add(id);
    bytes += Number(/memlock:\s+(\d+)/.exec(info)?.[1] ?? 0);
  }
  return Math.round(bytes / 1024);
}

/**
 * Resident pages of this process's mappings of BPF maps (/proc/self/smaps: the mmapable
 * xlb_sched and xlb_endpoints). They count in maxRSS, but they are the kernel's map memory (in
 * kernelMapKb too), not the process's own; they stay mapped until the datapath closes, so the
 * value at the end of a phase is also their peak.
 */
export function mappedMapKb(): number {
  let kb = 0;
  let inMap = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inMap = line.includes('anon_inode:bpf-map');
    else if (inMap && line.startsWith('Rss:')) kb += Number(/(\d+)/.exec(line)?.[1] ?? 0);
  }
  return kb;
}

const now = (): number => performance.now();

/** Starts the V8 sampling profiler when a.cpuProfDir is set; the returned function writes the profile. */
async function profile(a: PhaseArgs): Promise<() => Promise<void>> {
  const dir = a.cpuProfDir;
  if (dir === undefined) return async () => {};
  const s = new Session();
  s.connect();
  await s.post('Profiler.enable');
  await s.post('Profiler.setSamplingInterval', { interval: 250 });
  await s.post('Profiler.start');
  return async () => {
    const { profile: p } = await s.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${a.phase}-${a.algorithm}-${a.services}-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(p));
    s.disconnect();
    process.stderr.write(`bench/control/phase: CPU profile ${file}\n`);
  };
}

async function controllerPhase(a: PhaseArgs): Promise<ControllerPhaseResult> {
  const h = await open(a);
  const kernel = 'kernel' in h ? (h as KernelDatapathHandle).kernel : undefined;
  const stopProfile = await profile(a);
  try {
    const list = services(a.services, a.endpoints, a.algorithm, 0, a.pools ?? a.services);
    const c = new Controller(h.datapath);
    let t0 = now();
    c.load({ services: list });
    const loadMs = now() - t0;
    t0 = now();
    const r = c.reconcileAll();
    const noopMs = now() - t0;
    if (r.unchanged !== a.services) throw new Error(`second reconcile changed ${a.services - r.unchanged} services: not idempotent`);
    const changed = services(a.services, a.endpoints, a.algorithm, 1, a.pools ?? a.services);
    t0 = now();
    for (const s of changed) c.put(s.name as string, s);
    const updateMs = now() - t0;
    // Per operation, on the loaded maps: rewrite the inactive generation of up to 1,000 services,
    // and their entries (unchanged content, one map update each).
    const dp = h.datapath;
    const sample = dp.listServices().slice(0, 1000);
    const slots = sample.map((s) => dp.readEndpoints(s.id, s.generation, s.endpointCount));
    const hits0 = kernel?.maglevStats().hits ?? 0;
    t0 = now();
    sample.forEach((s, i) => dp.writeGeneration(s.id, s.generation === 0 ? 1 : 0, s.algorithm, slots[i] ?? []));
    const writeGenerationUs = ((now() - t0) * 1000) / Math.max(1, sample.length);
    const writeGenerationCached = (kernel?.maglevStats().hits ?? 0) - hits0;
    t0 = now();
    for (const s of sample) dp.putService(s);
    const putServiceUs = ((now() - t0) * 1000) / Math.max(1, sample.length);
    const { maglevTable, wrrSchedule } = await import('../../src/controller/lookup-tables.ts');
    t0 = now();
    for (const sl of slots) {
      if (a.algorithm === 'maglev') maglevTable(sl, 4099);
      else if (a.algorithm === 'wrr') wrrSchedule(sl, 4099);
    }
    const tableBuildUs = ((now() - t0) * 1000) / Math.max(1, slots.length);
    // The same tables through the addon's fill (what the kernel adapter builds with).
    let tableBuildNativeUs: number | undefined;
    if (a.algorithm === 'maglev' && a.backend === 'kernel') {
      const { maglevMembers } = await import('../../src/controller/lookup-tables.ts');
      const { maglevFillNative } = await import('../../src/bpf/index.ts');
      const members = new Float64Array(64 * 4);
      const out = new Uint8Array(4099);
      t0 = now();
      for (const sl of slots) maglevFillNative(4099, members, maglevMembers(sl, 4099, members), out);
      tableBuildNativeUs = ((now() - t0) * 1000) / Math.max(1, slots.length);
    }
    await stopProfile();
    return {
      loadMs,
      noopMs,
      updateMs,
      perOp: {
        putServiceUs,
        writeGenerationUs,
        writeGenerationCached,
        tableBuildUs,
        ...(tableBuildNativeUs !== undefined ? { tableBuildNativeUs } : {}),
      },
      maxRssKb: process.resourceUsage().maxRSS,
      mappedMapKb: mappedMapKb(),
      kernelMapKb: kernelMapKb(),
      ...(kernel !== undefined ? { maglev: kernel.maglevStats() } : {}),
    };
  } finally {
    h.close();
  }
}

/**
 * Writes n conntrack entries (n/2 flows: the client entry and the reply entry) spread over the
 * services' ids, ESTABLISHED and fresh, with a few batch updates: what a busy LB holds.
 */
function fillConntrack(ct: BpfMap, n: number, svcs: DpService[]): void {
  if (svcs.length === 0) throw new Error('fill: the agent holds no service');
  const ks = ct.keySize;
  const vs = ct.valueBufferSize;
  const chunk = 65536;
  const t = process.hrtime.bigint();
  const state = CT_STATE.indexOf('ESTABLISHED');
  for (let base = 0; base < n; base += chunk) {
    const count = Math.min(chunk, n - base);
    const keys = Buffer.alloc(count * ks);
    const values = Buffer.alloc(count * vs);
    const kv = new DataView(keys.buffer, keys.byteOffset, keys.length);
    const vv = new DataView(values.buffer, values.byteOffset, values.length);
    for (let j = 0; j < count; j++) {
      const i = base + j;
      const flow = i >> 1;
      const reply = (i & 1) === 1;
      const svc = svcs[flow % svcs.length] as DpService;
      const id = svc.id;
      // A distinct client address/port per flow: 198.19.0.0/16 × 50,000 ports.
      const client = addr16(`198.19.${(flow >> 8) & 255}.${flow & 255}`).addr;
      const cport = 10000 + ((flow >> 16) % 50000);
      const vip = addr16(svc.key.vip).addr;
      const ep = addr16('198.18.2.1').addr;
      const vport = svc.key.port;
      const fwd = { saddr: client, daddr: vip, sport: cport, dport: vport };
      const rev = { saddr: ep, daddr: client, sport: 8080, dport: cport };
      const key = reply ? rev : fwd;
      const nat = reply
        ? { nat_saddr: vip, nat_daddr: client, nat_sport: vport, nat_dport: cport }
        : { nat_saddr: client, nat_daddr: ep, nat_sport: cport, nat_dport: 8080 };
      ctKey.write(kv, j * ks, { ...key, proto: PROTO.tcp, family: 4 });
      ctEntry.write(vv, j * vs, {
        created_ns: t,
        last_seen_ns: t,
        packets: 10n,
        bytes: 1000n,
        peer_touch_ns: t,
        fib_ns: 0n,
        ...nat,
        svc_id: id,
        next_seq: 0,
        fib_ifindex: 0,
        fib_dmac: Buffer.alloc(6),
        fib_smac: Buffer.alloc(6),
        ep_slot: 0,
        tcp_win: 0,
        state,
        flags: reply ? CT_F.reply : 0,
        xlate: 0,
        last_ack: 0,
      });
    }
    ct.updateBatchRaw({ count, keys, values });
  }
}

async function agentPhase(a: PhaseArgs): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-bench-control-'));
  const t0 = now();
  const h = await open(a);
  let running;
  try {
    running = await startAgent(h, {
      configFile: path.join(dir, 'agent.yaml'),
      ifaces: [],
      api: { host: '127.0.0.1', port: 0 },
      detachOnExit: false,
      maintainIntervalMs: 3_600_000,
      log: createLogger({ write: () => {} }),
    });
  } catch (err) {
    h.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const startMs = now() - t0;
  const stopProfile = await profile(a);
  // Conntrack entries are written on a "fill" line, once the parent has PUT the services.
  let ctFillMs: number | undefined;
  process.stdout.write(`${JSON.stringify({ port: running.address.port })}\n`);
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line === 'fill') {
      if (pinDir === undefined) throw new Error('fill needs the kernel backend');
      const t1 = now();
      const ct = BpfMap.openPinned(path.join(pinDir, 'xlb_ct'));
      try {
        fillConntrack(ct, a.ctFill ?? 0, h.datapath.listServices());
      } finally {
        ct.close();
      }
      ctFillMs = now() - t1;
      process.stdout.write(`${JSON.stringify({ filled: a.ctFill, ctFillMs })}\n`);
      continue;
    }
    if (line === 'rss') {
      process.stdout.write(`${JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS })}\n`);
      continue;
    }
    if (line !== 'stop') continue;
    await stopProfile();
    const r: AgentPhaseResult = {
      maxRssKb: process.resourceUsage().maxRSS,
      mappedMapKb: mappedMapKb(),
      kernelMapKb: kernelMapKb(),
      startMs,
      ...(ctFillMs !== undefined ? { ctFillMs } : {}),
    };
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
    process.stdout.write(`${JSON.stringify(r)}\n`);
    rl.close();
    return;
  }
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as PhaseArgs;
  if (a.phase === 'controller') process.stdout.write(`${JSON.stringify(await controllerPhase(a))}\n`);
  else if (a.phase === 'agent') await agentPhase(a);
  else throw new Error(`phase '${String(a.phase)}' is not controller or agent`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/control/phase: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
