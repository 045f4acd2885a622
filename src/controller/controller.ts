// The controller: holds the desired services and the health of their endpoints, and keeps a
// Datapath equal to them through the Reconciler. The same class runs in the agent and in the
// test harness. Every input is validated as a whole before anything changes.
import type { Datapath, DatapathLimits } from './datapath.ts';
import { DatapathRefusal } from './datapath.ts';
import { Reconciler, keyOf, keyText } from './reconcile.ts';
import type { EffectiveService, ReconcileAction, ReconcileResult } from './reconcile.ts';
import type { DesiredState, Endpoint, Limits, Service } from './types.ts';
import { ValidationError, describeKey, servicesOverlap, validateDesiredState, validateService } from './validate.ts';

export function endpointId(e: Pick<Endpoint, 'ip' | 'port'>): string {
  return `${e.ip}#${e.port}`;
}

export interface ControllerEvents {
  /** After any change of the desired state (for config persistence). */
  onDesiredChange?: (state: DesiredState) => void;
}

export class Controller {
  readonly dp: Datapath;
  readonly limits: Limits;
  private readonly reconciler: Reconciler;
  private readonly desired = new Map<string, Service>();
  /** Services by `${vip}|${protocol}`, for overlap checks of one change without a full scan. */
  private readonly byVip = new Map<string, Set<string>>();
  /** Health per service name, per endpoint id: false = down. Missing = up. */
  private readonly health = new Map<string, Map<string, boolean>>();
  private readonly events: ControllerEvents;

  constructor(dp: Datapath, events: ControllerEvents = {}) {
    this.dp = dp;
    this.events = events;
    const l: DatapathLimits = dp.limits;
    this.limits = { maxServices: l.maxServices - 1, maxEndpoints: l.maxEndpoints, maxWeight: l.maxWeight };
    this.reconciler = new Reconciler(dp);
  }

  services(): Service[] {
    return [...this.desired.values()].map((s) => structuredClone(s));
  }

  /**
   * The desired services without copying (for hot paths: health-check sync, config writes on
   * every change at 10,000 services). Read-only: callers must not modify them.
   */
  view(): readonly Readonly<Service>[] {
    return [...this.desired.values()];
  }

  /** One desired service without copying (read-only, like view()). */
  peek(name: string): Readonly<Service> | undefined {
    return this.desired.get(name);
  }

  get(name: string): Service | undefined {
    const s = this.desired.get(name);
    return s === undefined ? undefined : structuredClone(s);
  }

  state(): DesiredState {
    return { services: this.services() };
  }

  /** Throws DatapathRefusal (naming each service) when the datapath cannot hold some of them. */
  private checkRefusals(services: Service[]): void {
    const refusal = this.dp.refusal?.bind(this.dp);
    if (refusal === undefined) return;
    const msgs: string[] = [];
    for (const s of services) {
      const why = refusal({ key: keyOf(s), mode: s.mode, portEnd: s.portEnd ?? 0 });
      if (why !== undefined) msgs.push(`service '${s.name}': ${why}`);
    }
    if (msgs.length > 0) throw new DatapathRefusal(msgs.join('\n'));
  }

  /** The datapath id of a service (after it was reconciled). */
  serviceId(name: string): number | undefined {
    const s = this.desired.get(name);
    return s === undefined ? undefined : this.dp.getService(keyOf(s))?.id;
  }

  private effective(s: Service): EffectiveService {
    const h = this.health.get(s.name);
    return { service: s, active: s.endpoints.map((e) => e.active && h?.get(endpointId(e)) !== false) };
  }

  private index(s: Service, add: boolean): void {
    const k = `${s.vip}|${s.protocol}`;
    let set = this.byVip.get(k);
    if (set === undefined) {
      if (!add) return;
      set = new Set();
      this.byVip.set(k, set);
    }
    if (add) set.add(s.name);
    else {
      set.delete(s.name);
      if (set.size === 0) this.byVip.delete(k);
    }
  }

  /**
   * Replaces the whole desired state (config load, SIGHUP) and reconciles everything: services
   * the datapath holds that the state does not name are deleted. Throws ValidationError (and
   * changes nothing) when the input is invalid. `schemaChecked` as for put.
   */
  load(input: unknown, opts: { schemaChecked?: boolean } = {}): ReconcileResult {
    const r = validateDesiredState(input, this.limits, opts);
    if (!r.ok) throw new ValidationError(r.errors);
    this.checkRefusals(r.value.services);
    this.desired.clear();
    this.byVip.clear();
    for (const s of r.value.services) {
      this.desired.set(s.name, s);
      this.index(s, true);
    }
    for (const name of this.health.keys()) if (!this.desired.has(name)) this.health.delete(name);
    const result = this.reconcileAll();
    this.events.onDesiredChange?.(this.state());
    return result;
  }

  /** Reconciles every desired service against what the datapath holds (read back). */
  reconcileAll(): ReconcileResult {
    return this.reconciler.reconcileAll([...this.desired.values()].map((s) => this.effective(s)));
  }

  /**
   * Creates or replaces one service. `input` is untrusted (a REST body); error paths are
   * relative to it. Throws ValidationError without changing anything. `schemaChecked`: the
   * input already passed the service schema's check (validateService says what that skips).
   */
  put(name: string, input: unknown, opts: { schemaChecked?: boolean } = {}): { action: ReconcileAction; service: Service } {
    const r = validateService(input, { limits: this.limits, nameFromUrl: name, ...opts });
    if (!r.ok) throw new ValidationError(r.errors);
    const svc = r.value;
    this.checkRefusals([svc]);
    const previous = this.desired.get(name);
    const others = [...(this.byVip.get(`${svc.vip}|${svc.protocol}`) ?? [])]
      .filter((n) => n !== name)
      .map((n) => this.desired.get(n) as Service);
    const clash = others.find((o) => servicesOverlap(o, svc));
    if (clash !== undefined) {
      throw new ValidationError([
        {
          path: 'port',
          message: `${describeKey(svc)} overlaps service '${clash.name}' (${describeKey(clash)}); a VIP/protocol/port may belong to one service`,
        },
      ]);
    }
    const range = svc.portEnd === undefined ? undefined : others.find((o) => o.portEnd !== undefined);
    if (range !== undefined) {
      throw new ValidationError([
        {
          path: 'portEnd',
          message: `${svc.vip} ${svc.protocol} already has the port range of service '${range.name}' (${describeKey(range)}); one port range per VIP and protocol`,
        },
      ]);
    }
    if (previous === undefined && this.desired.size >= this.limits.maxServices) {
      throw new DatapathRefusal(`the datapath holds its maximum of ${this.limits.maxServices} services; delete one first`);
    }
    const moved = previous !== undefined && keyText(keyOf(previous)) !== keyText(keyOf(svc));
    if (previous !== undefined) this.index(previous, false);
    this.desired.set(name, svc);
    this.index(svc, true);
    const h = this.health.get(name);
    if (h !== undefined) for (const id of h.keys()) if (!svc.endpoints.some((e) => endpointId(e) === id)) h.delete(id);
    let action: ReconcileAction;
    try {
      action = this.reconciler.reconcileOne(this.effective(svc));
    } catch (err) {
      // The datapath refused (e.g. out of ids): restore the previous desired state.
      this.index(svc, false);
      if (previous === undefined) this.desired.delete(name);
      else {
        this.desired.set(name, previous);
        this.index(previous, true);
      }
      throw err;
    }
    if (moved) this.reconciler.remove(keyOf(previous));
    this.events.onDesiredChange?.(this.state());
    return { action, service: structuredClone(svc) };
  }

  /** Deletes a service; false when no service has that name. */
  remove(name: string): boolean {
    const s = this.desired.get(name);
    if (s === undefined) return false;
    this.reconciler.remove(keyOf(s));
    this.desired.delete(name);
    this.index(s, false);
    this.health.delete(name);
    this.events.onDesiredChange?.(this.state());
    return true;
  }

  /** Health of one endpoint (from the health checker). Reconciles the service when it changed. */
  setHealth(name: string, endpoint: Pick<Endpoint, 'ip' | 'port'>, up: boolean): ReconcileAction | undefined {
    const s = this.desired.get(name);
    if (s === undefined || !s.endpoints.some((e) => endpointId(e) === endpointId(endpoint))) return undefined;
    let h = this.health.get(name);
    if (h === undefined) {
      h = new Map();
      this.health.set(name, h);
    }
    const was = h.get(endpointId(endpoint)) !== false;
    if (was === up) return 'unchanged';
    h.set(endpointId(endpoint), up);
    const action = this.reconciler.reconcileOne(this.effective(s));
    if (!up && s.deadFlowPolicy === 'purge') {
      const id = this.dp.getService(keyOf(s))?.id;
      if (id !== undefined) this.dp.deleteFlows(id, endpoint);
    }
    return action;
  }

  /**
   * Endpoints known to be down before the first load: a restarted agent's persisted health.
   * No reconcile of its own: the load that follows programs them down from the start, so a
   * restart sends no new flow to an endpoint that was down when the agent stopped.
   */
  restoreHealth(down: readonly { service: string; ip: string; port: number }[]): void {
    for (const d of down) {
      let h = this.health.get(d.service);
      if (h === undefined) {
        h = new Map();
        this.health.set(d.service, h);
      }
      h.set(endpointId(d), false);
    }
  }

  /** Every configured endpoint that health checks hold down (what the agent persists). */
  downEndpoints(): { service: string; ip: string; port: number }[] {
    const out: { service: string; ip: string; port: number }[] = [];
    for (const [service, h] of this.health) {
      const s = this.desired.get(service);
      if (s === undefined) continue;
      for (const e of s.endpoints) if (h.get(endpointId(e)) === false) out.push({ service, ip: e.ip, port: e.port });
    }
    return out;
  }

  isHealthy(name: string, endpoint: Pick<Endpoint, 'ip' | 'port'>): boolean {
    return this.health.get(name)?.get(endpointId(endpoint)) !== false;
  }
}
