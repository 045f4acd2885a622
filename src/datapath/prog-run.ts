// The kernel datapath run under BPF_PROG_TEST_RUN, for the datapath tests and `xlb vm smoke`: a
// fresh instance (own pin directory, removed on close), packets in, verdict + bytes out,
// counters read back.
// Forwarding: the config sends FIB lookups to an empty routing table (BPF_FIB_LOOKUP_TBID), so
// every translated packet comes back with TC_ACT_OK / XDP_PASS ("not forwarded", counted) and
// its rewritten bytes can be compared exactly; fwd.test.ts covers real routes in a namespace.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { skBuff, xdpMd } from '../bpf/index.ts';
import { CFG_F, REASON, ctKey } from '../schema/maps.ts';
import type { Config, CtEntry, ReasonName } from '../schema/maps.ts';
import { loadDatapath } from './loader.ts';
import { EMPTY_FIB_TABLE, verdictOf } from './records.ts';
import type { Hook, LoadOptions, LoadedDatapath } from './loader.ts';
import { addr16, lookupFlow, putService, readReasons, writeEndpoints, writeSched } from './maps.ts';
import type { EndpointSpec } from './maps.ts';
import type { Algorithm, Mode } from '../controller/types.ts';
import type { DpProto } from './packet-datapath.ts';

export const HOOKS: Hook[] = ['tc', 'xdp'];

// The empty routing table and the verdict names live with the record conversions.
export { EMPTY_FIB_TABLE, verdictOf } from './records.ts';
export type Verdict = ReturnType<typeof verdictOf>;

export interface RunResult {
  verdict: Verdict;
  data: Buffer;
}

export interface Harness {
  dp: LoadedDatapath;
  hook: Hook;
  run(frame: Buffer, ifindex?: number): RunResult;
  reasons(): Record<ReasonName, bigint>;
  /** Reasons counted since the previous call (packets). */
  reasonDelta(): Partial<Record<ReasonName, number>>;
  flow(key: { src: string; dst: string; sport: number; dport: number; proto: DpProto }): CtEntry | undefined;
  service(s: SimpleService): void;
  config(patch: Partial<Config>): void;
  /** Moves the datapath clock forward. */
  advance(seconds: number): void;
  close(): void;
}

export interface SimpleService {
  id: number;
  vip: string;
  port: number;
  proto?: DpProto;
  mode?: Mode;
  algo?: Algorithm;
  endpoints: EndpointSpec[];
  gen?: 0 | 1;
  table?: Uint32Array;
  persistTimeoutS?: number;
  snat?: string;
  portLo?: number;
  portHi?: number;
}

export function openHarness(hook: Hook, opts: Partial<LoadOptions> = {}): Harness {
  const pinDir = `/sys/fs/bpf/xlb/test-${randomBytes(4).toString('hex')}`;
  let dp: LoadedDatapath;
  try {
    dp = loadDatapath({
      ctEntries: 4096,
      maxServices: 16,
      maglevSize: 4099,
      ...opts,
      hook,
      pinDir,
      config: { flags: CFG_F.fibTable, fib_table: EMPTY_FIB_TABLE, ...opts.config },
    });
  } catch (e) {
    rmSync(pinDir, { recursive: true, force: true });
    throw e;
  }
  const ctx = (ifindex: number): Buffer => (hook === 'xdp' ? xdpMd({ ingressIfindex: ifindex }) : skBuff({ ifindex }));
  let last = new Map<ReasonName, bigint>();
  const reasons = (): Record<ReasonName, bigint> => {
    const r = readReasons(dp);
    const out = {} as Record<ReasonName, bigint>;
    for (const n of REASON) out[n] = r[n].packets;
    return out;
  };
  let offset = 0n;
  return {
    dp,
    hook,
    run(frame: Buffer, ifindex = 1): RunResult {
      const r = dp.main.testRun({ data: frame, ctx: ctx(ifindex) });
      return { verdict: verdictOf(hook, r.retval), data: r.data };
    },
    reasons,
    reasonDelta(): Partial<Record<ReasonName, number>> {
      const now = reasons();
      const out: Partial<Record<ReasonName, number>> = {};
      for (const n of REASON) {
        const d = now[n] - (last.get(n) ?? 0n);
        if (d !== 0n) out[n] = Number(d);
      }
      last = new Map(Object.entries(now) as [ReasonName, bigint][]);
      return out;
    },
    flow(k): CtEntry | undefined {
      const s = addr16(k.src);
      const d = addr16(k.dst);
      const proto = k.proto === 'tcp' ? 6 : k.proto === 'udp' ? 17 : s.family === 4 ? 1 : 58;
      return lookupFlow(
        dp,
        ctKey.decode(ctKey.encode({ saddr: s.addr, daddr: d.addr, sport: k.sport, dport: k.dport, proto, family: s.family })),
      );
    },
    service(s: SimpleService): void {
      const gen = s.gen ?? 0;
      writeEndpoints(dp, s.id, gen, s.endpoints);
      if (s.table) writeSched(dp, s.id, gen, s.table);
      putService(dp, {
        id: s.id,
        vip: s.vip,
        port: s.port,
        proto: s.proto ?? 'tcp',
        mode: s.mode ?? 'dnat',
        algo: s.algo ?? 'rr',
        epCount: s.endpoints.length,
        gen,
        schedLen: s.algo === 'wrr' && s.table ? s.table.length : 0,
        persistTimeoutS: s.persistTimeoutS,
        snat: s.snat,
        portLo: s.portLo,
        portHi: s.portHi,
      });
    },
    config(patch: Partial<Config>): void {
      dp.writeConfig(patch);
    },
    advance(seconds: number): void {
      offset += BigInt(Math.round(seconds * 1e9));
      dp.writeConfig({ clock_offset_ns: offset });
    },
    close(): void {
      dp.close();
      rmSync(pinDir, { recursive: true, force: true });
    },
  };
}
