// PassThroughDatapath: a PacketDatapath that is only a baseline for the virtual network's
// own tests and benchmark (the LB node's plumbing, the World's clock and observations). It is not
// a datapath and says nothing about one: it translates nothing, tracks nothing, and answers every
// frame with verdict 'pass' and reason 'pass_no_service', the frame unchanged. The control side is
// the controller's in-memory MemoryDatapath. The datapaths under test are the model
// (src/model) and the real programs (src/datapath/prog-datapath.ts).
import { MemoryDatapath } from '../../controller/memory-datapath.ts';
import type {
  DatapathUnderTest,
  DpTraceEvent,
  DpTuple,
  FrameResult,
  OpenDatapathOptions,
  PacketDatapath,
} from '../../datapath/packet-datapath.ts';
import { decodeFrame, flowOf } from '../../packet/index.ts';
import type { FwdResultName, ReasonName } from '../../schema/maps.ts';

export class PassThroughDatapath implements PacketDatapath {
  readonly hook: PacketDatapath['hook'];
  readonly implementation = 'model' as const;
  nowNs = 0n;
  frames = 0;
  #reasons = new Map<ReasonName, number>();

  constructor(hook: PacketDatapath['hook']) {
    this.hook = hook;
  }

  process(frame: Uint8Array, ifindex: number): FrameResult {
    this.frames++;
    const f = flowOf(decodeFrame(frame));
    const proto: DpTuple['proto'] = f?.proto === 'tcp' || f?.proto === 'udp' ? f.proto : 'icmp';
    const tuple: DpTuple = {
      family: f?.family ?? 4,
      proto,
      src: f?.src ?? '',
      dst: f?.dst ?? '',
      sport: f?.sport ?? 0,
      dport: f?.dport ?? 0,
    };
    const trace: DpTraceEvent = {
      timeNs: this.nowNs,
      tuple,
      serviceId: 0,
      ifindex,
      reason: 'pass_no_service',
      endpointSlot: -1,
      verdict: 'pass',
      ctBefore: 'NONE',
      ctAfter: 'NONE',
      length: frame.length,
    };
    this.#reasons.set('pass_no_service', (this.#reasons.get('pass_no_service') ?? 0) + 1);
    return { verdict: 'pass', frame: Buffer.from(frame), reason: 'pass_no_service', trace };
  }

  now(): bigint {
    return this.nowNs;
  }

  advance(ms: number): void {
    this.nowNs += BigInt(Math.round(ms * 1e6));
  }

  configure(): void {}

  conntrack(): [] {
    return [];
  }

  reasons(): Map<ReasonName, number> {
    return new Map(this.#reasons);
  }

  fwdResults(): Map<FwdResultName, number> {
    return new Map();
  }

  endpointConnections(): number {
    return 0;
  }

  deleteConntrack(): boolean {
    return false;
  }
}

/** An `open` for createVirtualWorld that gives the pass-through double (tests only). */
export function openPassThroughDatapath(
  o: OpenDatapathOptions,
): DatapathUnderTest & { packets: PassThroughDatapath; control: MemoryDatapath } {
  return { control: new MemoryDatapath(), packets: new PassThroughDatapath(o.hook), close: () => undefined };
}
