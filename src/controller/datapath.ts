// The Datapath interface: everything the controller needs from a datapath, in datapath terms
// (service entries, endpoint generations, lookup tables, flows, counters) but with no kernel
// detail (no fds, no byte layouts). Two implementations: the kernel (src/datapath/kernel-datapath.ts,
// over the loader and the libbpf binding) and the TypeScript reference model of the `sim`
// backend. The controller cannot tell them apart; memory-datapath.ts holds an in-memory one
// that only records what is written (controller logic without a kernel).
//
// Consistency contract (what makes a change atomic for packets): a service entry names the
// generation (0 or 1) of its endpoint array and lookup table. The controller writes the
// INACTIVE generation completely, then replaces the service entry with the generation flipped
// in one `putService`. An implementation must make `putService` a single atomic update and
// must let packets read only the generation the service entry names.
//
// All calls are synchronous: the kernel binding is synchronous (bpf() syscalls) and the model
// is in-process, and 10,000s of map writes per second need no promise per write.
import type { Algorithm, Mode, Protocol } from './types.ts';

/** The datapath key of a service: VIP (canonical text), first port, protocol. */
export interface DpServiceKey {
  vip: string;
  port: number;
  protocol: Protocol;
}

export interface DpService {
  key: DpServiceKey;
  /** Small integer naming the service in the endpoint/table/counter maps; 1..maxServices-1. */
  id: number;
  /** Inclusive end of a port range; 0 when the service has one port. */
  portEnd: number;
  mode: Mode;
  algorithm: Algorithm;
  /** Source-IP persistence timeout in seconds; 0 = off. */
  persistenceTimeoutS: number;
  /** Token bucket; ratePps 0 = no policer. */
  policer: { ratePps: number; burst: number };
  /** Number of endpoint slots used in the active generation (holes are inactive slots). */
  endpointCount: number;
  generation: 0 | 1;
}

/** One endpoint slot of a generation. An unused slot is `{ip: '', port: 0, weight: 0, active: false}`. */
export interface DpEndpoint {
  ip: string;
  port: number;
  weight: number;
  active: boolean;
}

export const EMPTY_SLOT: DpEndpoint = Object.freeze({ ip: '', port: 0, weight: 0, active: false });

export interface DatapathLimits {
  maxServices: number;
  maxEndpoints: number;
  maxWeight: number;
}

export type FlowState = string;

export interface FlowQuery {
  serviceId?: number;
  /** State names (upper case, CT_STATE spelling). */
  states?: string[];
  limit?: number;
}

/** One tracked connection, as seen from the client side. */
export interface DpFlow {
  serviceId: number;
  protocol: Protocol | 'icmp';
  client: { ip: string; port: number };
  vip: { ip: string; port: number };
  endpoint: { ip: string; port: number };
  /** Endpoint slot index, when the datapath records it; -1 otherwise. */
  endpointSlot: number;
  state: FlowState;
  packets: number;
  bytes: number;
  ageMs: number;
  idleMs: number;
}

export interface DpCounters {
  /**
   * Per service id: packets/bytes the datapath handled for it; `flows` created and packets
   * `drops`ped for it (optional: implementations that do not count them leave them out).
   */
  services: Map<number, { packets: number; bytes: number; flows?: number; drops?: number }>;
  /** Per service id, per endpoint slot. */
  endpoints: Map<number, Map<number, { packets: number; bytes: number }>>;
  /** Drops by reason name (the REASON spelling: drop_no_endpoint). */
  drops: Map<string, number>;
  /** Other verdicts (pass, redirect, fast path, …) by name. */
  verdicts: Map<string, number>;
}

/**
 * A change the datapath cannot take for a reason the user can fix (no SNAT address for full
 * NAT, a second port range on a VIP, out of service ids). Nothing was changed for packets.
 * The REST API answers 409 with the message.
 */
export class DatapathRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatapathRefusal';
  }
}

/** The refusal of a second port range on one VIP and protocol (every datapath holds one). */
export function portRangeTaken(key: { vip: string; protocol: string }): DatapathRefusal {
  return new DatapathRefusal(`${key.vip} ${key.protocol} already has a port range; the datapath holds one port range per VIP and protocol`);
}

/**
 * A loaded datapath a process owns (the agent, benchmarks): the controller's Datapath plus its
 * lifecycle on interfaces. The kernel adapter (src/datapath/kernel-datapath.ts) implements it.
 */
export interface DatapathHandle {
  datapath: Datapath;
  /** For /healthz and logs, e.g. "kernel tc /sys/fs/bpf/xlb/default". */
  describe: string;
  /** Attaches to an interface, replacing any program already there. */
  attach(iface: string): void;
  detach(iface: string): void;
  /** Called once every interface is attached (e.g. to drop what earlier processes left). */
  afterAttach?(): void;
  /** Periodic maintenance (conntrack aging, least-connection counts); returns what it did. */
  maintain?(): Record<string, number>;
  /** Closes every fd; pinned maps (and attached programs) stay. `detached`: the programs were detached. */
  close(opts?: { detached?: boolean }): void;
}

export interface Datapath {
  readonly limits: DatapathLimits;
  /** Every service entry the datapath holds (the read-back used by reconcile). */
  listServices(): DpService[];
  getService(key: DpServiceKey): DpService | undefined;
  /** The endpoint slots of a generation, `count` long. */
  readEndpoints(id: number, generation: 0 | 1, count: number): DpEndpoint[];
  /**
   * Writes a whole generation: the endpoint slots, then whatever derived table the algorithm
   * reads (the Maglev lookup table, a weighted schedule), built from the active slots by the
   * shared builders in src/controller/lookup-tables.ts so every implementation derives the same
   * table. Only ever
   * called for the generation the service entry does NOT name.
   */
  writeGeneration(id: number, generation: 0 | 1, algorithm: Algorithm, endpoints: DpEndpoint[]): void;
  /** Creates or replaces a service entry: one atomic update. */
  putService(svc: DpService): void;
  deleteService(key: DpServiceKey): boolean;
  /** Tracked flows (both directions merged into one record per connection). */
  listFlows(): DpFlow[];
  /**
   * listFlows filtered, and at most `limit` of them built, with the number that match: what
   * `GET /v1/conntrack` needs, without building a record for each of 1,000,000 entries.
   * Optional; without it callers filter listFlows().
   */
  queryFlows?(q: FlowQuery): { total: number; flows: DpFlow[] };
  /** Deletes every flow of a service going to an endpoint (both directions); returns how many. */
  deleteFlows(serviceId: number, endpoint: { ip: string; port: number }): number;
  counters(): DpCounters;
  /**
   * Tracked flows by state (the states listFlows reports), without listing every flow: an
   * implementation with a large table counts in the background and says how old the count is.
   * Optional: callers without it count listFlows().
   */
  flowCounts?(): { byState: Record<string, number>; ageMs: number };
  /**
   * Why this datapath cannot hold a service (e.g. full NAT without a source address), or
   * undefined. The controller asks for every service of a change before writing anything, so a
   * change is refused whole.
   */
  refusal?(svc: Pick<DpService, 'key' | 'mode' | 'portEnd'>): string | undefined;
}
