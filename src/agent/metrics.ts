// Prometheus metrics (prom-client). Every value is read at scrape time from the controller, the
// datapath counters and the health monitor, so /metrics never drifts from /v1/stats.
import { Counter, Gauge, Registry } from 'prom-client';
import type { Controller } from '../controller/controller.ts';
import type { HealthMonitor } from '../controller/health.ts';
import { statsView } from './views.ts';
import type { StatsView } from './views.ts';

export function createMetrics(controller: Controller, health: HealthMonitor | undefined): Registry {
  const registry = new Registry();
  // One snapshot per scrape: the first collect() of a scrape takes it, the others reuse it.
  let snap: { at: number; stats: StatsView } | undefined;
  const stats = (): StatsView => {
    const now = Date.now();
    if (snap === undefined || now - snap.at > 200) snap = { at: now, stats: statsView(controller, health) };
    return snap.stats;
  };
  const ep = (e: { ip: string; port: number }): string => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);

  new Gauge({
    name: 'xlb_services',
    help: 'Services configured',
    registers: [registry],
    collect() {
      this.set(stats().services.length);
    },
  });
  new Gauge({
    name: 'xlb_endpoints',
    help: 'Endpoints per service: active (taking new flows), inactive (disabled or unhealthy), unhealthy (failing health checks)',
    labelNames: ['service', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of stats().services) {
        const active = s.endpoints.filter((e) => e.active).length;
        this.set({ service: s.name, state: 'active' }, active);
        this.set({ service: s.name, state: 'inactive' }, s.endpoints.length - active);
        this.set({ service: s.name, state: 'unhealthy' }, s.endpoints.filter((e) => !e.healthy).length);
      }
    },
  });
  new Gauge({
    name: 'xlb_endpoint_healthy',
    help: '1 when the endpoint passes its health check (or has none)',
    labelNames: ['service', 'endpoint'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of stats().services) for (const e of s.endpoints) this.set({ service: s.name, endpoint: ep(e) }, e.healthy ? 1 : 0);
    },
  });
  new Gauge({
    name: 'xlb_conntrack_entries',
    help: 'Tracked connections by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, n] of Object.entries(stats().conntrack)) this.set({ state }, n);
    },
  });
  const counterFrom = (name: string, help: string, labelNames: string[], fill: (c: Counter) => void): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this);
      },
    });
  };
  counterFrom('xlb_service_packets_total', 'Packets handled per service', ['service'], (c) => {
    for (const s of stats().services) c.inc({ service: s.name }, s.packets);
  });
  counterFrom('xlb_service_bytes_total', 'Bytes handled per service', ['service'], (c) => {
    for (const s of stats().services) c.inc({ service: s.name }, s.bytes);
  });
  counterFrom('xlb_endpoint_packets_total', 'Packets sent to each endpoint', ['service', 'endpoint'], (c) => {
    for (const s of stats().services) for (const e of s.endpoints) c.inc({ service: s.name, endpoint: ep(e) }, e.packets);
  });
  counterFrom('xlb_endpoint_bytes_total', 'Bytes sent to each endpoint', ['service', 'endpoint'], (c) => {
    for (const s of stats().services) for (const e of s.endpoints) c.inc({ service: s.name, endpoint: ep(e) }, e.bytes);
  });
  counterFrom('xlb_drops_total', 'Packets dropped by the datapath, by reason', ['reason'], (c) => {
    for (const [reason, n] of Object.entries(stats().drops)) c.inc({ reason }, n);
  });
  counterFrom('xlb_verdicts_total', 'Packets by datapath verdict/reason other than drops', ['reason'], (c) => {
    for (const [reason, n] of Object.entries(stats().verdicts)) c.inc({ reason }, n);
  });
  counterFrom('xlb_health_checks_total', 'Health-check probes by result', ['service', 'endpoint', 'result'], (c) => {
    for (const h of health?.status() ?? []) {
      c.inc({ service: h.service, endpoint: ep(h), result: 'ok' }, h.checks - h.failures);
      c.inc({ service: h.service, endpoint: ep(h), result: 'fail' }, h.failures);
    }
  });
  return registry;
}
