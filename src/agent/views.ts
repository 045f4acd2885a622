// Read-only views of the running state, shared by the REST routes and /metrics: services with
// their datapath status, conntrack entries with service names, counters per service/endpoint.
// The response types of every route live here too, so the server (api.ts) and the typed client
// (client.ts) name the same shapes.
import type { Static } from 'typebox';
import type { Controller } from '../controller/controller.ts';
import { endpointId } from '../controller/controller.ts';
import type { EndpointHealth, HealthMonitor } from '../controller/health.ts';
import { keyOf, keyText } from '../controller/reconcile.ts';
import type { Service } from '../controller/types.ts';
import type {
  ConntrackViewSchema,
  EndpointStatusSchema,
  ErrorSchema,
  FlowViewSchema,
  HealthzViewSchema,
  PutServiceViewSchema,
  ReplaceServicesViewSchema,
  ServiceListSchema,
  ServiceViewSchema,
  StatsViewSchema,
} from './schemas.ts';

// The response types are the route schemas' (schemas.ts): what fastify serializes, what the
// OpenAPI document says and what the client (client.ts) reads are one definition.
export type EndpointStatus = Static<typeof EndpointStatusSchema>;
export type ServiceView = Static<typeof ServiceViewSchema>;
/** GET /v1/services */
export type ServiceListView = Static<typeof ServiceListSchema>;
export type FlowView = Static<typeof FlowViewSchema>;
/** GET /v1/conntrack */
export type ConntrackView = Static<typeof ConntrackViewSchema>;
/** GET /healthz */
export type HealthzView = Static<typeof HealthzViewSchema>;
/** PUT /v1/services/{name} (201 when created, 200 otherwise) */
export type PutServiceView = Static<typeof PutServiceViewSchema>;
/** PUT /v1/services (the whole list) */
export type ReplaceServicesView = Static<typeof ReplaceServicesViewSchema>;
/** Every error response: `error` a short code ('invalid', 'not found', 'refused', 'unauthorized', …), `errors` the field errors of a 400. */
export type ErrorView = Static<typeof ErrorSchema>;
/** GET /v1/stats */
export type StatsView = Static<typeof StatsViewSchema>;

/** Health by `${service}/${endpoint id}`: of every service, or of one (O(its endpoints)). */
function healthIndex(health: HealthMonitor | undefined, service?: string): Map<string, EndpointHealth> {
  const m = new Map<string, EndpointHealth>();
  for (const h of (service === undefined ? health?.status() : health?.statusOf(service)) ?? []) m.set(`${h.service}/${endpointId(h)}`, h);
  return m;
}

/** `s` is the controller's own object (peek/view, not a copy): read here, never modified. */
export function serviceView(c: Controller, s: Readonly<Service>, hidx: Map<string, EndpointHealth>): ServiceView {
  const dp = c.dp.getService(keyOf(s));
  const slots = dp === undefined ? [] : c.dp.readEndpoints(dp.id, dp.generation, dp.endpointCount);
  const endpoints = s.endpoints.map((e): EndpointStatus => {
    const slot = slots.findIndex((x) => x.ip === e.ip && x.port === e.port);
    const h = hidx.get(`${s.name}/${endpointId(e)}`);
    const st: EndpointStatus = {
      ip: e.ip,
      port: e.port,
      slot,
      active: slot >= 0 && (slots[slot]?.active ?? false),
      healthy: c.isHealthy(s.name, e),
    };
    if (h !== undefined) st.lastCheck = `${h.lastOk === null ? 'pending' : h.lastOk ? 'ok' : 'fail'}: ${h.lastDetail}`;
    return st;
  });
  return { ...s, status: { id: dp?.id ?? 0, generation: dp?.generation ?? 0, endpoints } };
}

export function serviceViews(c: Controller, health: HealthMonitor | undefined): ServiceView[] {
  const hidx = healthIndex(health);
  return c.view().map((s) => serviceView(c, s, hidx));
}

export function oneServiceView(c: Controller, health: HealthMonitor | undefined, name: string): ServiceView | undefined {
  const s = c.peek(name);
  return s === undefined ? undefined : serviceView(c, s, healthIndex(health, name));
}

/** Service name per datapath id, for the services the controller knows (one read of the service map). */
export function namesById(c: Controller): Map<number, string> {
  const byKey = new Map<string, string>();
  for (const s of c.view()) byKey.set(keyText(keyOf(s)), s.name);
  const m = new Map<number, string>();
  for (const s of c.dp.listServices()) m.set(s.id, byKey.get(keyText(s.key)) ?? '');
  return m;
}

export function conntrackView(c: Controller, filter: { service?: string; states?: string[]; limit: number }): ConntrackView {
  const names = namesById(c);
  const serviceId = filter.service === undefined ? undefined : c.serviceId(filter.service);
  if (filter.service !== undefined && serviceId === undefined) return { total: 0, entries: [] };
  if (c.dp.queryFlows !== undefined) {
    const q = c.dp.queryFlows({
      ...(serviceId !== undefined ? { serviceId } : {}),
      ...(filter.states !== undefined ? { states: filter.states } : {}),
      limit: filter.limit,
    });
    return { total: q.total, entries: q.flows.map((f) => ({ ...f, service: names.get(f.serviceId) ?? '' })) };
  }
  let flows = c.dp.listFlows();
  if (serviceId !== undefined) flows = flows.filter((f) => f.serviceId === serviceId);
  if (filter.states !== undefined) {
    const wanted = new Set(filter.states);
    flows = flows.filter((f) => wanted.has(f.state.toUpperCase()));
  }
  return { total: flows.length, entries: flows.slice(0, filter.limit).map((f) => ({ ...f, service: names.get(f.serviceId) ?? '' })) };
}

/** Flows by state: the datapath's own count when it keeps one (no full conntrack decode per scrape), else counted from listFlows. */
export function flowCounts(c: Controller): { byState: Record<string, number>; ageMs: number } {
  if (c.dp.flowCounts !== undefined) return c.dp.flowCounts();
  const byState: Record<string, number> = {};
  for (const f of c.dp.listFlows()) byState[f.state] = (byState[f.state] ?? 0) + 1;
  return { byState, ageMs: 0 };
}

export function statsView(c: Controller, health: HealthMonitor | undefined): StatsView {
  const counters = c.dp.counters();
  const flows = flowCounts(c);
  const services = serviceViews(c, health).map((v) => {
    const sc = counters.services.get(v.status.id) ?? { packets: 0, bytes: 0 };
    const ec = counters.endpoints.get(v.status.id);
    return {
      name: v.name,
      id: v.status.id,
      packets: sc.packets,
      bytes: sc.bytes,
      endpoints: v.status.endpoints.map((e) => ({
        ...e,
        ...(e.slot >= 0 ? (ec?.get(e.slot) ?? { packets: 0, bytes: 0 }) : { packets: 0, bytes: 0 }),
      })),
    };
  });
  return {
    services,
    drops: Object.fromEntries(counters.drops),
    verdicts: Object.fromEntries(counters.verdicts),
    conntrack: flows.byState,
    conntrackAgeMs: Math.round(flows.ageMs),
  };
}
