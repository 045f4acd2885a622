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
import type { TopologySpec } from '../topology/topology.ts';
import type { Expect } from './expect.ts';
import type { TopoInfo } from './topo.ts';
import { BACKENDS, HOOKS } from './world.ts';
import type { BackendName, LinkCapture, Observation, ServiceInput, SteppedTraffic, World } from './world.ts';

/** `true`: applies; a string: does not apply, and this is why (the report shows it). */
export type Applicability = true | string;

/** Per backend: one word for both hooks, or per hook (`{ prog: { tc: 'why not' } }`: prog runs at XDP only). */
export type PerBackend<T> = Partial<Record<BackendName, T | Partial<Record<Hook, T>>>>;

export interface ScenarioDef {
  /** Shown in reports; default: the file's path under scenarios/ without extension. */
  name?: string;
  /** One or two sentences: what is checked and why it matters. */
  description: string;
  /** Default: two-arm, 1 client, 3 backends, dual stack (src/harness/topo.ts). */
  topology?: TopologySpec;
  /** The desired state applied before `run` (through the controller / the agent's REST API). */
  services: ServiceInput[] | ((topo: TopoInfo) => ServiceInput[]);
  /**
   * Where it applies. Default: every backend and hook. `backends` names a backend (both hooks)
   * or a backend at one hook (`{ prog: { tc: 'why' } }`); `hooks` a hook on every backend.
   */
  backends?: PerBackend<Applicability>;
  hooks?: Partial<Record<Hook, Applicability>>;
  /**
   * Results expected to fail, per backend (both hooks) or backend × hook (`{ lab: { xdp: 'why' } }`):
   * a known bug not fixed yet. The result still runs: a failure is reported as a known failure
   * with this reason (the run does not fail for it), a pass as an unexpected pass (the run fails:
   * the bug is gone, remove the mark). Not for what cannot work there: that is `backends`/`hooks`.
   */
  knownFailures?: PerBackend<string>;
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
  /**
   * Why this scenario's strict observation (which frame went where) varies from run to run on a
   * real kernel even with one seed, e.g. the `random` algorithm drawing from
   * bpf_get_prandom_u32. The kernel matrix then compares its prog results across kernels on the
   * semantic view (connections, final conntrack states, new flows, drops), as it does lab's.
   */
  observationVaries?: string;
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
  checkPerBackend('backends', def.backends, (v) => v === true || (typeof v === 'string' && v !== ''));
  if (def.observationVaries !== undefined && (typeof def.observationVaries !== 'string' || def.observationVaries === ''))
    throw new Error('scenario(): observationVaries: give the reason the strict observation varies between runs (a non-empty string)');
  checkPerBackend('knownFailures', def.knownFailures, (v) => typeof v === 'string' && v !== '');
  for (const [h, v] of Object.entries(def.hooks ?? {})) {
    if (!HOOKS.includes(h as Hook)) throw new Error(`scenario(): hooks.${h}: not a hook (${HOOKS.join(', ')})`);
    if (v !== true && (typeof v !== 'string' || v === ''))
      throw new Error(`scenario(): hooks.${h}: give true or the reason it does not apply`);
  }
  // A known bug marked as "does not apply" hides the backends where the scenario does pass
  // (the mark used to be per hook): say where the mark goes now.
  const marks: [string, unknown][] = [
    ...Object.entries(def.hooks ?? {}).map(([h, v]): [string, unknown] => [`hooks.${h}`, v]),
    ...Object.entries(def.backends ?? {}).flatMap(([b, v]): [string, unknown][] =>
      typeof v === 'object' && v !== null
        ? Object.entries(v).map(([h, w]): [string, unknown] => [`backends.${b}.${h}`, w])
        : [[`backends.${b}`, v]],
    ),
  ];
  for (const [where, v] of marks)
    if (typeof v === 'string' && /^\s*known failure/i.test(v))
      throw new Error(
        `scenario(): ${where} says KNOWN FAILURE: a known bug is a knownFailures mark on the backend and hook that fail (e.g. knownFailures: { lab: { xdp: '…' } }), so the others still run`,
      );
  return { ...def, kind: 'xlb-scenario' };
}

function checkPerBackend<T>(field: string, v: PerBackend<T> | undefined, ok: (x: unknown) => boolean): void {
  for (const [b, w] of Object.entries(v ?? {})) {
    if (!BACKENDS.includes(b as BackendName)) throw new Error(`scenario(): ${field}.${b}: not a backend (${BACKENDS.join(', ')})`);
    if (typeof w === 'object' && w !== null) {
      for (const [h, x] of Object.entries(w as Record<string, unknown>)) {
        if (!HOOKS.includes(h as Hook)) throw new Error(`scenario(): ${field}.${b}.${h}: not a hook (${HOOKS.join(', ')})`);
        if (!ok(x)) throw new Error(`scenario(): ${field}.${b}.${h}: give a reason (a non-empty string)`);
      }
    } else if (!ok(w)) throw new Error(`scenario(): ${field}.${b}: give a reason (a non-empty string), or per hook ({ tc: '…' })`);
  }
}

/** The entry of a per-backend field for one backend and hook (the hook's own word first). */
export function perBackend<T>(v: PerBackend<T> | undefined, backend: BackendName, hook: Hook): T | undefined {
  const b = v?.[backend];
  if (typeof b === 'object' && b !== null) return (b as Partial<Record<Hook, T>>)[hook];
  return b as T | undefined;
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
