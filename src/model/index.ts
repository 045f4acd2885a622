// The reference model of the xlb datapath (the `sim` backend's datapath, and the oracle the BPF
// programs are checked against): docs/datapath.md implemented in TypeScript, one CPU, a virtual
// clock, an empty FIB. docs/model.md maps each module to the spec and names the approximations.
import type { CtStateName, FwdResultName, ReasonName } from '../schema/maps.ts';
import { CT_F, CT_STATE, XLATE } from '../schema/maps.ts';
import type {
  DatapathSettings,
  DatapathUnderTest,
  DpCtEntry,
  DpTuple,
  FrameResult,
  Hook,
  OpenDatapathOptions,
  PacketDatapath,
} from '../datapath/packet-datapath.ts';
import { isPrime } from '../controller/lookup-tables.ts';
import { canonicalIp } from '../controller/ip.ts';
import { VirtualClock } from './clock.ts';
import { Counters } from './counters.ts';
import { ModelControl } from './control.ts';
import { processFrame } from './pipeline.ts';
import type { PipelineEnv } from './pipeline.ts';
import { seededRandom } from './select.ts';
import { Tables, defaultConfig, protoNumber } from './tables.ts';
import { tupleOf } from './trace.ts';
import { parseFaults } from './faults.ts';
export { MODEL_FAULTS } from './faults.ts';
export type { ModelFault } from './faults.ts';
import { MAX_EP } from './types.ts';
import type { CtKey } from './types.ts';

export { ModelControl } from './control.ts';
export type { ModelService, ModelServiceKey } from './control.ts';

export interface ModelOptions extends OpenDatapathOptions {
  /** Persistence entries (LRU); default 65536 as the loader's. */
  persistEntries?: number;
  /** Seed of the `random` algorithm's PRNG. */
  seed?: number;
}

function addr16(ip: string, what: string): Buffer {
  const p = canonicalIp(ip);
  if (p === undefined) throw new Error(`model datapath: ${what} '${ip}' is not an IPv4 or IPv6 address`);
  const a = Buffer.alloc(16);
  p.bytes.copy(a);
  return a;
}

function keyOf(t: DpTuple): CtKey {
  const proto = t.proto === 'icmp' ? protoNumber('icmp', t.family) : protoNumber(t.proto, t.family);
  return { saddr: addr16(t.src, 'src'), daddr: addr16(t.dst, 'dst'), sport: t.sport, dport: t.dport, proto, family: t.family };
}

const FLAG_NAMES = Object.entries(CT_F) as [string, number][];

export class ModelPackets implements PacketDatapath {
  readonly implementation = 'model' as const;
  private readonly env: PipelineEnv;

  constructor(
    readonly hook: Hook,
    private readonly t: Tables,
    private readonly counters: Counters,
    private readonly clock: VirtualClock,
    seed: number,
  ) {
    this.env = { hook, tables: t, counters, clock: () => clock.now(), rand: seededRandom(seed) };
  }

  process(frame: Uint8Array, ifindex: number): FrameResult {
    return processFrame(this.env, frame, ifindex);
  }

  now(): bigint {
    return this.clock.now();
  }

  advance(ms: number): void {
    this.clock.advance(ms);
  }

  configure(s: DatapathSettings): void {
    const c = this.t.config;
    if (s.snatV4 !== undefined) c.snatV4 = addr16(s.snatV4, 'snatV4');
    if (s.snatV6 !== undefined) c.snatV6 = addr16(s.snatV6, 'snatV6');
    if (s.unknownTcp !== undefined) c.unknownTcp = s.unknownTcp === 'drop' ? 1 : 0;
    if (s.snatPortMin !== undefined) c.snatPortMin = s.snatPortMin;
    if (s.snatPortMax !== undefined) c.snatPortMax = s.snatPortMax;
    if (s.rstSeqWindow !== undefined) c.rstSeqWindow = s.rstSeqWindow;
    if (s.newFlowRate !== undefined) c.newFlowRate = s.newFlowRate;
    if (s.trace !== undefined) c.trace = s.trace;
    for (const [name, secs] of Object.entries(s.timeoutsS ?? {})) {
      const i = CT_STATE.indexOf(name as CtStateName);
      if (i < 0) throw new Error(`model datapath: unknown conntrack state '${name}' in timeoutsS (one of ${CT_STATE.join(', ')})`);
      if (secs !== undefined) c.timeoutsS[i] = secs;
    }
  }

  conntrack(): DpCtEntry[] {
    return this.t.ct.records().map(({ key, entry: e }) => {
      const tuple = tupleOf(key);
      const nat = tupleOf({ ...key, saddr: e.natSaddr, daddr: e.natDaddr, sport: e.natSport, dport: e.natDport });
      return {
        key: tuple,
        reply: (e.flags & CT_F.reply) !== 0,
        state: CT_STATE[e.state] ?? 'NONE',
        serviceId: e.svcId,
        endpointSlot: e.epSlot,
        nat: { src: nat.src, dst: nat.dst, sport: nat.sport, dport: nat.dport },
        xlate: {
          saddr: (e.xlate & XLATE.saddr) !== 0,
          daddr: (e.xlate & XLATE.daddr) !== 0,
          sport: (e.xlate & XLATE.sport) !== 0,
          dport: (e.xlate & XLATE.dport) !== 0,
        },
        flags: FLAG_NAMES.filter(([, bit]) => (e.flags & bit) !== 0).map(([name]) => name),
        packets: e.packets,
        bytes: e.bytes,
        createdNs: e.createdNs,
        lastSeenNs: e.lastSeenNs,
      };
    });
  }

  reasons(): Map<ReasonName, number> {
    return new Map([...this.counters.reasons].map(([k, v]) => [k, v.packets]));
  }

  fwdResults(): Map<FwdResultName, number> {
    return new Map([...this.counters.fwd].map(([k, v]) => [k, v.packets]));
  }

  endpointConnections(serviceId: number, slot: number): number {
    return this.t.epConns.get(serviceId * MAX_EP + slot) ?? 0;
  }

  deleteConntrack(key: DpTuple): boolean {
    return this.t.ct.delete(keyOf(key));
  }
}

export interface ModelDatapathUnderTest extends DatapathUnderTest {
  control: ModelControl;
  packets: ModelPackets;
}

/** Opens a fresh model datapath: empty tables, default configuration, clock at 1 s. */
export function openModelDatapath(opts: ModelOptions): ModelDatapathUnderTest {
  const maglevSize = opts.maglevSize ?? 4099;
  if (!isPrime(maglevSize)) throw new RangeError(`model datapath: maglevSize ${maglevSize} is not a prime`);
  const maxServices = opts.maxServices ?? 64;
  const config = { ...defaultConfig(maglevSize), faults: parseFaults(opts.faults) };
  const t = new Tables(config, maxServices, opts.ctEntries ?? 4096, opts.persistEntries ?? 65536);
  const counters = new Counters();
  const clock = new VirtualClock();
  const packets = new ModelPackets(opts.hook, t, counters, clock, opts.seed ?? 1);
  if (opts.settings !== undefined) packets.configure(opts.settings);
  const control = new ModelControl(t, counters, () => clock.now());
  return { control, packets, close: () => undefined };
}
