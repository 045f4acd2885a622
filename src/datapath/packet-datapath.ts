// The packet interface of a datapath: one frame arriving on an interface in, the verdict, the
// frame as the program left it, the reason and the trace event out; a clock that moves forward;
// conntrack, reason and forwarding counters read back in one shape. Two implementations answer
// it: the real BPF programs fed with BPF_PROG_TEST_RUN (src/datapath/prog-datapath.ts, the `prog`
// backend) and the TypeScript reference model (src/model/, the `sim` backend). The controller
// programs both through the Datapath interface (src/controller/datapath.ts); this interface is
// what the harness feeds packets through, so `sim` and `prog` differ only in which one answers.
//
// Types only: nothing here loads BPF, so src/model can implement it without the kernel.
//
// Forwarding in `sim` and `prog`: both run with an empty FIB (the kernel's lookups go to a routing
// table nobody has), so a translated packet comes back with verdict 'pass' and fwd 'pass_fib',
// TTL and MACs untouched, and the virtual LB node forwards it by its destination address as the
// kernel's stack would. Real redirects and neighbours are the `lab` backend's business.
import type { Datapath } from '../controller/datapath.ts';
import type { CtStateName, FwdResultName, ReasonName } from '../schema/maps.ts';

export type Hook = 'tc' | 'xdp';

/** What the program returned, hook-neutral (TC_ACT_OK / XDP_PASS = 'pass', XDP_TX = 'tx'). */
export type Verdict = 'pass' | 'drop' | 'redirect' | 'tx';

export type DpProto = 'tcp' | 'udp' | 'icmp';

/** A 5-tuple as the datapath keys conntrack: ICMP echo uses the identifier as a port (see docs/datapath.md). */
export interface DpTuple {
  family: 4 | 6;
  proto: DpProto;
  /** Canonical text (RFC 5952 for IPv6). */
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

/** One record of the trace stream: what the datapath did with one packet. */
export interface DpTraceEvent {
  /** Datapath clock, ns. */
  timeNs: bigint;
  /** The tuple as received (before translation); undefined fields of non-IP packets are zero. */
  tuple: DpTuple;
  serviceId: number;
  ifindex: number;
  reason: ReasonName;
  /** Endpoint slot chosen or used; -1 when none. */
  endpointSlot: number;
  verdict: Verdict;
  ctBefore: CtStateName;
  ctAfter: CtStateName;
  length: number;
}

export interface FrameResult {
  verdict: Verdict;
  /** The frame as the program left it (rewritten, or unchanged); for 'drop' the input. */
  frame: Buffer;
  /** Exactly one reason per packet (the xlb_reasons counter it bumped). */
  reason: ReasonName;
  /** How a translated packet left (xlb_fwd), when the packet was translated. */
  fwd?: FwdResultName;
  trace: DpTraceEvent;
}

/** One conntrack entry (two per flow: forward and reply), decoded. */
export interface DpCtEntry {
  key: DpTuple;
  /** The reply entry (keyed by what the backend's replies carry). */
  reply: boolean;
  state: CtStateName;
  serviceId: number;
  endpointSlot: number;
  /** The tuple after translation. */
  nat: Pick<DpTuple, 'src' | 'dst' | 'sport' | 'dport'>;
  /** Which fields this entry rewrites. */
  xlate: { saddr: boolean; daddr: boolean; sport: boolean; dport: boolean };
  /** CT_F flag names that are set ('reply', 'finClient', 'dsr', 'midstream', …). */
  flags: string[];
  packets: number;
  bytes: number;
  createdNs: bigint;
  lastSeenNs: bigint;
}

/** Datapath settings the harness sets (the kernel writes them into xlb_config). */
export interface DatapathSettings {
  snatV4?: string;
  snatV6?: string;
  /** Per-state timeouts, seconds (defaults in docs/datapath.md). */
  timeoutsS?: Partial<Record<CtStateName, number>>;
  unknownTcp?: 'select' | 'drop';
  snatPortMin?: number;
  snatPortMax?: number;
  rstSeqWindow?: number;
  /** Flood guard: flow-creating packets per second per CPU above which mid-stream TCP packets are refused (drop_flood); 0: off. Default 125,000. */
  newFlowRate?: number;
  /** Emit trace events (always on in sim/prog; the kernel needs the config flag). */
  trace?: boolean;
}

export interface PacketDatapath {
  readonly hook: Hook;
  readonly implementation: 'model' | 'kernel';
  /** Runs one frame arriving on `ifindex` through the entry program (and its tail call). */
  process(frame: Uint8Array, ifindex: number): FrameResult;
  /** The datapath clock, ns (starts near 0 for a fresh instance; only differences mean anything). */
  now(): bigint;
  /** Moves the datapath clock forward. */
  advance(ms: number): void;
  configure(settings: DatapathSettings): void;
  conntrack(): DpCtEntry[];
  /** Cumulative packets per reason since the instance was created. */
  reasons(): Map<ReasonName, number>;
  fwdResults(): Map<FwdResultName, number>;
  /** Least-connection count of a service's endpoint slot. */
  endpointConnections(serviceId: number, slot: number): number;
  /** Deletes one conntrack entry (a scenario losing one side of a flow). True when it existed. */
  deleteConntrack(key: DpTuple): boolean;
}

/** A datapath a scenario runs on: programmed through `control`, fed packets through `packets`. */
export interface DatapathUnderTest {
  control: Datapath;
  packets: PacketDatapath;
  /**
   * Ends the instance. `reuse`: the caller's result passed, and a pooled implementation (prog,
   * src/harness/prog-pool.ts) may keep the loaded objects for the next instance; without it,
   * or for an implementation without a pool, everything is released.
   */
  close(opts?: { reuse?: boolean }): void;
}

export interface OpenDatapathOptions {
  hook: Hook;
  settings?: DatapathSettings;
  /** Conntrack entries (two per flow); default 4096. */
  ctEntries?: number;
  /** Service-id space; default 64. */
  maxServices?: number;
  /** Maglev table size (prime); default 4099. */
  maglevSize?: number;
  /** prog only: a BPF object built otherwise (a mutation), instead of build/bpf/xlb_<hook>.bpf.o. */
  objectPath?: string;
  /** model only: deliberate faults by name (the harness's self-test proves it catches them). */
  faults?: string[];
}
