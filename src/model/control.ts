// The controller's Datapath interface (src/controller/datapath.ts) over the model's tables, with
// the kernel datapath's semantics (src/datapath/kernel-datapath.ts): generations written whole
// and flipped by one putService, the shared table builders, one port range per VIP and protocol,
// full NAT refused without a source address, flows merged from their two entries, counters keyed
// by reason name. ICMP echo services (not part of the controller's Protocol) are accepted too,
// with protocol 'icmp' and port 0, as the kernel's map helpers accept them.
import { DatapathRefusal, EMPTY_SLOT, portRangeTaken } from '../controller/datapath.ts';
import type { Datapath, DatapathLimits, DpCounters, DpEndpoint, DpFlow, DpService, DpServiceKey } from '../controller/datapath.ts';
import { formatIp, canonicalIp } from '../controller/ip.ts';
import { maglevTable, wrrSchedule } from '../controller/lookup-tables.ts';
import type { Algorithm, Mode } from '../controller/types.ts';
import { serviceKeyText } from '../controller/types.ts';
import { ALGO, CT_F, CT_STATE, EP_F_ACTIVE, FWD_RESULT, MODE, REASON, SVC_F_PERSIST } from '../schema/maps.ts';
import { ctAlive } from './conntrack.ts';
import type { Counters } from './counters.ts';
import type { EpEntry, SvcEntry, Tables } from './tables.ts';
import { protoNumber, svcKeyString } from './tables.ts';
import { IPPROTO, MAX_EP, peerKey } from './types.ts';

const MAX_WEIGHT = 65535;
const MODES = Object.keys(MODE) as Mode[];
const ALGOS = Object.keys(ALGO) as Algorithm[];

/** A service key the model takes: the controller's, or an ICMP echo service. */
export type ModelServiceKey = Omit<DpServiceKey, 'protocol'> & { protocol: DpServiceKey['protocol'] | 'icmp' };
export type ModelService = Omit<DpService, 'key'> & { key: ModelServiceKey };

function addr16(ip: string): { addr: Buffer; family: 4 | 6 } {
  const p = canonicalIp(ip);
  if (p === undefined) throw new Error(`model datapath: '${ip}' is not an IPv4 or IPv6 address`);
  const addr = Buffer.alloc(16);
  p.bytes.copy(addr);
  return { addr, family: p.family };
}

export class ModelControl implements Datapath {
  readonly limits: DatapathLimits;
  /** sched_len written with each generation, for the service entry that flips to it. */
  private readonly schedLen = new Map<string, number>();

  constructor(
    private readonly t: Tables,
    readonly stats: Counters,
    private readonly clock: () => bigint,
  ) {
    this.limits = { maxServices: t.maxServices, maxEndpoints: MAX_EP, maxWeight: MAX_WEIGHT };
  }

  private entryKey(k: ModelServiceKey, range: boolean): string {
    const { addr, family } = addr16(k.vip);
    const port = range || k.protocol === 'icmp' ? 0 : k.port;
    return svcKeyString(addr, port, protoNumber(k.protocol, family), family);
  }

  private toService(s: SvcEntry): ModelService {
    const protocol = s.proto === IPPROTO.tcp ? 'tcp' : s.proto === IPPROTO.udp ? 'udp' : 'icmp';
    const range = s.port === 0 && protocol !== 'icmp';
    const pol = this.t.policers.get(s.id);
    return {
      key: { vip: formatIp(s.vip.subarray(0, s.family === 4 ? 4 : 16), s.family === 6 ? 6 : 4), port: range ? s.portLo : s.port, protocol },
      id: s.id,
      portEnd: range ? s.portHi : 0,
      mode: MODES[s.mode] ?? 'dnat',
      algorithm: ALGOS[s.algo] ?? 'rr',
      persistenceTimeoutS: s.flags & SVC_F_PERSIST ? s.persistTimeoutS : 0,
      policer: { ratePps: pol?.ratePps ?? 0, burst: pol?.burst ?? 0 },
      endpointCount: s.epCount,
      generation: s.gen,
    };
  }

  /** TCP and UDP services (the controller's protocols), as the kernel datapath lists them; ICMP echo services stay out of reconcile's view. */
  listServices(): DpService[] {
    return [...this.t.services.values()]
      .filter((s) => s.proto === IPPROTO.tcp || s.proto === IPPROTO.udp)
      .map((s) => this.toService(s) as DpService);
  }

  getService(key: ModelServiceKey): DpService | undefined {
    const exact = this.t.services.get(this.entryKey(key, false));
    if (exact !== undefined) return this.toService(exact) as DpService;
    const range = this.t.services.get(this.entryKey(key, true));
    if (range === undefined) return undefined;
    const s = this.toService(range);
    return s.key.port === key.port ? (s as DpService) : undefined;
  }

  private activeOwner(id: number): SvcEntry | undefined {
    for (const s of this.t.services.values()) if (s.id === id) return s;
    return undefined;
  }

  readEndpoints(id: number, generation: 0 | 1, count: number): DpEndpoint[] {
    return Array.from({ length: count }, (_, slot) => {
      const e = this.t.endpoint(id, generation, slot);
      if (e === undefined || (e.family !== 4 && e.family !== 6)) return { ...EMPTY_SLOT };
      return {
        ip: formatIp(e.addr.subarray(0, e.family === 4 ? 4 : 16), e.family),
        port: e.port,
        weight: e.weight,
        active: (e.flags & EP_F_ACTIVE) !== 0,
      };
    });
  }

  writeGeneration(id: number, generation: 0 | 1, algorithm: Algorithm, endpoints: DpEndpoint[]): void {
    const owner = this.activeOwner(id);
    if (owner !== undefined && owner.gen === generation) {
      throw new Error(
        `model datapath: refusing to write the ACTIVE generation ${generation} of service id ${id} (${serviceKeyText(this.toService(owner).key as DpServiceKey)})`,
      );
    }
    if (id <= 0 || id >= this.limits.maxServices)
      throw new Error(`model datapath: service id ${id} is outside 1..${this.limits.maxServices - 1}`);
    if (endpoints.length > MAX_EP) throw new Error(`model datapath: ${endpoints.length} endpoints > ${MAX_EP}`);
    const base = (id * 2 + generation) * MAX_EP;
    endpoints.forEach((e, slot) => {
      const entry: EpEntry =
        e.ip === ''
          ? { addr: Buffer.alloc(16), port: 0, weight: 0, family: 0, flags: 0 }
          : { ...addr16(e.ip), port: e.port, weight: e.weight, flags: e.active ? EP_F_ACTIVE : 0 };
      this.t.endpoints.set(base + slot, entry);
    });
    const m = this.t.config.maglevSize;
    let table: Uint32Array | undefined;
    if (algorithm === 'maglev' && m > 0) table = maglevTable(endpoints, m);
    else if (algorithm === 'wrr') table = wrrSchedule(endpoints, m);
    if (table !== undefined && table.length > 0) this.t.writeSched(id, generation, table);
    this.schedLen.set(`${id}/${generation}`, algorithm === 'wrr' ? (table?.length ?? 0) : 0);
  }

  refusal(svc: Pick<ModelService, 'key' | 'mode' | 'portEnd'>): string | undefined {
    if (svc.mode !== 'fullnat') return undefined;
    const family = svc.key.vip.includes(':') ? 6 : 4;
    if ((family === 4 ? this.t.config.snatV4 : this.t.config.snatV6).every((b) => b === 0)) {
      return `mode fullnat needs a source address for IPv${family}: configure snatV${family} (an address of this host the backends route back to)`;
    }
    return undefined;
  }

  putService(svc: ModelService): void {
    const range = svc.portEnd !== 0;
    const key = this.entryKey(svc.key, range);
    if (range) {
      const other = this.t.services.get(key);
      if (other !== undefined && other.portLo !== svc.key.port) {
        throw portRangeTaken(svc.key);
      }
    }
    const no = this.refusal(svc);
    if (no !== undefined) throw new DatapathRefusal(no);
    if (svc.id <= 0 || svc.id >= this.limits.maxServices)
      throw new RangeError(`model datapath: service id ${svc.id} is outside 1..${this.limits.maxServices - 1}`);
    if (svc.endpointCount < 0 || svc.endpointCount > MAX_EP)
      throw new RangeError(`model datapath: endpointCount ${svc.endpointCount} is outside 0..${MAX_EP}`);
    const p = this.t.policers.get(svc.id);
    if (p === undefined || p.ratePps !== svc.policer.ratePps || p.burst !== svc.policer.burst) {
      this.t.policers.set(svc.id, { ratePps: svc.policer.ratePps, burst: svc.policer.burst, tatNs: 0n });
    }
    const existing = this.t.services.get(key);
    const schedLen = this.schedLen.get(`${svc.id}/${svc.generation}`) ?? existing?.schedLen ?? 0;
    const { addr, family } = addr16(svc.key.vip);
    const port = range || svc.key.protocol === 'icmp' ? 0 : svc.key.port;
    this.t.services.set(key, {
      vip: addr,
      port,
      proto: protoNumber(svc.key.protocol, family),
      family,
      id: svc.id,
      mode: MODE[svc.mode],
      algo: ALGO[svc.algorithm],
      flags: svc.persistenceTimeoutS > 0 ? SVC_F_PERSIST : 0,
      gen: svc.generation,
      epCount: svc.endpointCount,
      schedLen,
      portLo: range ? svc.key.port : 0,
      portHi: range ? svc.portEnd : 0,
      persistTimeoutS: svc.persistenceTimeoutS,
      snat: Buffer.alloc(16),
    });
    if (svc.key.protocol !== 'icmp') {
      // a service that turned from one port into a range (or back) lives under the other key now
      const otherKey = this.entryKey(svc.key, !range);
      if (otherKey !== key && this.t.services.get(otherKey)?.id === svc.id) this.t.services.delete(otherKey);
    }
  }

  deleteService(key: ModelServiceKey): boolean {
    const s = this.getService(key);
    if (s === undefined) return false;
    this.t.services.delete(this.entryKey(key, s.portEnd !== 0));
    this.schedLen.delete(`${s.id}/0`);
    this.schedLen.delete(`${s.id}/1`);
    this.stats.resetService(s.id);
    return true;
  }

  listFlows(): DpFlow[] {
    const now = this.clock();
    const out: DpFlow[] = [];
    for (const { key: k, entry: e } of this.t.ct.records()) {
      if (e.flags & CT_F.reply || !ctAlive(this.t.config.timeoutsS, e, now, this.t.config.faults.has('no-conntrack-expiry'))) continue;
      const fam = k.family === 6 ? 6 : 4;
      const n = fam === 4 ? 4 : 16;
      const peer = this.t.ct.peek(peerKey(e, k));
      const lastSeen = peer !== undefined && peer.lastSeenNs > e.lastSeenNs ? peer.lastSeenNs : e.lastSeenNs;
      out.push({
        serviceId: e.svcId,
        protocol: k.proto === IPPROTO.tcp ? 'tcp' : k.proto === IPPROTO.udp ? 'udp' : 'icmp',
        client: { ip: formatIp(k.saddr.subarray(0, n), fam), port: k.sport },
        vip: { ip: formatIp(k.daddr.subarray(0, n), fam), port: k.dport },
        endpoint: { ip: formatIp(e.natDaddr.subarray(0, n), fam), port: e.natDport },
        endpointSlot: e.epSlot,
        state: CT_STATE[e.state] ?? `STATE_${e.state}`,
        packets: e.packets + (peer?.packets ?? 0),
        bytes: e.bytes + (peer?.bytes ?? 0),
        ageMs: Number((now - e.createdNs) / 1_000_000n),
        idleMs: Number((now - lastSeen) / 1_000_000n),
      });
    }
    return out;
  }

  deleteFlows(serviceId: number, ep: { ip: string; port: number }): number {
    const target = addr16(ep.ip).addr;
    let n = 0;
    for (const { key: k, entry: e } of this.t.ct.records()) {
      if (e.flags & CT_F.reply || e.svcId !== serviceId || e.natDport !== ep.port || !e.natDaddr.equals(target)) continue;
      this.t.ct.delete(peerKey(e, k));
      if (this.t.ct.delete(k)) n++;
    }
    return n;
  }

  counters(): DpCounters {
    const out: DpCounters = { services: new Map(), endpoints: new Map(), drops: new Map(), verdicts: new Map() };
    for (const s of this.listServices()) {
      const sc = this.stats.serviceStats(s.id);
      out.services.set(s.id, { packets: sc.packets, bytes: sc.bytes, flows: sc.flows, drops: sc.drops });
      const eps = new Map<number, { packets: number; bytes: number }>();
      for (let slot = 0; slot < s.endpointCount; slot++) eps.set(slot, { ...this.stats.endpointStats(s.id, slot) });
      out.endpoints.set(s.id, eps);
    }
    for (const name of REASON) {
      const packets = this.stats.reasons.get(name)?.packets ?? 0;
      if (name.startsWith('drop_')) out.drops.set(name, packets);
      else out.verdicts.set(name, packets);
    }
    for (const name of FWD_RESULT) out.verdicts.set(`fwd_${name}`, this.stats.fwd.get(name)?.packets ?? 0);
    return out;
  }
}
