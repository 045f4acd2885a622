// The `lab` World: a real network-namespace Lab (lab/lab.ts) built from the scenario's topology,
// the real `xlb agent` in the LB's namespace (programmed through its REST API), the real traffic
// tools (lab/traffic), tcpdump on every node interface from the start, and the datapath's pinned
// maps read directly for observations (conntrack, counters, the trace ring buffer). See
// docs/harness-lab.md for what differs from sim/prog (time, seeds, timing).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { BpfMap, RingBuffer } from '../bpf/index.ts';
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
import { deletePinnedCt, readCtEntries, readDpCounters, readFwdResults, readReasons, toDpTraceEvent, updatePinnedConfig } from '../../lab/lb-maps.ts';
import { backendNodes, injectFrames, runClient, startClient, startServers } from '../../lab/traffic/tools.ts';
import type { ResolvedNode } from '../../lab/topology.ts';
import { startLabDrops } from './drops/index.ts';
import type { LabDrops } from './drops/index.ts';
import type { LinkCapture, Observation, ServiceInput, World, WorldOptions } from './world.ts';

/** Map sizes of the lab's agent: room for thousands of connections, the prog backend's service-id space. */
const AGENT_ARGS = ['--ct-entries', '65536', '--max-services', '64'];

/**
 * Clients run on CPU 0: the datapath keeps per-CPU state (the rr/wrr cursor), and sim/prog have
 * one CPU, so a scenario's "round robin over 3 backends" means the same sequence everywhere.
 */
const CLIENT_RUN = { cpu: 0 };

/** The lab's name: carries the scenario's runId (when given) and a random part (unique per World). */
export function labWorldName(opts: Pick<WorldOptions, 'hook' | 'runId'>): string {
  const run = opts.runId ?? '';
  if (run !== '' && !/^[A-Za-z0-9_.-]{1,40}$/.test(run)) throw new Error(`lab world: runId '${run}' must be 1-40 characters [A-Za-z0-9_.-] (it is part of the lab's name)`);
  return ['world', opts.hook, ...(run !== '' ? [run] : []), randomBytes(3).toString('hex')].join('-');
}

/** The one LB node of a topology: its vip.lb, else the only node with role 'lb'. */
function lbNode(lab: Lab): ResolvedNode {
  const named = lab.topology.spec.vip?.lb;
  if (named !== undefined) return lab.node(named);
  const lbs = lab.topology.nodes.filter((n) => n.role === 'lb');
  if (lbs.length !== 1) throw new Error(`lab world: topology '${lab.topology.spec.name}' has ${lbs.length} nodes with role 'lb' and no vip.lb: name the LB node in vip.lb`);
  return lbs[0] as ResolvedNode;
}

/** Per-state timeouts as xlb_config.timeouts_s (index = CT_STATE), unknown state names refused. */
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
  for (const m of DUMPED_MAPS) {
    const r = await execa('bpftool', ['-j', 'map', 'dump', 'pinned', path.join(pinDir, m)], { reject: false });
    writeFileSync(path.join(dir, `${m}.json`), r.exitCode === 0 ? r.stdout : JSON.stringify({ error: `bpftool map dump pinned ${m} failed: ${r.stderr}` }));
  }
}

export async function createLabWorld(opts: WorldOptions): Promise<World> {
  if (opts.backend !== 'lab') throw new Error(`createLabWorld: backend '${opts.backend}' is not 'lab'`);
  const startMs = Date.now();
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

  const stopCapture = async (): Promise<CaptureStats[]> => (capture === undefined ? [] : capture.stop());
  const close = (): Promise<void> => {
    if (kept) return Promise.reject(new Error(`lab world: close() after keep(): the lab ${lab.name} stays up; remove it with xlb lab down --name ${lab.name}`));
    closing ??= (async () => {
      drops?.close();
      ring?.close();
      traceMap?.close();
      const errors: string[] = [];
      await stopCapture().catch((e: unknown) => errors.push(`stopping tcpdump: ${(e as Error).message}`));
      if (agent !== undefined) {
        // The maps a person looks at first, as bpftool shows them (BTF field names), while the pins exist.
        await dumpPinnedMaps(agent.pinDir, path.join(opts.artifactsDir, 'maps')).catch((e: unknown) => errors.push(`dumping the maps: ${(e as Error).message}`));
        await agent.stop().catch((e: unknown) => errors.push(`stopping the agent: ${(e as Error).message}`));
        // The agent's log next to the pcaps: what it did with every request.
        writeFileSync(path.join(opts.artifactsDir, 'agent.log'), agent.process.stdout() + agent.process.stderr());
      }
      // Processes, namespaces, pins (/sys/fs/bpf/xlb/<id>) and the state file.
      await lab.close();
      if (errors.length > 0) throw new Error(`lab world close: ${errors.join('; ')}`);
    })();
    return closing;
  };

  try {
    const lb = lbNode(lab);
    // Full NAT's default source: the LB's address on the segment its backends are on.
    const backends = new Set(backendNodes(lab));
    const backSeg = lab.topology.nodes.find((n) => backends.has(n.name))?.ifaces.find((i) => lb.ifaces.some((l) => l.segment === i.segment))?.segment;
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
        extraArgs: AGENT_ARGS,
      }).then((a) => (agent = a)),
    ];
    if (opts.hook === 'xdp') {
      // XDP_REDIRECT into a veth is delivered only when the peer has GRO on (or runs XDP), and
      // XDP cannot complete a CHECKSUM_PARTIAL packet: every sender's tx checksum offload goes off.
      jobs.push(lab.setGro(true));
      // accept_local (a full-NAT packet XDP hands to the stack for neighbour resolution carries
      // the LB's own source) is the agent's job: its XDP attach sets it, as in production.
      for (const n of lab.topology.nodes) {
        if (n.name === lb.name) continue;
        for (const i of n.ifaces) if (i.offload) jobs.push(lab.setOffload(n.name, i.segment, false));
      }
    }
    // Drop diagnosis (docs/drops.md): a kernel tracer on every node's namespace for this run.
    try {
      drops = startLabDrops([...lab.topology.nodes.map((n) => ({ node: n.name, netns: n.netns })), ...lab.topology.switches.map((sw) => ({ node: sw.name, netns: sw.netns }))]);
    } catch (e) {
      process.stderr.write(`lab world: drop diagnosis is off for this run: ${(e as Error).message}\n`);
    }
    const failed = (await Promise.allSettled(jobs)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    if (agent === undefined || capture === undefined) throw new Error('lab world: the agent or the capture did not start');
    const pinDir: string = agent.pinDir;
    // Tracing on (and the scenario's timeouts) in the pinned config; the agent keeps running.
    updatePinnedConfig(pinDir, (cur) => ({ flags: cur.flags | CFG_F.trace, timeouts_s: timeoutsArray(cur.timeouts_s, opts.timeoutsS ?? {}), ...(opts.newFlowRate === undefined ? {} : { new_flow_rate: opts.newFlowRate }) }));
    // Exactly one reason is counted per packet and, with tracing on, one event emitted: packets
    // counted from here on that never show up in the ring were lost to a full ring.
    const packetsBeforeTrace = sumValues(readReasons(pinDir));
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
    const running = agent;
    const cap = capture;

    const world: World = {
      backend: 'lab',
      hook: opts.hook,
      topology: opts.topology,
      async apply(services: ServiceInput[]) {
        // A refusal throws the client's AgentApiError: the API's message, status and field errors.
        await running.client.replaceServices(services);
      },
      client: (node: string, req: ClientRequest) => runClient(lab, node, req, CLIENT_RUN),
      startClient: (node: string, req: ClientRequest) => startClient(lab, node, req, CLIENT_RUN),
      async inject(node, frames, o = {}) {
        await injectFrames(lab, node, lab.iface(node, o.segment).ifname, frames);
      },
      async advance(seconds: number) {
        if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`advance(${seconds}): time only moves forward, by a finite number of seconds`);
        updatePinnedConfig(pinDir, (cur) => ({ clock_offset_ns: cur.clock_offset_ns + BigInt(Math.round(seconds * 1e9)) }));
      },
      async deleteConntrack(entry: Pick<DpCtEntry, 'key'>) {
        return deletePinnedCt(pinDir, entry.key);
      },
      async observe(): Promise<Observation> {
        // Counters first, then the ring: every packet counted has its event submitted by then.
        const reasons = readReasons(pinDir);
        ring?.consume();
        drops?.summary();
        if (traceErrors.length > 0) throw new Error(`lab world: ${traceErrors.length} trace record(s) did not decode; first: ${traceErrors[0]}`);
        const lost = sumValues(reasons) - packetsBeforeTrace - trace.length;
        if (lost > lostReported) {
          process.stderr.write(`lab world: the trace lost ${lost} event(s) so far (xlb_reasons counted more packets than xlb_trace delivered: the ring was full)\n`);
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
          drops?.summary();
          const lost = stats.filter((s) => s.droppedByKernel > 0);
          if (lost.length > 0) process.stderr.write(`lab world: tcpdump lost packets: ${lost.map((s) => `${s.node}/${s.segment} ${s.droppedByKernel}`).join(', ')}\n`);
          return Promise.all(
            cap.files.map(async (f): Promise<LinkCapture> => {
              const pcap = await readPcapFile(f.path);
              const packets = pcap.records.map((rec) => ({ timeMs: rec.tsSec * 1000 + rec.tsNsec / 1e6 - startMs, frame: rec.data }));
              return { node: f.node, ifname: f.ifname, segment: f.segment, pcapPath: f.path, packets };
            }),
          );
        })()),
      close,
      drops: () => drops?.summary(),
      keep() {
        if (closing !== undefined) throw new Error('lab world: keep() after close(): the lab is gone');
        kept = true;
        drops?.close();
        ring?.close();
        traceMap?.close();
        writeFileSync(path.join(opts.artifactsDir, 'agent.log'), running.process.stdout() + running.process.stderr());
        lab.release();
        return [
          `lab ${lab.name} (id ${lab.id}) kept running: agent pid ${running.process.pid} in ${lab.netns(lb.name)}, maps in ${pinDir}, pcaps and agent output in ${opts.artifactsDir}`,
          `  look:   xlb lab exec --name ${lab.name} ${lb.name} -- ${XLB} ct ls      (or any other node of the lab)`,
          `  remove: xlb lab down --name ${lab.name}`,
        ].join('\n');
      },
    };
    return world;
  } catch (e) {
    await close().catch(() => undefined);
    throw new Error(`lab world (${opts.hook}, topology ${opts.topology.name}, lab ${lab.name} id ${lab.id}) could not start and was removed: ${(e as Error).message}`);
  }
}
