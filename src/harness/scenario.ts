// The scenario API: a scenario is a TypeScript module whose default export is `scenario({...})`.
// It declares its topology, its services, which backends and hooks it means something on (and
// why not where it does not), and a `run` function that sends traffic and states expectations
// through the context. The same module runs on sim, prog and lab; the runner opens one World per
// backend × hook and compares their observations afterwards (the differential check).
import { FEATURE_NAMES, isKernelFeature } from '../datapath/kernel-features.ts';
import type { KernelFeature } from '../datapath/kernel-features.ts';
import type { Hook } from '../datapath/packet-datapath.ts';
import type { CtStateName, ReasonName } from '../schema/maps.ts';
import type { ClientReport, ClientRequest } from '../traffic/types.ts';
import type { TopologySpec } from '../../lab/topology.ts';
import type { Expect } from './expect.ts';
import type { TopoInfo } from './topo.ts';
import type { BackendName, LinkCapture, Observation, ServiceInput, SteppedTraffic, World } from './world.ts';

/** `true`: applies; a string: does not apply, and this is why (the report shows it). */
export type Applicability = true | string;

export interface ScenarioDef {
  /** Shown in reports; default: the file's path under scenarios/ without extension. */
  name?: string;
  /** One or two sentences: what is checked and why it matters. */
  description: string;
  /** Default: two-arm, 1 client, 3 backends, dual stack (src/harness/topo.ts). */
  topology?: TopologySpec;
  /** The desired state applied before `run` (through the controller / the agent's REST API). */
  services: ServiceInput[] | ((topo: TopoInfo) => ServiceInput[]);
  /** Where it applies. Default: every backend and hook. */
  backends?: Partial<Record<BackendName, Applicability>>;
  hooks?: Partial<Record<Hook, Applicability>>;
  /**
   * Kernel features this scenario needs beyond the datapath's own (src/datapath/kernel-features.ts).
   * On prog and lab, a kernel that lacks one skips the scenario with the reason, never fails it.
   */
  requires?: KernelFeature[];
  /** Conntrack timeouts (seconds) for this scenario, by state. */
  timeoutsS?: Partial<Record<CtStateName, number>>;
  /** Size of the conntrack map (entries, two per flow) for this scenario; default: the backend's (4096 on sim/prog, 65536 on lab). */
  ctEntries?: number;
  /** The flood guard's rate (docs/datapath.md "Flood guard"; default 125,000 per second per CPU). */
  newFlowRate?: number;
  /** Drop reasons this scenario expects; any other drop fails it. */
  allowDrops?: ReasonName[];
  /**
   * The differential check across backends (default on). `false` with a reason in
   * `differentialOff` when backends may legitimately differ in what is compared.
   */
  differential?: boolean;
  differentialOff?: string;
  /** Per-result timeout, ms (default 30 s; lab results get 3× this). */
  timeoutMs?: number;
  run(ctx: ScenarioContext): Promise<void>;
}

export interface Scenario extends ScenarioDef {
  readonly kind: 'xlb-scenario';
}

/** What `run` gets: the World, the expectations, and conveniences that record for the reports. */
export interface ScenarioContext {
  readonly backend: BackendName;
  readonly hook: Hook;
  readonly seed: number;
  readonly topo: TopoInfo;
  readonly world: World;
  readonly expect: Expect;
  /** Runs a traffic client from `node` (default: the first client) and records its report. */
  client(req: ClientRequest, node?: string): Promise<ClientReport>;
  startClient(req: ClientRequest, node?: string): Promise<SteppedTraffic>;
  /** Re-applies a desired state (a configuration change during the scenario). */
  apply(services: ServiceInput[]): Promise<void>;
  /** Moves the datapath clock (and the virtual hosts' on sim/prog) forward. */
  advance(seconds: number): Promise<void>;
  observe(): Promise<Observation>;
  /** Every link's packets; stops the captures (lab), so call it after the traffic. Memoized. */
  captures(): Promise<LinkCapture[]>;
  /** A line in the result's log (shown on failure). */
  log(message: string): void;
}

export function scenario(def: ScenarioDef): Scenario {
  if (typeof def.run !== 'function') throw new Error('scenario(): `run` must be a function (async ({ world, expect }) => { … })');
  if (typeof def.description !== 'string' || def.description === '')
    throw new Error('scenario(): give a `description`: what is checked and why');
  const unknown = (def.requires ?? []).filter((f) => !isKernelFeature(f));
  if (unknown.length > 0)
    throw new Error(`scenario(): requires ${unknown.join(', ')}: not a kernel feature (known: ${FEATURE_NAMES.join(', ')})`);
  return { ...def, kind: 'xlb-scenario' };
}

export function isScenario(v: unknown): v is Scenario {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'xlb-scenario';
}

/** Endpoints on every backend of a topology at one port (the traffic servers' defaults: tcp 7000, udp 7001, http 80). */
export function backendEndpoints(topo: TopoInfo, port: number, family: 4 | 6 = 4): ServiceInput['endpoints'] {
  return topo.backends.map((b) => {
    const ip = family === 4 ? b.ipv4 : b.ipv6;
    if (ip === undefined) throw new Error(`backend '${b.name}' has no IPv${family} address in this topology`);
    return { ip, port };
  });
}
