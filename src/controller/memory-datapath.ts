// MemoryDatapath: an in-memory Datapath, for running controller logic without a kernel: the
// controller's and agent's tests (reconcile, REST API, health wiring), `bench/control --backend
// double` (the controller timed alone) and the control side of the virtual network's pass-through
// datapath. It is not a datapath model: it selects nothing and forwards nothing (the `sim`
// backend's reference model in src/model is that). What it does:
// hold service entries and generations exactly as written, count every write, keep a log of
// operations, and enforce the consistency contract of datapath.ts (writing the generation the
// service entry names throws), so tests can prove idempotence and ordering.
import type { Datapath, DatapathLimits, DpCounters, DpEndpoint, DpFlow, DpService, DpServiceKey } from './datapath.ts';
import { EMPTY_SLOT } from './datapath.ts';
import type { Algorithm } from './types.ts';
import { serviceKeyText } from './types.ts';

export type MemoryOp =
  | { op: 'writeGeneration'; id: number; generation: 0 | 1; count: number }
  | { op: 'putService'; id: number; generation: 0 | 1; key: string }
  | { op: 'deleteService'; key: string };

export class MemoryDatapath implements Datapath {
  readonly limits: DatapathLimits;
  readonly services = new Map<string, DpService>();
  /** Endpoint slots per `${id}/${generation}`. */
  readonly generations = new Map<string, DpEndpoint[]>();
  readonly log: MemoryOp[] = [];
  /** Key text per service id (the id index keeps every operation O(1)). */
  private readonly keyById = new Map<number, string>();
  writes = 0;
  flows: DpFlow[] = [];
  /** What refusal() answers (tests set it to exercise refusals). */
  refuse: ((svc: Pick<DpService, 'key' | 'mode' | 'portEnd'>) => string | undefined) | undefined;
  countersValue: DpCounters = { services: new Map(), endpoints: new Map(), drops: new Map(), verdicts: new Map() };

  constructor(limits: Partial<DatapathLimits> = {}) {
    this.limits = { maxServices: 65536, maxEndpoints: 64, maxWeight: 65535, ...limits };
  }

  listServices(): DpService[] {
    return [...this.services.values()].map((s) => structuredClone(s));
  }

  getService(key: DpServiceKey): DpService | undefined {
    const s = this.services.get(serviceKeyText(key));
    return s === undefined ? undefined : structuredClone(s);
  }

  readEndpoints(id: number, generation: 0 | 1, count: number): DpEndpoint[] {
    const eps = this.generations.get(`${id}/${generation}`) ?? [];
    return Array.from({ length: count }, (_, i) => ({ ...(eps[i] ?? EMPTY_SLOT) }));
  }

  writeGeneration(id: number, generation: 0 | 1, _algorithm: Algorithm, endpoints: DpEndpoint[]): void {
    const owner = this.keyById.get(id);
    if (owner !== undefined && this.services.get(owner)?.generation === generation) {
      throw new Error(
        `MemoryDatapath: write to the ACTIVE generation ${generation} of service id ${id} (a packet could see it half-written)`,
      );
    }
    if (endpoints.length > this.limits.maxEndpoints)
      throw new Error(`MemoryDatapath: ${endpoints.length} endpoints > ${this.limits.maxEndpoints}`);
    this.writes++;
    this.generations.set(
      `${id}/${generation}`,
      endpoints.map((e) => ({ ...e })),
    );
    this.log.push({ op: 'writeGeneration', id, generation, count: endpoints.length });
  }

  putService(svc: DpService): void {
    const key = serviceKeyText(svc.key);
    const owner = this.keyById.get(svc.id);
    if (owner !== undefined && owner !== key && this.services.has(owner)) {
      throw new Error(`MemoryDatapath: service id ${svc.id} is already used by ${owner}`);
    }
    this.writes++;
    this.services.set(key, structuredClone(svc));
    this.keyById.set(svc.id, key);
    this.log.push({ op: 'putService', id: svc.id, generation: svc.generation, key: serviceKeyText(svc.key) });
  }

  deleteService(key: DpServiceKey): boolean {
    this.writes++;
    this.log.push({ op: 'deleteService', key: serviceKeyText(key) });
    const s = this.services.get(serviceKeyText(key));
    if (s !== undefined) this.keyById.delete(s.id);
    return this.services.delete(serviceKeyText(key));
  }

  listFlows(): DpFlow[] {
    return this.flows.map((f) => structuredClone(f));
  }

  deleteFlows(serviceId: number, endpoint: { ip: string; port: number }): number {
    const before = this.flows.length;
    this.flows = this.flows.filter(
      (f) => !(f.serviceId === serviceId && f.endpoint.ip === endpoint.ip && f.endpoint.port === endpoint.port),
    );
    return before - this.flows.length;
  }

  counters(): DpCounters {
    return this.countersValue;
  }

  refusal(svc: Pick<DpService, 'key' | 'mode' | 'portEnd'>): string | undefined {
    return this.refuse?.(svc);
  }

  /** What a packet would see for a key: the active generation's slots. */
  activeEndpoints(key: DpServiceKey): DpEndpoint[] | undefined {
    const s = this.services.get(serviceKeyText(key));
    return s === undefined ? undefined : this.readEndpoints(s.id, s.generation, s.endpointCount);
  }
}
