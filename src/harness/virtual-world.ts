// The World of the sim and prog backends: the virtual network (src/harness/virtual/) around a
// datapath under test on the LB node. Which datapath answers is the only difference:
//   sim   createVirtualWorld(opts, openModelDatapath)   (src/model)
//   prog  createVirtualWorld(opts, openProgDatapath)    (src/datapath/prog-datapath.ts)
// The desired state goes through the real Controller over the datapath's control interface, as
// the agent does; traffic comes from the lab's client logic on virtual hosts; time is virtual and
// moves the datapath clock with it, step for step (a packet at virtual time T meets a datapath
// whose clock has moved T since the World opened).
//
// `open` gets the hook, the settings (trace on, full-NAT sources, timeouts), the object path
// (WorldOptions.objectDir, prog) and the faults (WorldOptions.modelFaults, sim). Anything else a
// datapath wants (the model's `seed` for `random`) the caller closes over:
//   createVirtualWorld(opts, (o) => openModelDatapath({ ...o, seed: opts.seed }))
import { join } from 'node:path';
import { Controller } from '../controller/controller.ts';
import type { DatapathUnderTest, DpTraceEvent, FrameResult, OpenDatapathOptions } from '../datapath/packet-datapath.ts';
import type { CtStateName } from '../schema/maps.ts';
import { clientOptions } from '../traffic/types.ts';
import type { ClientReport, ClientRequest } from '../traffic/types.ts';
import type { TopologySpec } from '../topology/topology.ts';
import { runVirtualClient } from './virtual/client.ts';
import { attachDatapath } from './virtual/lb.ts';
import type { LbEvent } from './virtual/lb.ts';
import { VirtualNetwork } from './virtual/net.ts';
import type { NetworkOptions } from './virtual/net.ts';
import type { BackendName, LinkCapture, Observation, ServiceInput, SteppedTraffic, World, WorldOptions } from './world.ts';
import type { Hook } from '../datapath/packet-datapath.ts';

export type OpenDatapath = (o: OpenDatapathOptions) => DatapathUnderTest;

/** Knobs of the virtual network beyond WorldOptions (tests, benchmarks). */
export type VirtualWorldExtras = Pick<NetworkOptions, 'linkDelayUs' | 'timeWaitMs'>;

/** The LB node of a topology: the one the VIPs are routed to, else the only node with role lb. */
function lbNodeOf(t: TopologySpec): string {
  if (t.vip !== undefined) return t.vip.lb;
  const lbs = t.nodes.filter((n) => n.role === 'lb');
  if (lbs.length !== 1 || lbs[0] === undefined) {
    throw new Error(
      `topology '${t.name}': give a vip.lb, or exactly one node with role lb (found ${lbs.length}), so the virtual world knows where the datapath runs`,
    );
  }
  return lbs[0].name;
}

export class VirtualWorld implements World {
  readonly backend: BackendName;
  readonly hook: Hook;
  readonly topology: TopologySpec;
  readonly net: VirtualNetwork;
  readonly dut: DatapathUnderTest;
  readonly controller: Controller;
  readonly lbNode: string;
  /** Every frame the datapath saw, with the interface it really arrived on. */
  readonly events: LbEvent[] = [];
  readonly #trace: DpTraceEvent[] = [];
  #closed = false;

  constructor(opts: WorldOptions, open: OpenDatapath, extras: VirtualWorldExtras = {}) {
    this.backend = opts.backend;
    this.hook = opts.hook;
    this.topology = opts.topology;
    this.net = new VirtualNetwork(opts.topology, { seed: opts.seed, artifactsDir: opts.artifactsDir, ...extras });
    this.lbNode = lbNodeOf(opts.topology);
    const lb = this.net.node(this.lbNode);
    // Full NAT's source addresses: the LB's own address on the segment its backends are on.
    const backendSeg = lb.ifaces.find((i) => i.segment.members.some((m) => this.net.node(m.node).role === 'backend')) ?? lb.ifaces[0];
    const snatV4 = opts.snatV4 ?? backendSeg?.ipv4;
    const snatV6 = opts.snatV6 ?? backendSeg?.ipv6;
    const settings: NonNullable<OpenDatapathOptions['settings']> = { trace: true };
    if (snatV4 !== undefined) settings.snatV4 = snatV4;
    if (snatV6 !== undefined) settings.snatV6 = snatV6;
    if (opts.timeoutsS !== undefined) settings.timeoutsS = opts.timeoutsS as Partial<Record<CtStateName, number>>;
    if (opts.newFlowRate !== undefined) settings.newFlowRate = opts.newFlowRate;
    const openOpts: OpenDatapathOptions = { hook: opts.hook, settings };
    if (opts.ctEntries !== undefined) openOpts.ctEntries = opts.ctEntries;
    if (opts.objectDir !== undefined) openOpts.objectPath = join(opts.objectDir, `xlb_${opts.hook}.bpf.o`);
    if (opts.modelFaults !== undefined) openOpts.faults = opts.modelFaults;
    this.dut = open(openOpts);
    try {
      this.controller = new Controller(this.dut.control);
      attachDatapath(
        lb,
        this.dut.packets,
        (e) => {
          this.events.push(e);
          this.#trace.push(e.result.trace);
        },
        (r) => this.#dsrEndpoint(r),
      );
    } catch (e) {
      this.dut.close();
      throw e;
    }
    this.net.clock.onAdvance = (fromUs, toUs) => this.dut.packets.advance((toUs - fromUs) / 1000);
  }

  /** Endpoint address per service id and slot, of DSR services only (cleared by apply()). */
  #dsr: Map<number, string[]> | undefined;

  /** The endpoint of a DSR flow's packet (where the program's FIB lookup pointed), else undefined. */
  #dsrEndpoint(r: FrameResult): string | undefined {
    const { serviceId, endpointSlot } = r.trace;
    if (serviceId <= 0 || endpointSlot < 0) return undefined;
    if (this.#dsr === undefined) {
      this.#dsr = new Map();
      for (const s of this.dut.control.listServices()) {
        if (s.mode !== 'dsr') continue;
        this.#dsr.set(
          s.id,
          this.dut.control.readEndpoints(s.id, s.generation, s.endpointCount).map((e) => e.ip),
        );
      }
    }
    return this.#dsr.get(serviceId)?.[endpointSlot] || undefined;
  }

  get clock(): VirtualNetwork['clock'] {
    return this.net.clock;
  }

  async apply(services: ServiceInput[]): Promise<void> {
    // The controller validates and fills the defaults (deadFlowPolicy keep, weight 1, active
    // true) exactly as for the agent's config file; its errors reach the scenario unchanged.
    this.#dsr = undefined;
    this.controller.load({ services });
    await Promise.resolve();
  }

  async client(node: string, req: ClientRequest): Promise<ClientReport> {
    const n = this.net.node(node);
    const r = await this.clock.runUntilSettled(runVirtualClient(n, clientOptions(req)), `the client on ${node}`);
    // The client is done when its last segment leaves (the final ACK of a close): let what is on
    // the wire arrive, as it has on a real link by the time the lab's client process has exited.
    await this.clock.settle(`the last packets of the client on ${node}`);
    return r;
  }

  async startClient(node: string, req: ClientRequest): Promise<SteppedTraffic> {
    const n = this.net.node(node);
    const clock = this.clock;
    let gate: (() => void) | undefined;
    let blocked: () => void = () => undefined;
    let blockedP = new Promise<void>((r) => (blocked = r));
    const nextRound = (): Promise<void> =>
      new Promise<void>((r) => {
        gate = r;
        blocked();
      });
    const reportP = runVirtualClient(n, clientOptions({ ...req, waitStdin: true }), nextRound);
    reportP.catch(() => undefined);
    const done = reportP.then(() => undefined);
    const untilBlockedOrDone = (what: string): Promise<void> => clock.runUntilSettled(Promise.race([done, blockedP]), what);
    const release = async (what: string): Promise<void> => {
      const g = gate;
      if (g === undefined) return;
      gate = undefined;
      blockedP = new Promise<void>((r) => (blocked = r));
      g();
      await untilBlockedOrDone(what);
    };
    await untilBlockedOrDone(`the first round of the client on ${node}`);
    return {
      next: async () => {
        if (gate === undefined)
          throw new Error(`client on ${node}: no round is waiting (it has run all its ${req.rounds ?? 1} round(s)); call report()`);
        await release(`a round of the client on ${node}`);
      },
      report: async () => {
        // Rounds nobody asked for run now, one after the other, like a closed stdin would.
        while (gate !== undefined) await release(`the remaining rounds of the client on ${node}`);
        const r = await clock.runUntilSettled(reportP, `the end of the client on ${node}`);
        await clock.settle(`the last packets of the client on ${node}`);
        return r;
      },
    };
  }

  async inject(node: string, frames: Uint8Array[], opts: { segment?: string } = {}): Promise<void> {
    const iface = this.net.iface(node, opts.segment);
    for (const f of frames) iface.transmit(Buffer.from(f));
    await this.clock.settle(`delivering ${frames.length} injected frame(s) from ${node}`);
  }

  async advance(seconds: number): Promise<void> {
    if (!(seconds >= 0)) throw new Error(`advance(${seconds}): give a number of seconds >= 0`);
    await this.clock.runForAsync(seconds * 1000);
  }

  async deleteConntrack(entry: Pick<Observation['conntrack'][number], 'key'>): Promise<boolean> {
    return Promise.resolve(this.dut.packets.deleteConntrack(entry.key));
  }

  async observe(): Promise<Observation> {
    const p = this.dut.packets;
    return Promise.resolve({
      conntrack: p.conntrack(),
      flows: this.dut.control.listFlows(),
      counters: this.dut.control.counters(),
      reasons: p.reasons(),
      fwd: p.fwdResults(),
      trace: [...this.#trace],
      links: [],
    });
  }

  async captures(): Promise<LinkCapture[]> {
    return Promise.resolve(this.net.captures());
  }

  async close(opts?: { reuse?: boolean }): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.net.close();
    // A passed result's datapath may serve the next one (prog's pool, src/harness/prog-pool.ts).
    this.dut.close(opts?.reuse === true ? { reuse: true } : undefined);
    await Promise.resolve();
  }
}

/** The World of sim (open = openModelDatapath) and prog (open = openProgDatapath). */
export async function createVirtualWorld(opts: WorldOptions, open: OpenDatapath, extras: VirtualWorldExtras = {}): Promise<World> {
  if (opts.backend === 'lab') throw new Error(`createVirtualWorld is the sim/prog World; the lab backend is src/harness/lab-world.ts`);
  return Promise.resolve(new VirtualWorld(opts, open, extras));
}
