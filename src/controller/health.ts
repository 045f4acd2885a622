// Health checks: TCP connect, HTTP GET with an expected status, UDP request/response. Each
// (service, endpoint) with a health check is probed every `intervalMs`; a probe fails when it
// does not succeed within `timeoutMs` (≤ interval, enforced by validation). After `fall`
// consecutive failures an up endpoint goes down, after `rise` consecutive successes a down one
// comes up; the change is applied to the datapath at once (Controller.setHealth → reconcile of
// that one service), so it reaches the datapath within one interval of the deciding probe's
// start. Endpoints start in the health the controller holds: up, or down when the agent
// restored a persisted state (a restarted agent neither flaps every endpoint down and up nor
// sends new flows to an endpoint that was down when it stopped).
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { Controller } from './controller.ts';
import { endpointId } from './controller.ts';
import type { Endpoint, HealthCheck, Service } from './types.ts';

export interface ProbeResult {
  ok: boolean;
  /** What happened, for logs and the API (e.g. "connected", "status 503", "timeout after 1000 ms"). */
  detail: string;
  ms: number;
}

/** One probe of one endpoint. Never throws; always settles within about `hc.timeoutMs`. */
export function probe(hc: HealthCheck, ep: Pick<Endpoint, 'ip' | 'port'>): Promise<ProbeResult> {
  const port = hc.port ?? ep.port;
  const t0 = performance.now();
  return new Promise<ProbeResult>((resolve) => {
    let done = false;
    const cleanups: (() => void)[] = [];
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const c of cleanups) c();
      resolve({ ok, detail, ms: Math.round((performance.now() - t0) * 10) / 10 });
    };
    const timer = setTimeout(() => finish(false, `timeout after ${hc.timeoutMs} ms`), hc.timeoutMs);
    if (port === 0) {
      finish(false, 'no port to probe: set healthCheck.port (the endpoint keeps the client port)');
      return;
    }
    if (hc.type === 'tcp') {
      const sock = connect({ host: ep.ip, port });
      cleanups.push(() => sock.destroy());
      sock.once('connect', () => finish(true, 'connected'));
      sock.once('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
    } else if (hc.type === 'http') {
      const want = hc.expectStatus ?? 200;
      const req = request(
        {
          host: ep.ip,
          port,
          path: hc.path ?? '/',
          method: 'GET',
          agent: false,
          headers: { 'user-agent': 'xlb-health/1', connection: 'close' },
        },
        (res) => {
          res.resume();
          const got = res.statusCode ?? 0;
          finish(got === want, got === want ? `status ${got}` : `status ${got}, expected ${want}`);
        },
      );
      cleanups.push(() => req.destroy());
      req.once('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
      req.end();
    } else {
      const sock = createSocket(ep.ip.includes(':') ? 'udp6' : 'udp4');
      cleanups.push(() => sock.close());
      sock.once('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
      sock.on('message', (msg) => {
        if (hc.expect === undefined || msg.toString().includes(hc.expect)) finish(true, `reply of ${msg.length} bytes`);
        else finish(false, `reply without '${hc.expect}'`);
      });
      // connect() so an ICMP port unreachable surfaces as ECONNREFUSED instead of a timeout.
      sock.connect(port, ep.ip, () => sock.send(hc.send ?? 'ping'));
    }
  });
}

export interface EndpointHealth {
  service: string;
  ip: string;
  port: number;
  up: boolean;
  /** Consecutive results of the same kind as the last one. */
  streak: number;
  lastOk: boolean | null;
  lastDetail: string;
  lastMs: number;
  checks: number;
  failures: number;
  /** When the endpoint last changed state (ms since epoch), or null. */
  changedAt: number | null;
}

export interface HealthEvents {
  onProbe?: (h: EndpointHealth, r: ProbeResult) => void;
  onChange?: (h: EndpointHealth) => void;
  onError?: (service: string, err: unknown) => void;
}

/** The timers and the wall clock the monitor runs on (tests inject a virtual one). */
export interface HealthClock {
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const realClock: HealthClock = {
  now: () => Date.now(),
  setInterval: (fn, ms) => {
    const t = setInterval(fn, ms);
    t.unref();
    return t;
  },
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

export interface HealthOptions {
  /** Default: the real probes above. */
  probe?: (hc: HealthCheck, ep: Pick<Endpoint, 'ip' | 'port'>) => Promise<ProbeResult>;
  clock?: HealthClock;
}

interface Checker {
  key: string;
  hc: HealthCheck;
  state: EndpointHealth;
  timer: unknown;
  running: boolean;
}

export class HealthMonitor {
  private readonly controller: Controller;
  private readonly events: HealthEvents;
  private readonly checkers = new Map<string, Checker>();
  /** Checker keys per service name (so one service's change touches only its checkers). */
  private readonly byService = new Map<string, Set<string>>();
  private stopped = false;
  private readonly probe: NonNullable<HealthOptions['probe']>;
  private readonly clock: HealthClock;

  constructor(controller: Controller, events: HealthEvents = {}, opts: HealthOptions = {}) {
    this.controller = controller;
    this.events = events;
    this.probe = opts.probe ?? probe;
    this.clock = opts.clock ?? realClock;
  }

  /** Starts probes for new (service, endpoint) pairs and stops those no longer configured. */
  sync(): void {
    if (this.stopped) return;
    const names = new Set<string>();
    for (const s of this.controller.view()) {
      names.add(s.name);
      this.syncOne(s.name, s);
    }
    for (const name of [...this.byService.keys()]) if (!names.has(name)) this.syncOne(name, undefined);
  }

  /** sync() for one service after a change of that service alone: O(its endpoints), not O(all). */
  syncService(name: string): void {
    if (this.stopped) return;
    this.syncOne(name, this.controller.peek(name));
  }

  private syncOne(name: string, s: Readonly<Service> | undefined): void {
    const want = new Map<string, { ep: Endpoint; hc: HealthCheck }>();
    if (s?.healthCheck !== undefined) for (const ep of s.endpoints) want.set(`${name}/${endpointId(ep)}`, { ep, hc: s.healthCheck });
    const have = this.byService.get(name) ?? new Set<string>();
    for (const key of have) {
      const c = this.checkers.get(key);
      const w = want.get(key);
      if (c !== undefined && w !== undefined && JSON.stringify(w.hc) === JSON.stringify(c.hc)) continue;
      if (c !== undefined) this.clock.clearInterval(c.timer);
      this.checkers.delete(key);
      have.delete(key);
    }
    for (const [key, w] of want) {
      if (this.checkers.has(key)) continue;
      const state: EndpointHealth = {
        service: name,
        ip: w.ep.ip,
        port: w.ep.port,
        up: this.controller.isHealthy(name, w.ep),
        streak: 0,
        lastOk: null,
        lastDetail: 'not probed yet',
        lastMs: 0,
        checks: 0,
        failures: 0,
        changedAt: null,
      };
      const c: Checker = { key, hc: w.hc, state, running: false, timer: undefined };
      c.timer = this.clock.setInterval(() => void this.run(c), w.hc.intervalMs);
      this.checkers.set(key, c);
      have.add(key);
      void this.run(c);
    }
    if (have.size > 0) this.byService.set(name, have);
    else this.byService.delete(name);
  }

  private async run(c: Checker): Promise<void> {
    if (c.running || this.stopped) return;
    c.running = true;
    const r = await this.probe(c.hc, c.state);
    c.running = false;
    if (this.stopped || this.checkers.get(c.key) !== c) return;
    const s = c.state;
    s.checks++;
    if (!r.ok) s.failures++;
    s.streak = s.lastOk === r.ok ? s.streak + 1 : 1;
    s.lastOk = r.ok;
    s.lastDetail = r.detail;
    s.lastMs = r.ms;
    this.events.onProbe?.(s, r);
    const flip = s.up ? !r.ok && s.streak >= c.hc.fall : r.ok && s.streak >= c.hc.rise;
    if (!flip) return;
    s.up = !s.up;
    s.changedAt = this.clock.now();
    try {
      this.controller.setHealth(s.service, s, s.up);
    } catch (err) {
      this.events.onError?.(s.service, err);
    }
    this.events.onChange?.(s);
  }

  status(): EndpointHealth[] {
    return [...this.checkers.values()].map((c) => ({ ...c.state }));
  }

  /** status() of one service's endpoints. */
  statusOf(name: string): EndpointHealth[] {
    const out: EndpointHealth[] = [];
    for (const key of this.byService.get(name) ?? []) {
      const c = this.checkers.get(key);
      if (c !== undefined) out.push({ ...c.state });
    }
    return out;
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.checkers.values()) this.clock.clearInterval(c.timer);
    this.checkers.clear();
    this.byService.clear();
  }
}
