// The `lab` World: a real network-namespace Lab (lab/lab.ts) built from the scenario's topology,
// the real `xlb agent` in the LB's namespace (programmed through its REST API), the real traffic
// tools (lab/traffic), tcpdump on every node interface from the start, and the datapath's pinned
// maps read directly for observations (conntrack, counters, the trace ring buffer). See
// docs/harness-lab.md for what differs from sim/prog (time, seeds, timing).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { BpfMap, RingBuffer, numPossibleCpus } from '../bpf/index.ts';
import type { DpFlow } from '../controller/datapath.ts';
import type { DpCtEntry, DpTraceEvent } from '../datapath/packet-datapath.ts';
import { readPcapFile } from '../packet/index.ts';
import { CFG_F, CT_STATE, traceEvent } from '../schema/maps.ts';
import type { ClientRequest } from '../traffic/types.ts';
import { XLB, startLabAgent } from '../../lab/agent-process.ts';
import type { LabAgent } from '../../lab/agent-process.ts';
import { Capture } from '../../lab/capture.ts';
import type { CaptureStats } from '../../lab/capture.ts';
import { Lab } from '../../lab/lab.ts';
import {
  deletePinnedCt,
  readCtEntries,
  readDpCounters,
  readFwdResults,
  readReasons,
  toDpTraceEvent,
  updatePinnedConfig,
} from '../../lab/lb-maps.ts';
import type { Config } from '../schema/maps.ts';
import { backendNodes, injectFrames, runClient, startClient, startServers } from '../../lab/traffic/tools.ts';
import type { ResolvedNode } from '../topology/topology.ts';
import { startLabDrops } from './drops/index.ts';
import type { LabDrops } from './drops/index.ts';
import type { LinkCapture, Observation, ServiceInput, World, WorldOptions } from './world.ts';

/** Map sizes of the lab's agent: room for thousands of connections (unless the scenario says), the prog backend's service-id space. */
const agentArgs = (ctEntries = 65536): string[] => ['--ct-entries', String(ctEntries), '--max-services', '64'];

/**
 * Clients run on CPU 0: the datapath keeps per-CPU state (the rr/wrr cursor), and sim/prog have
 * one CPU, so a scenario's "round robin over 3 backends" means the same sequence everywhere.
 */
const CLIENT_RUN = { cpu: 0 };

/** The lab's name: carries the scenario's runId (when given) and a random part (unique per World). */
export function labWorldName(opts: Pick<WorldOptions, 'hook' | 'runId'>): string {
  const run = opts.runId ?? '';
  if (run !== '' && !/^[A-Za-z0-9_.-]{1,40}$/.test(run))
    throw new Error(`lab world: runId '${run}' must be 1-40 characters [A-Za-z0-9_.-] (it is part of the lab's name)`);
  return ['world', opts.hook, ...(run !== '' ? [run] : []), randomBytes(3).toString('hex')].join('-');
}

/** The one LB node of a topology: its vip.lb, else the only node with role 'lb'. */
function lbNode(lab: Lab): ResolvedNode {
  const named = lab.topology.spec.vip?.lb;
  if (named !== undefined) return lab.node(named);
  const lbs = lab.topology.nodes.filter((n) => n.role === 'lb');
  if (lbs.length !== 1)
    throw new Error(
      `lab world: topology '${lab.topology.spec.name}' has ${lbs.length} nodes with role 'lb' and no vip.lb: name the LB node in vip.lb`,
    );
  return lbs[0] as ResolvedNode;
}

/** Per-state timeouts as xlb_config.timeouts_s (index = CT_STATE), unknown state names refused. */
/** The config fields a scenario's flood-guard rate overrides (none: the agent's own). */
function flood(newFlowRate: number | undefined): { new_flow_rate?: number } {
  return newFlowRate === undefined ? {} : { new_flow_rate: newFlowRate };
}

function timeoutsArray(cur: number[], timeouts: Partial<Record<string, number>>): number[] {
  const out = [...cur];
  for (const [name, s] of Object.entries(timeouts)) {
    const i = (CT_STATE as readonly string[]).indexOf(name);
    if (i < 0) throw new Error(`lab world: timeoutsS has '${name}', not a conntrack state (${CT_STATE.join(', ')})`);
    if (s === undefined) continue;
    if (!Number.isInteger(s) || s < 0) throw new Error(`lab world: timeoutsS.${name} is ${s}, not a whole number of seconds >= 0`);
    out[i] = s;
  }
  return out;
}

function sumValues(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

/** The pinned maps dumped into a result's artifacts (bpftool -j map dump pinned …), one JSON file each. */
const DUMPED_MAPS = ['xlb_ct', 'xlb_services', 'xlb_config', 'xlb_reasons', 'xlb_fwd', 'xlb_svc_stats'];

async function dumpPinnedMaps(pinDir: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await Promise.all(
    DUMPED_MAPS.map(async (m) => {
      const r = await execa('bpftool', ['-j', 'map', 'dump', 'pinned', path.join(pinDir, m)], { reject: false });
      writeFileSync(
        path.join(dir, `${m}.json`),
        r.exitCode === 0 ? r.stdout : JSON.stringify({ error: `bpftool map dump pinned ${m} failed: ${r.stderr}` }),
      );
    }),
  );
}

/**
 * Stateful maps the datapath fills while packets flow, emptied between two results of a reused
 * lab World (every other map is the desired state, replaced by the next result's apply()):
 * hash maps emptied, arrays zeroed (per-CPU ones on every CPU).
 */
const RESET_MAPS = [
  'xlb_ct',
  'xlb_persist',
  'xlb_rr',
  'xlb_ep_conns',
  'xlb_policers',
  'xlb_svc_stats',
  'xlb_ep_stats',
  'xlb_reasons',
  'xlb_fwd',
];

function resetPinnedMaps(pinDir: string): void {
  for (const name of RESET_MAPS) {
    const m = BpfMap.openPinned(path.join(pinDir, name));
    try {
      if (m.type.includes('hash')) {
        const keys = [...m.keys()];
        for (const k of keys) m.delete(k);
      } else {
        const cpus = numPossibleCpus();
        const zero = Buffer.alloc(m.valueSize);
        for (let i = 0; i < m.maxEntries; i++) {
          const key = Buffer.alloc(4);
          key.writeUInt32LE(i);
          if (m.perCpu)
            m.updatePerCpu(
              key,
              Array.from({ length: cpus }, () => zero),
            );
          else m.update(key, zero);
        }
      }
    } finally {
      m.close();
    }
  }
}

/**
 * Kernel state of the lab's hosts a result can leave behind: TCP connections and TIME_WAIT
 * sockets (a next result's fixed source port would collide), learned neighbours (a result about
 * unresolved neighbours needs them unknown; permanent ones stay) and PMTU exceptions (an ICMP
 * fragmentation-needed result lowers a path's MTU). The LB's sockets are the agent's: only its
 * neighbours and routes are flushed.
 */
async function resetHosts(lab: Lab, lbName: string): Promise<void> {
  const net = 'ip neigh flush all; ip route flush cache; ip -6 route flush cache';
  await Promise.all(
    lab.topology.nodes.map(async (n) => {
      const script = n.name === lbName ? net : `ss -K -t state connected >/dev/null 2>&1; ss -K -t state time-wait >/dev/null 2>&1; ${net}`;
      const r = await lab.exec(n.name, 'sh', ['-c', `${script}; ss -Htn state connected state time-wait | wc -l`]);
      const left = Number(r.stdout.trim());
      if (n.name !== lbName && left > 0) throw new Error(`lab world reset: ${left} TCP socket(s) left on ${n.name} after ss -K`);
    }),
  );
}

/** A lab World that can be readied for another result (src/harness/lab-pool.ts reuses one per topology). */
export interface LabWorld extends World {
  /**
   * Readies the World for another result: conntrack, persistence, cursors, least-connection and
   * policer state, every counter emptied, services removed, the config as it was at start (the
   * result's timeouts applied), hosts' sockets, neighbours and PMTU exceptions flushed, the trace
   * cleared, captures and the drop tracer restarted into `opts.artifactsDir`. Throws when the
   * World cannot be reused (the agent exited): close it and create another.
   */
  reset(opts: WorldOptions): Promise<void>;
  /** Whether close({ reuse: true }) left it reusable (no process of the result still running, the agent up). */
  readonly reusable: boolean;
}

export async function createLabWorld(opts: WorldOptions): Promise<LabWorld> {
  if (opts.backend !== 'lab') throw new Error(`createLabWorld: backend '${opts.backend}' is not 'lab'`);
  let startMs = Date.now();
  let artifactsDir = opts.artifactsDir;
  mkdirSync(opts.artifactsDir, { recursive: true });
  const lab = await Lab.up(opts.topology, { name: labWorldName(opts), runDir: path.join(opts.artifactsDir, 'lab') });
  let capture: Capture | undefined;
  let agent: LabAgent | undefined;
  let traceMap: BpfMap | undefined;
  let ring: RingBuffer | undefined;
  const trace: DpTraceEvent[] = [];
  /** Records that did not decode (a schema out of step with the objects): observe() reports them. */
  const traceErrors: string[] = [];
  let captured: Promise<LinkCapture[]> | undefined;
  let drops: LabDrops | undefined;
  let closing: Promise<void> | undefined;
  let kept = false;
  /** Between close({ reuse: true }) and reset(): the result is over, the lab stays up. */
  let parked = false;
  let reusable = false;
  /** Processes of the World itself (servers, agent, tcpdump) at the start of a result. */
  let own = new Set<number>();
  /** Where the agent's output of this result starts. */
  let agentOut = { stdout: 0, stderr: 0 };
  const startDrops = (): void => {
    try {
      drops = startLabDrops([
        ...lab.topology.nodes.map((n) => ({ node: n.name, netns: n.netns })),
        ...lab.topology.switches.map((sw) => ({ node: sw.name, netns: sw.netns })),
      ]);
    } catch (e) {
      drops = undefined;
      process.stderr.write(`lab world: drop diagnosis is off for this run: ${(e as Error).message}\n`);
    }
  };

  const stopCapture = async (): Promise<CaptureStats[]> => (capture === undefined ? [] : capture.stop());
  const close = (): Promise<void> => {
    if (kept)
      return Promise.reject(
        new Error(`lab world: close() after keep(): the lab ${lab.name} stays up; remove it with xlb lab down --name ${lab.name}`),
      );
    closing ??= (async () => {
      drops?.close();
      ring?.close();
      traceMap?.close();
      const errors: string[] = [];
      await stopCapture().catch((e: unknown) => errors.push(`stopping tcpdump: ${(e as Error).message}`));
      if (agent !== undefined) {
        // The maps a person looks at first, as bpftool shows them (BTF field names), while the pins exist.
        if (!parked)
          await dumpPinnedMaps(agent.pinDir, path.join(artifactsDir, 'maps')).catch((e: unknown) =>
            errors.push(`dumping the maps: ${(e as Error).message}`),
          );
        await agent.stop().catch((e: unknown) => errors.push(`stopping the agent: ${(e as Error).message}`));
        // The agent's log next to the pcaps: what it did with every request (of this result).
        if (!parked) writeFileSync(path.join(artifactsDir, 'agent.log'), agentLog(agent));
      }
      // Processes, namespaces, pins (/sys/fs/bpf/xlb/<id>) and the state file.
      await lab.close();
      if (errors.length > 0) throw new Error(`lab world close: ${errors.join('; ')}`);
    })();
    return closing;
  };

  const agentLog = (a: LabAgent): string => {
    const out = a.process.stdout();
    const err = a.process.stderr();
    // The output is capped (the last 1 MiB): when it wrapped, all of it.
    return (
      (out.length >= agentOut.stdout ? out.slice(agentOut.stdout) : out) +
      (err.length >= agentOut.stderr ? err.slice(agentOut.stderr) : err)
    );
  };

  try {
    const lb = lbNode(lab);
    // Full NAT's default source: the LB's address on the segment its backends are on.
    const backends = new Set(backendNodes(lab));
    const backSeg = lab.topology.nodes
      .find((n) => backends.has(n.name))
      ?.ifaces.find((i) => lb.ifaces.some((l) => l.segment === i.segment))?.segment;
    const lbBack = lb.ifaces.find((i) => i.segment === backSeg);
    const snatV4 = opts.snatV4 ?? lbBack?.ipv4;
    const snatV6 = opts.snatV6 ?? lbBack?.ipv6;
    // tcpdump, the interface settings, the servers and the agent start side by side (the agent's
    // BPF load is the long pole); all are ready before the World is returned, so no traffic of the
    // scenario goes uncaptured. allSettled: nothing is still starting when a failure cleans up.
    const jobs: Promise<unknown>[] = [
      Capture.start(lab, { dir: opts.artifactsDir }).then((c) => (capture = c)),
      startServers(lab, [...backends]),
      startLabAgent(lab, {
        node: lb.name,
        ifaces: lb.ifaces.map((i) => i.ifname),
        hook: opts.hook,
        ...(snatV4 !== undefined ? { snatV4 } : {}),
        ...(snatV6 !== undefined ? { snatV6 } : {}),
        ...(opts.objectDir !== undefined ? { objectDir: opts.objectDir } : {}),
        extraArgs: agentArgs(opts.ctEntries),
      }).then((a) => (agent = a)),
    ];
    if (opts.hook === 'xdp') {
      // XDP_REDIRECT into a veth is delivered only when the peer has GRO on (or runs XDP), and
      // XDP cannot complete a CHECKSUM_PARTIAL packet: every sender's tx checksum offload goes off.
      jobs.push(lab.setGro(true));
      // XDP_TX (one-arm, ICMP errors built by the datapath) needs an XDP program on each peer.
      jobs.push(lab.attachPeerXdp(lb.name));
      // accept_local (a full-NAT packet XDP hands to the stack for neighbour resolution carries
      // the LB's own source) is the agent's job: its XDP attach sets it, as in production.
      for (const n of lab.topology.nodes) {
        if (n.name === lb.name) continue;
        for (const i of n.ifaces) if (i.offload) jobs.push(lab.setOffload(n.name, i.segment, false));
      }
    }
    // Drop diagnosis (docs/drops.md): a kernel tracer on every node's namespace for this run.
    startDrops();
    const failed = (await Promise.allSettled(jobs)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    if (agent === undefined || capture === undefined) throw new Error('lab world: the agent or the capture did not start');
    const pinDir: string = agent.pinDir;
    // The config as the agent wrote it, restored (but the clock) before every reused result.
    let initialConfig: Config | undefined;
    // Tracing on (and the scenario's timeouts) in the pinned config; the agent keeps running.
    updatePinnedConfig(pinDir, (cur) => {
      initialConfig = cur;
      return {
        flags: cur.flags | CFG_F.trace,
        timeouts_s: timeoutsArray(cur.timeouts_s, opts.timeoutsS ?? {}),
        ...flood(opts.newFlowRate),
      };
    });
    // Exactly one reason is counted per packet and, with tracing on, one event emitted: packets
    // counted from here on that never show up in the ring were lost to a full ring. The counters
    // a scenario sees start here too (a host's background packet while the lab came up or was
    // reset, e.g. an IPv6 router solicitation, is not the scenario's), as prog's do.
    let reasonsBeforeTrace = readReasons(pinDir);
    let lostReported = 0;
    traceMap = BpfMap.openPinned(path.join(pinDir, 'xlb_trace'));
    // Consumed from the event loop as records arrive (a full ring drops events); unref'd so an
    // unclosed World does not keep the process alive (the Lab's exit hooks remove the rest).
    ring = new RingBuffer(traceMap, (b) => {
      try {
        trace.push(toDpTraceEvent(traceEvent.decode(b)));
      } catch (e) {
        traceErrors.push((e as Error).message);
      }
    }).unref();
    let running: LabAgent = agent;
    let cap = capture;
    const ownNow = (): Set<number> => new Set(lab.processes().map((p) => p.pid));
    own = ownNow();
    /** This result's conntrack timeouts (reset() takes the next result's). */
    let timeouts = opts.timeoutsS ?? {};
    let newFlowRate = opts.newFlowRate;
    let alive = true;
    void running.process.exited.then(() => (alive = false));
    /** A scenario stopped servers or the agent: the World is not reused (its processes are not those it started). */
    let touched = false;
    const notParked = (what: string): void => {
      if (parked) throw new Error(`lab world: ${what} between two results (after close({ reuse: true }), before reset())`);
    };

    const world: LabWorld = {
      backend: 'lab',
      hook: opts.hook,
      topology: opts.topology,
      get reusable() {
        return reusable;
      },
      async apply(services: ServiceInput[]) {
        notParked('apply()');
        // A refusal throws the client's AgentApiError: the API's message, status and field errors.
        await running.client.replaceServices(services);
      },
      client: (node: string, req: ClientRequest) => runClient(lab, node, req, CLIENT_RUN),
      startClient: (node: string, req: ClientRequest) => startClient(lab, node, req, CLIENT_RUN),
      async inject(node, frames, o = {}) {
        await injectFrames(lab, node, lab.iface(node, o.segment).ifname, frames);
      },
      async advance(seconds: number) {
        if (!Number.isFinite(seconds) || seconds < 0)
          throw new Error(`advance(${seconds}): time only moves forward, by a finite number of seconds`);
        updatePinnedConfig(pinDir, (cur) => ({ clock_offset_ns: cur.clock_offset_ns + BigInt(Math.round(seconds * 1e9)) }));
      },
      async deleteConntrack(entry: Pick<DpCtEntry, 'key'>) {
        return deletePinnedCt(pinDir, entry.key);
      },
      async observe(): Promise<Observation> {
        // Counters first, then the ring: every packet counted has its event submitted by then.
        const now = readReasons(pinDir);
        const reasons = new Map([...now].map(([k, v]) => [k, v - (reasonsBeforeTrace.get(k) ?? 0)]));
        ring?.consume();
        drops?.summary();
        if (traceErrors.length > 0)
          throw new Error(`lab world: ${traceErrors.length} trace record(s) did not decode; first: ${traceErrors[0]}`);
        const lost = sumValues(reasons) - trace.length;
        if (lost > lostReported) {
          process.stderr.write(
            `lab world: the trace lost ${lost} event(s) so far (xlb_reasons counted more packets than xlb_trace delivered: the ring was full)\n`,
          );
          lostReported = lost;
        }
        const flows: DpFlow[] = (await running.client.conntrack({ limit: 1_000_000 })).entries.map(({ service: _name, ...f }) => f);
        return {
          conntrack: readCtEntries(pinDir),
          flows,
          counters: readDpCounters(pinDir),
          reasons,
          fwd: readFwdResults(pinDir),
          // Ring order is reservation order across CPUs, and each CPU read the (coarse) clock
          // before reserving: a stable sort by time gives datapath-time order, ring order within a tick.
          trace: [...trace].sort((a, b) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0)),
          links: [],
        };
      },
      captures: () =>
        (captured ??= (async () => {
          const stats = await cap.stop();
          // (`cap` may be replaced by reset(); this result's capture is the one stopped.)
          drops?.summary();
          const lost = stats.filter((s) => s.droppedByKernel > 0);
          if (lost.length > 0)
            process.stderr.write(
              `lab world: tcpdump lost packets: ${lost.map((s) => `${s.node}/${s.segment} ${s.droppedByKernel}`).join(', ')}\n`,
            );
          return Promise.all(
            cap.files.map(async (f): Promise<LinkCapture> => {
              const pcap = await readPcapFile(f.path);
              const packets = pcap.records.map((rec) => ({ timeMs: rec.tsSec * 1000 + rec.tsNsec / 1e6 - startMs, frame: rec.data }));
              return { node: f.node, ifname: f.ifname, segment: f.segment, pcapPath: f.path, packets };
            }),
          );
        })()),
      async close(o?: { reuse?: boolean }) {
        if (o?.reuse !== true || closing !== undefined || kept) return close();
        if (parked) return undefined;
        // This result is over: its artifacts are written, the lab stays up for the next one
        // unless something of the result still runs (a client never awaited) or the agent died.
        await (captured ?? stopCapture()).catch(() => undefined);
        await dumpPinnedMaps(pinDir, path.join(artifactsDir, 'maps')).catch(() => undefined);
        writeFileSync(path.join(artifactsDir, 'agent.log'), agentLog(running));
        parked = true;
        const stray = lab.processes().filter((p) => !own.has(p.pid));
        reusable = alive && !touched && stray.length === 0;
        if (!reusable) return close();
        return undefined;
      },
      async reset(next: WorldOptions) {
        if (!parked || !reusable || closing !== undefined)
          throw new Error('lab world: reset() needs a World parked by close({ reuse: true })');
        if (!alive) throw new Error('lab world: the agent exited: this World cannot be reused');
        if (next.hook !== opts.hook) throw new Error(`lab world: reset() to hook ${next.hook} of a ${opts.hook} World`);
        const t0 = Date.now();
        const mark = (what: string): void => {
          if (process.env.XLB_DEBUG === '1') process.stderr.write(`lab world reset: ${what} at ${Date.now() - t0} ms\n`);
        };
        await running.client.replaceServices([]);
        mark('services removed');
        resetPinnedMaps(pinDir);
        mark('maps reset');
        const base = initialConfig;
        updatePinnedConfig(pinDir, (cur) => ({
          ...(base ?? cur),
          clock_offset_ns: cur.clock_offset_ns,
          flags: (base ?? cur).flags | CFG_F.trace,
          timeouts_s: timeoutsArray((base ?? cur).timeouts_s, next.timeoutsS ?? {}),
          ...flood(next.newFlowRate),
        }));
        timeouts = next.timeoutsS ?? {};
        newFlowRate = next.newFlowRate;
        await resetHosts(lab, lb.name);
        mark('hosts reset');
        ring?.consume();
        trace.length = 0;
        traceErrors.length = 0;
        lostReported = 0;
        reasonsBeforeTrace = readReasons(pinDir);
        artifactsDir = next.artifactsDir;
        mkdirSync(artifactsDir, { recursive: true });
        capture = cap = await Capture.start(lab, { dir: artifactsDir });
        mark('tcpdump started');
        captured = undefined;
        drops?.clear();
        agentOut = { stdout: running.process.stdout().length, stderr: running.process.stderr().length };
        own = ownNow();
        startMs = Date.now();
        parked = false;
        reusable = false;
      },
      processes: {
        async stopServers(node: string) {
          touched = true;
          const procs = lab.processes().filter((p) => p.node === node && p.command.includes('server.ts'));
          if (procs.length === 0) throw new Error(`lab world: no traffic server runs on '${node}'`);
          await Promise.all(procs.map((p) => p.stop()));
        },
        async startServers(node: string) {
          touched = true;
          await startServers(lab, [node]);
        },
        async killAgent() {
          touched = true;
          running.process.signal('SIGKILL');
          await running.process.exited;
        },
        async restartAgent() {
          touched = true;
          running = await running.restart();
          agent = running;
          // The restarted agent writes its own config: tracing (and this result's timeouts) on again.
          updatePinnedConfig(pinDir, (cur) => ({
            flags: cur.flags | CFG_F.trace,
            timeouts_s: timeoutsArray(cur.timeouts_s, timeouts),
            ...flood(newFlowRate),
          }));
        },
      },
      drops: () => drops?.summary(),
      keep() {
        if (closing !== undefined) throw new Error('lab world: keep() after close(): the lab is gone');
        kept = true;
        drops?.close();
        ring?.close();
        traceMap?.close();
        writeFileSync(path.join(artifactsDir, 'agent.log'), agentLog(running));
        lab.release();
        return [
          `lab ${lab.name} (id ${lab.id}) kept running: agent pid ${running.process.pid} in ${lab.netns(lb.name)}, maps in ${pinDir}, pcaps and agent output in ${artifactsDir}`,
          `  look:   xlb lab exec --name ${lab.name} ${lb.name} -- ${XLB} ct ls      (or any other node of the lab)`,
          `  remove: xlb lab down --name ${lab.name}`,
        ].join('\n');
      },
    };
    return world;
  } catch (e) {
    await close().catch(() => undefined);
    throw new Error(
      `lab world (${opts.hook}, topology ${opts.topology.name}, lab ${lab.name} id ${lab.id}) could not start and was removed: ${(e as Error).message}`,
    );
  }
}
