// The World: what a scenario runs against, one implementation per backend.
//   sim   src/harness/virtual/ (virtual hosts and links) around the model (src/model)
//   prog  the same virtual hosts and links around the real BPF programs (BPF_PROG_TEST_RUN)
//   lab   src/harness/lab-world.ts: a real Lab, the real `xlb agent`, real traffic tools, tcpdump
// A scenario only ever talks to a World, so it reads the same on every backend, and every World
// returns observations of the same shape (Observation), which is what the assertions and the
// differential check compare.
import type { DpCounters, DpFlow } from '../controller/datapath.ts';
import type { Service } from '../controller/types.ts';
import type { DpCtEntry, DpTraceEvent, Hook } from '../datapath/packet-datapath.ts';
import type { FwdResultName, ReasonName } from '../schema/maps.ts';
import type { ClientReport, ClientRequest } from '../traffic/types.ts';
import type { TopologySpec } from '../topology/topology.ts';
import type { DropSummary } from './drops/summary.ts';

export type BackendName = 'sim' | 'prog' | 'lab';
export const BACKENDS: readonly BackendName[] = ['sim', 'prog', 'lab'];
export const HOOKS: readonly Hook[] = ['tc', 'xdp'];

/** A service as a scenario declares it: the controller's Service with its defaults optional. */
export type ServiceInput = Omit<Service, 'deadFlowPolicy' | 'endpoints'> & {
  deadFlowPolicy?: Service['deadFlowPolicy'];
  endpoints: (Omit<Service['endpoints'][number], 'weight' | 'active'> & { weight?: number; active?: boolean })[];
};

export interface WorldOptions {
  backend: BackendName;
  hook: Hook;
  topology: TopologySpec;
  /** Seed of every random choice the World makes (virtual hosts' ISNs, ephemeral ports, …). */
  seed: number;
  /** Folder for this result's artifacts (pcaps, logs); created by the runner. */
  artifactsDir: string;
  /** Full-NAT source addresses of the LB (the scenario's topology decides them). */
  snatV4?: string;
  snatV6?: string;
  /** Per-state conntrack timeouts (seconds) for this scenario. */
  timeoutsS?: Partial<Record<string, number>>;
  /** Size of the conntrack map (the scenario's ctEntries). */
  ctEntries?: number;
  /** The flood guard's rate for this scenario (new flows per second per CPU; 0: off). */
  newFlowRate?: number;
  /** Extra run id suffix for the lab's names (parallel runs). */
  runId?: string;
  /** prog/lab: load the BPF objects from this folder (a mutated build) instead of build/bpf. */
  objectDir?: string;
  /** sim: deliberate faults switched on in the model (the harness's self-test). */
  modelFaults?: string[];
}

/** One captured packet on one link. */
export interface CapturedPacket {
  /** Milliseconds since the World started (virtual time on sim/prog). */
  timeMs: number;
  frame: Buffer;
}

/** Every packet seen on one interface of a node (both directions). */
export interface LinkCapture {
  node: string;
  ifname: string;
  segment: string;
  /** The pcap file, when one was written (always on sim/prog and lab). */
  pcapPath?: string;
  packets: CapturedPacket[];
}

/** Everything a World can say about what happened, in one shape on every backend. */
export interface Observation {
  /** Raw conntrack entries (two per flow). */
  conntrack: DpCtEntry[];
  /** Flows merged (one per connection), as the controller lists them. */
  flows: DpFlow[];
  counters: DpCounters;
  /** Cumulative packets per reason since the World started. */
  reasons: Map<ReasonName, number>;
  fwd: Map<FwdResultName, number>;
  /** Trace events since the World started, in order. */
  trace: DpTraceEvent[];
  /** Captures per link; filled by `captures()` (stopping them on lab). */
  links: LinkCapture[];
}

/** A client whose rounds the scenario triggers (change things between rounds). */
export interface SteppedTraffic {
  /** Lets the next round run and resolves once it has finished. */
  next(): Promise<void>;
  /** Waits for the end (after the last round and hold) and returns the report. */
  report(): Promise<ClientReport>;
}

export interface World {
  readonly backend: BackendName;
  readonly hook: Hook;
  readonly topology: TopologySpec;
  /** Replaces the whole desired state through the controller (the REST API on lab). Throws the controller's error. */
  apply(services: ServiceInput[]): Promise<void>;
  /** Runs a traffic client from `node` to completion. */
  client(node: string, req: ClientRequest): Promise<ClientReport>;
  /** Starts a client whose rounds after the first wait for next(). */
  startClient(node: string, req: ClientRequest): Promise<SteppedTraffic>;
  /** Sends raw Ethernet frames out of `node`'s interface on `segment` (default: its first). */
  inject(node: string, frames: Uint8Array[], opts?: { segment?: string }): Promise<void>;
  /** Moves time forward: the datapath clock (and the virtual hosts' on sim/prog). No wall time on sim/prog. */
  advance(seconds: number): Promise<void>;
  /** Deletes one conntrack entry (a lost side of a flow). */
  deleteConntrack(entry: Pick<DpCtEntry, 'key'>): Promise<boolean>;
  /** Conntrack, counters, reasons, trace so far (links empty). */
  observe(): Promise<Observation>;
  /** Stops capturing (lab) and returns every link's packets. Call once, at the end. */
  captures(): Promise<LinkCapture[]>;
  /**
   * Ends the World. `reuse`: the result is over but the World may serve another one (the lab's
   * pool, src/harness/lab-pool.ts); Worlds that cannot be reused close as without it.
   */
  close(opts?: { reuse?: boolean }): Promise<void>;
  /**
   * lab only: leave everything running for a person to look at (--keep-on-fail) and say how to
   * enter it and how to remove it; close() must not be called afterwards.
   */
  keep?(): string;
  /** lab only: the servers and the agent as processes (a World using them is never reused for another result). */
  processes?: LabProcesses;
  /** lab only: where the kernel dropped packets in the lab's namespaces so far, and why (docs/drops.md). */
  drops?(): DropSummary | undefined;
}

/** lab only: the real processes behind a World, for scenarios about them (health checks, agent crashes). */
export interface LabProcesses {
  /** Stops the traffic servers of a backend node (its ports close; health checks start failing). */
  stopServers(node: string): Promise<void>;
  /** Starts them again; resolves once they listen. */
  startServers(node: string): Promise<void>;
  /** SIGKILL to the agent: nothing of it is cleaned up; the programs stay attached, the maps pinned. */
  killAgent(): Promise<void>;
  /** Starts the agent again over the same pins and config file (as a supervisor would); resolves once its API answers. */
  restartAgent(): Promise<void>;
}

export type WorldFactory = (opts: WorldOptions) => Promise<World>;
