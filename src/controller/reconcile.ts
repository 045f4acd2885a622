// Reconcile: make the datapath hold exactly the desired services, reading back what it holds
// (never trusting a cache of what was written), writing only what differs, and changing a
// service only by the generation flip (write the inactive generation, then the service entry).
//
// Endpoint slots are stable: an endpoint keeps its slot index for as long as it stays in the
// service (per-endpoint counters and least-connection counts are kept per slot), a new endpoint
// takes the lowest free slot, a removed endpoint leaves an inactive hole that a later endpoint
// reuses, and trailing holes are trimmed.
import type { Datapath, DpEndpoint, DpService, DpServiceKey } from './datapath.ts';
import { DatapathRefusal, EMPTY_SLOT } from './datapath.ts';
import type { Service } from './types.ts';
import { serviceKeyText } from './types.ts';

/** The service as the datapath should hold it: desired fields plus effective endpoint state. */
export interface EffectiveService {
  service: Service;
  /** Effective `active` per endpoint (administrative flag AND health), same order as endpoints. */
  active: boolean[];
}

export type ReconcileAction = 'created' | 'updated' | 'unchanged';

export interface ReconcileResult {
  created: string[];
  updated: string[];
  unchanged: number;
  /** Keys of datapath services that no desired service names, deleted. */
  deleted: DpServiceKey[];
}

export function keyOf(s: Pick<Service, 'vip' | 'port' | 'protocol'>): DpServiceKey {
  return { vip: s.vip, port: s.port, protocol: s.protocol };
}

export function keyText(k: DpServiceKey): string {
  return serviceKeyText(k);
}

function sameEndpoint(a: DpEndpoint | undefined, b: DpEndpoint | undefined): boolean {
  return a !== undefined && b !== undefined && a.ip === b.ip && a.port === b.port && a.weight === b.weight && a.active === b.active;
}

/** Assigns desired endpoints to slots, keeping the slots they have in `current`. */
export function assignSlots(current: DpEndpoint[], desired: DpEndpoint[]): DpEndpoint[] {
  // A new service (or one with no slot yet): every endpoint pending, in order from slot 0.
  if (current.length === 0) return desired.slice();
  const where = new Map<string, number>();
  current.forEach((e, i) => {
    if (e.ip !== '') where.set(`${e.ip}#${e.port}`, i);
  });
  const slots: (DpEndpoint | undefined)[] = [];
  const pending: DpEndpoint[] = [];
  for (const e of desired) {
    const i = where.get(`${e.ip}#${e.port}`);
    if (i === undefined) pending.push(e);
    else slots[i] = e;
  }
  let free = 0;
  for (const e of pending) {
    while (slots[free] !== undefined) free++;
    slots[free] = e;
  }
  let n = slots.length;
  while (n > 0 && slots[n - 1] === undefined) n--;
  return Array.from({ length: n }, (_, i) => slots[i] ?? EMPTY_SLOT);
}

function entryFor(eff: EffectiveService, id: number, count: number, generation: 0 | 1): DpService {
  const s = eff.service;
  return {
    key: keyOf(s),
    id,
    portEnd: s.portEnd ?? 0,
    mode: s.mode,
    algorithm: s.algorithm,
    persistenceTimeoutS: s.persistence?.timeoutS ?? 0,
    policer: { ratePps: s.policer?.ratePps ?? 0, burst: s.policer?.burst ?? 0 },
    endpointCount: count,
    generation,
  };
}

function sameEntry(a: DpService, b: DpService): boolean {
  return (
    a.portEnd === b.portEnd &&
    a.mode === b.mode &&
    a.algorithm === b.algorithm &&
    a.persistenceTimeoutS === b.persistenceTimeoutS &&
    a.policer.ratePps === b.policer.ratePps &&
    a.policer.burst === b.policer.burst &&
    a.endpointCount === b.endpointCount
  );
}

/**
 * Reconciles services against one Datapath. Keeps the set of service ids in use (read back from
 * the datapath at construction and by `reconcileAll`) so a targeted change of one service does
 * not need to list 10,000 others to allocate an id.
 */
export class Reconciler {
  readonly dp: Datapath;
  private readonly usedIds = new Set<number>();
  /** No id below this is free (allocation scans from here: O(1) amortized, not O(n)). */
  private freeHint = 1;

  constructor(dp: Datapath) {
    this.dp = dp;
    this.refreshIds(dp.listServices());
  }

  private refreshIds(actual: DpService[]): void {
    this.usedIds.clear();
    for (const s of actual) this.usedIds.add(s.id);
    this.freeHint = 1;
  }

  private releaseId(id: number): void {
    this.usedIds.delete(id);
    if (id < this.freeHint) this.freeHint = id;
  }

  private allocateId(): number {
    for (let id = this.freeHint; id < this.dp.limits.maxServices; id++) {
      if (!this.usedIds.has(id)) {
        this.usedIds.add(id);
        this.freeHint = id + 1;
        return id;
      }
    }
    throw new DatapathRefusal(
      `no free service id: the datapath holds its maximum of ${this.dp.limits.maxServices - 1} services; delete a service first (or restart the agent on fresh pins with a larger --max-services)`,
    );
  }

  /** Makes one service right, given what the datapath holds for its key (read back). */
  private apply(eff: EffectiveService, actual: DpService | undefined): ReconcileAction {
    const desiredEps: DpEndpoint[] = eff.service.endpoints.map((e, i) => ({
      ip: e.ip,
      port: e.port,
      weight: e.weight,
      active: eff.active[i] ?? e.active,
    }));
    if (actual === undefined) {
      const id = this.allocateId();
      const slots = assignSlots([], desiredEps);
      try {
        this.dp.writeGeneration(id, 0, eff.service.algorithm, slots);
        this.dp.putService(entryFor(eff, id, slots.length, 0));
      } catch (err) {
        this.releaseId(id);
        throw err;
      }
      return 'created';
    }
    this.usedIds.add(actual.id);
    const current = this.dp.readEndpoints(actual.id, actual.generation, actual.endpointCount);
    const slots = assignSlots(current, desiredEps);
    const next = entryFor(eff, actual.id, slots.length, actual.generation);
    if (sameEntry(next, actual) && slots.length === current.length && slots.every((e, i) => sameEndpoint(e, current[i]))) {
      return 'unchanged';
    }
    const gen: 0 | 1 = actual.generation === 0 ? 1 : 0;
    this.dp.writeGeneration(actual.id, gen, eff.service.algorithm, slots);
    this.dp.putService({ ...next, generation: gen });
    return 'updated';
  }

  /** Reconciles one service (targeted change: reads back only its own entry). */
  reconcileOne(eff: EffectiveService): ReconcileAction {
    return this.apply(eff, this.dp.getService(keyOf(eff.service)));
  }

  /** Removes the datapath entry of a key; its id becomes free. */
  remove(key: DpServiceKey): boolean {
    const actual = this.dp.getService(key);
    if (actual === undefined) return false;
    this.dp.deleteService(key);
    this.releaseId(actual.id);
    return true;
  }

  /** Full reconcile: read back every service, apply every desired one, delete the rest. */
  reconcileAll(desired: EffectiveService[]): ReconcileResult {
    const actual = this.dp.listServices();
    this.refreshIds(actual);
    const byKey = new Map(actual.map((s) => [keyText(s.key), s]));
    const result: ReconcileResult = { created: [], updated: [], unchanged: 0, deleted: [] };
    const wanted = new Set<string>();
    // Deletions of services whose key is no longer wanted go first: they free ids, and a VIP
    // moving between two services never has two entries claiming it.
    for (const eff of desired) wanted.add(keyText(keyOf(eff.service)));
    for (const s of actual) {
      if (wanted.has(keyText(s.key))) continue;
      this.dp.deleteService(s.key);
      this.releaseId(s.id);
      result.deleted.push(s.key);
    }
    for (const eff of desired) {
      const action = this.apply(eff, byKey.get(keyText(keyOf(eff.service))));
      if (action === 'created') result.created.push(eff.service.name);
      else if (action === 'updated') result.updated.push(eff.service.name);
      else result.unchanged++;
    }
    return result;
  }
}
