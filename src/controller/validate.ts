// Validation of untrusted desired state (REST bodies, YAML config). Every problem is reported
// with the path of the field (`services[web].endpoints[2].ip`), what is wrong and what is
// allowed; all problems are collected, not only the first. Nothing is applied unless the whole
// input is valid: callers get either a fully-typed value or the list of errors.
import { parseIp } from './ip.ts';
import type { Family } from './ip.ts';
import {
  ALGORITHMS,
  DEAD_FLOW_POLICIES,
  DEFAULT_LIMITS,
  HEALTH_CHECK_TYPES,
  MODES,
  PROTOCOLS,
  serviceKeyText,
} from './types.ts';
import type { DesiredState, Endpoint, HealthCheck, Limits, Policer, Service } from './types.ts';

export interface FieldError {
  /** Path of the offending field, e.g. `services[web].endpoints[2].ip` ('' for the root). */
  path: string;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export class ValidationError extends Error {
  readonly errors: FieldError[];
  constructor(errors: FieldError[]) {
    super(formatErrors(errors));
    this.name = 'ValidationError';
    this.errors = errors;
  }
}

export function formatErrors(errors: FieldError[]): string {
  return errors.map((e) => (e.path === '' ? e.message : `${e.path}: ${e.message}`)).join('\n');
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

type Obj = Record<string, unknown>;

class Checker {
  readonly errors: FieldError[] = [];
  fail(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }
  object(v: unknown, path: string, allowed: readonly string[]): Obj | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      return this.fail(path, `${describe(v)} is not an object`);
    }
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.fail(join(path, k), `unknown field; allowed fields: ${allowed.join(', ')}`);
    }
    return v as Obj;
  }
  int(v: unknown, path: string, min: number, max: number, what = 'an integer'): number | undefined {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      return this.fail(path, `${describe(v)} is not ${what} in ${min}..${max}`);
    }
    return v;
  }
  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T | undefined {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      return this.fail(path, `${describe(v)} is not one of ${allowed.join(', ')}`);
    }
    return v as T;
  }
  string(v: unknown, path: string, re: RegExp, what: string): string | undefined {
    if (typeof v !== 'string' || !re.test(v)) return this.fail(path, `${describe(v)} is not ${what}`);
    return v;
  }
  bool(v: unknown, path: string): boolean | undefined {
    if (typeof v !== 'boolean') return this.fail(path, `${describe(v)} is not true or false`);
    return v;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing value';
  if (typeof v === 'string') return `'${v.length > 60 ? `${v.slice(0, 60)}…` : v}'`;
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

const SERVICE_FIELDS = [
  'name',
  'vip',
  'port',
  'portEnd',
  'protocol',
  'algorithm',
  'mode',
  'persistence',
  'policer',
  'healthCheck',
  'deadFlowPolicy',
  'endpoints',
] as const;
const ENDPOINT_FIELDS = ['ip', 'port', 'weight', 'active'] as const;
const HC_FIELDS = ['type', 'port', 'path', 'expectStatus', 'send', 'expect', 'intervalMs', 'timeoutMs', 'rise', 'fall'] as const;

export const SERVICE_DEFAULTS = { protocol: 'tcp', algorithm: 'maglev', mode: 'dnat', deadFlowPolicy: 'keep' } as const;
export const HEALTH_CHECK_DEFAULTS = { intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3 } as const;

function checkEndpoint(c: Checker, v: unknown, path: string, family: Family | undefined, limits: Limits, portRule: PortRule): Endpoint | undefined {
  const before = c.errors.length;
  const o = c.object(v, path, ENDPOINT_FIELDS);
  if (o === undefined) return undefined;
  let ip: string | undefined;
  if (typeof o.ip !== 'string') c.fail(join(path, 'ip'), `${describe(o.ip)} is not an IPv4 or IPv6 address`);
  else {
    const p = parseIp(o.ip);
    if (p === undefined) c.fail(join(path, 'ip'), `'${o.ip}' is not an IPv4 or IPv6 address`);
    else if (family !== undefined && p.family !== family) {
      c.fail(join(path, 'ip'), `'${o.ip}' is IPv${p.family} but the VIP is IPv${family}: endpoints must have the VIP's address family`);
    } else ip = p.text;
  }
  let port: number | undefined;
  if (o.port === undefined && portRule.keepAllowed) port = 0;
  else {
    port = c.int(o.port, join(path, 'port'), portRule.keepAllowed ? 0 : 1, 65535, 'a port number');
    if (port !== undefined && portRule.mustEqual !== undefined && port !== 0 && port !== portRule.mustEqual) {
      port = c.fail(join(path, 'port'), `${port}: ${portRule.why}; use ${portRule.mustEqual} or leave it out`);
    }
  }
  const weight = o.weight === undefined ? 1 : c.int(o.weight, join(path, 'weight'), 1, limits.maxWeight, 'a weight');
  const active = o.active === undefined ? true : c.bool(o.active, join(path, 'active'));
  if (ip === undefined || port === undefined || weight === undefined || active === undefined || c.errors.length > before) return undefined;
  return { ip, port, weight, active };
}

interface PortRule {
  /** Endpoint port 0 / omitted = "keep the packet's destination port". */
  keepAllowed: boolean;
  mustEqual?: number;
  why?: string;
}

function checkHealthCheck(c: Checker, v: unknown, path: string): HealthCheck | undefined {
  const before = c.errors.length;
  const o = c.object(v, path, HC_FIELDS);
  if (o === undefined) return undefined;
  const type = c.oneOf(o.type, join(path, 'type'), HEALTH_CHECK_TYPES);
  const hc: Partial<HealthCheck> = { type };
  if (o.port !== undefined) hc.port = c.int(o.port, join(path, 'port'), 1, 65535, 'a port number');
  const onlyFor = (field: 'path' | 'expectStatus' | 'send' | 'expect', t: string): boolean => {
    if (o[field] === undefined) return false;
    if (type !== undefined && type !== t) {
      c.fail(join(path, field), `only applies to type '${t}' checks (this one is '${type}')`);
      return false;
    }
    return true;
  };
  if (onlyFor('path', 'http')) hc.path = c.string(o.path, join(path, 'path'), /^\/[\x21-\x7e]*$/, 'an HTTP path starting with "/" (printable ASCII, no spaces)');
  if (onlyFor('expectStatus', 'http')) hc.expectStatus = c.int(o.expectStatus, join(path, 'expectStatus'), 100, 599, 'an HTTP status code');
  if (onlyFor('send', 'udp')) hc.send = c.string(o.send, join(path, 'send'), /^[\s\S]{1,1024}$/, 'a text of 1..1024 characters');
  if (onlyFor('expect', 'udp')) hc.expect = c.string(o.expect, join(path, 'expect'), /^[\s\S]{1,1024}$/, 'a text of 1..1024 characters');
  hc.intervalMs = o.intervalMs === undefined ? HEALTH_CHECK_DEFAULTS.intervalMs : c.int(o.intervalMs, join(path, 'intervalMs'), 100, 3_600_000, 'a number of milliseconds');
  // Default timeout: 1000 ms, or the interval when that is shorter (a probe ends within one interval).
  hc.timeoutMs = o.timeoutMs === undefined ? Math.min(HEALTH_CHECK_DEFAULTS.timeoutMs, hc.intervalMs ?? HEALTH_CHECK_DEFAULTS.intervalMs) : c.int(o.timeoutMs, join(path, 'timeoutMs'), 10, 3_600_000, 'a number of milliseconds');
  hc.rise = o.rise === undefined ? HEALTH_CHECK_DEFAULTS.rise : c.int(o.rise, join(path, 'rise'), 1, 100, 'a count');
  hc.fall = o.fall === undefined ? HEALTH_CHECK_DEFAULTS.fall : c.int(o.fall, join(path, 'fall'), 1, 100, 'a count');
  if (hc.intervalMs !== undefined && hc.timeoutMs !== undefined && hc.timeoutMs > hc.intervalMs) {
    c.fail(join(path, 'timeoutMs'), `${hc.timeoutMs} is longer than intervalMs ${hc.intervalMs}: a probe must finish within one interval`);
  }
  if (c.errors.length > before) return undefined;
  for (const k of Object.keys(hc) as (keyof HealthCheck)[]) if (hc[k] === undefined) delete hc[k];
  return hc as HealthCheck;
}

function checkPolicer(c: Checker, v: unknown, path: string): Policer | undefined {
  const before = c.errors.length;
  const o = c.object(v, path, ['ratePps', 'burst']);
  if (o === undefined) return undefined;
  const ratePps = c.int(o.ratePps, join(path, 'ratePps'), 1, 1_000_000_000, 'a rate in packets per second');
  const burst = c.int(o.burst, join(path, 'burst'), 1, 1_000_000_000, 'a number of packets');
  return ratePps === undefined || burst === undefined || c.errors.length > before ? undefined : { ratePps, burst };
}

/**
 * Validates one service. `path` prefixes every error path (e.g. `services[web]`, or '' for a
 * REST body). `nameFromUrl`, when given, must match the body's name (or fills it in).
 */
function checkService(c: Checker, v: unknown, path: string, limits: Limits, nameFromUrl?: string): Service | undefined {
  const before = c.errors.length;
  const o = c.object(v, path, SERVICE_FIELDS);
  if (o === undefined) return undefined;
  let name: string | undefined;
  if (nameFromUrl !== undefined && o.name !== undefined && o.name !== nameFromUrl) {
    c.fail(join(path, 'name'), `${describe(o.name)} differs from the name in the URL '${nameFromUrl}'; leave it out or make them equal`);
  } else {
    name = c.string(o.name ?? nameFromUrl, join(path, 'name'), NAME_RE, 'a service name (1..63 of letters, digits, ".", "_", "-", starting with a letter or digit)');
  }
  let family: Family | undefined;
  let vip: string | undefined;
  if (typeof o.vip !== 'string') c.fail(join(path, 'vip'), `${describe(o.vip)} is not an IPv4 or IPv6 address`);
  else {
    const p = parseIp(o.vip);
    if (p === undefined) c.fail(join(path, 'vip'), `'${o.vip}' is not an IPv4 or IPv6 address`);
    else {
      family = p.family;
      vip = p.text;
    }
  }
  const port = c.int(o.port, join(path, 'port'), 1, 65535, 'a port number');
  let portEnd: number | undefined;
  if (o.portEnd !== undefined) {
    portEnd = c.int(o.portEnd, join(path, 'portEnd'), 1, 65535, 'a port number');
    if (portEnd !== undefined && port !== undefined && portEnd <= port) {
      portEnd = c.fail(join(path, 'portEnd'), `${portEnd} is not above port ${port}: a range is port..portEnd inclusive (leave portEnd out for one port)`);
    }
  }
  const protocol = o.protocol === undefined ? SERVICE_DEFAULTS.protocol : c.oneOf(o.protocol, join(path, 'protocol'), PROTOCOLS);
  const algorithm = o.algorithm === undefined ? SERVICE_DEFAULTS.algorithm : c.oneOf(o.algorithm, join(path, 'algorithm'), ALGORITHMS);
  const mode = o.mode === undefined ? SERVICE_DEFAULTS.mode : c.oneOf(o.mode, join(path, 'mode'), MODES);
  const deadFlowPolicy = o.deadFlowPolicy === undefined ? SERVICE_DEFAULTS.deadFlowPolicy : c.oneOf(o.deadFlowPolicy, join(path, 'deadFlowPolicy'), DEAD_FLOW_POLICIES);
  let persistence: Service['persistence'];
  if (o.persistence !== undefined) {
    const p = c.object(o.persistence, join(path, 'persistence'), ['timeoutS']);
    if (p !== undefined) {
      const timeoutS = c.int(p.timeoutS, join(path, 'persistence.timeoutS'), 1, 86400, 'a number of seconds');
      if (timeoutS !== undefined) persistence = { timeoutS };
    }
  }
  const policer = o.policer === undefined ? undefined : checkPolicer(c, o.policer, join(path, 'policer'));
  const healthCheck = o.healthCheck === undefined ? undefined : checkHealthCheck(c, o.healthCheck, join(path, 'healthCheck'));

  const portRule: PortRule =
    mode === 'dsr'
      ? { keepAllowed: true, mustEqual: port, why: 'DSR does not rewrite ports (the backend answers the client directly)' }
      : portEnd !== undefined
        ? { keepAllowed: true }
        : { keepAllowed: false };
  const endpoints: Endpoint[] = [];
  if (!Array.isArray(o.endpoints)) {
    c.fail(join(path, 'endpoints'), `${describe(o.endpoints)} is not an array of endpoints ({"ip","port","weight"}); use [] for none`);
  } else if (o.endpoints.length > limits.maxEndpoints) {
    c.fail(join(path, 'endpoints'), `${o.endpoints.length} endpoints is more than the datapath maximum of ${limits.maxEndpoints} per service`);
  } else {
    const seen = new Map<string, number>();
    o.endpoints.forEach((ev: unknown, i: number) => {
      const ep = checkEndpoint(c, ev, `${path}.endpoints[${i}]`.replace(/^\./, ''), family, limits, portRule);
      if (ep === undefined) return;
      const id = `${ep.ip}#${ep.port}`;
      const first = seen.get(id);
      if (first !== undefined) {
        c.fail(`${path}.endpoints[${i}]`.replace(/^\./, ''), `duplicate endpoint ${ep.ip} port ${ep.port} (same as endpoints[${first}]); each ip+port may appear once`);
        return;
      }
      seen.set(id, i);
      endpoints.push(ep);
    });
  }
  if (c.errors.length > before) return undefined;
  const svc: Service = {
    name: name as string,
    vip: vip as string,
    port: port as number,
    protocol: protocol as Service['protocol'],
    algorithm: algorithm as Service['algorithm'],
    mode: mode as Service['mode'],
    deadFlowPolicy: deadFlowPolicy as Service['deadFlowPolicy'],
    endpoints,
  };
  if (portEnd !== undefined) svc.portEnd = portEnd;
  if (persistence !== undefined) svc.persistence = persistence;
  if (policer !== undefined) svc.policer = policer;
  if (healthCheck !== undefined) svc.healthCheck = healthCheck;
  return svc;
}

/** Validates one service (a REST body). Error paths are relative to the body. */
export function validateService(input: unknown, opts: { limits?: Limits; nameFromUrl?: string } = {}): Validated<Service> {
  const c = new Checker();
  const s = checkService(c, input, '', opts.limits ?? DEFAULT_LIMITS, opts.nameFromUrl);
  return s === undefined ? { ok: false, errors: c.errors } : { ok: true, value: s };
}

/** `tcp:198.18.100.1:80` or `tcp:198.18.100.1:80-90`. */
export function describeKey(s: Service): string {
  return `${serviceKeyText(s)}${s.portEnd !== undefined ? `-${s.portEnd}` : ''}`;
}

/** Two services claim a common VIP/protocol/port. */
export function servicesOverlap(a: Service, b: Service): boolean {
  if (a.vip !== b.vip || a.protocol !== b.protocol) return false;
  return a.port <= (b.portEnd ?? b.port) && b.port <= (a.portEnd ?? a.port);
}

/** Cross-service rules: unique names, no two services on the same VIP/protocol/port. */
export function checkConflicts(services: Service[], paths: string[], limits: Limits): FieldError[] {
  const errors: FieldError[] = [];
  if (services.length > limits.maxServices) {
    errors.push({ path: 'services', message: `${services.length} services is more than the datapath maximum of ${limits.maxServices}` });
  }
  const byName = new Map<string, number>();
  services.forEach((s, i) => {
    const first = byName.get(s.name);
    if (first !== undefined) errors.push({ path: `${paths[i]}.name`, message: `duplicate service name '${s.name}' (also ${paths[first]}); names must be unique` });
    else byName.set(s.name, i);
  });
  // Sort by (vip, protocol, port) so overlap checks are O(n log n) for 10,000s of services.
  const order = services.map((_, i) => i).sort((x, y) => {
    const a = services[x] as Service;
    const b = services[y] as Service;
    return a.vip < b.vip ? -1 : a.vip > b.vip ? 1 : a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : a.port - b.port;
  });
  // One port range per VIP and protocol (the datapath keeps ranges under one key per VIP).
  const rangeOf = new Map<string, number>();
  services.forEach((s, i) => {
    if (s.portEnd === undefined) return;
    const k = `${s.vip}|${s.protocol}`;
    const first = rangeOf.get(k);
    if (first === undefined) rangeOf.set(k, i);
    else errors.push({ path: `${paths[i]}.portEnd`, message: `${s.vip} ${s.protocol} already has the port range of ${paths[first]}; one port range per VIP and protocol` });
  });
  // Within one VIP/protocol, compare each service with the earlier one reaching furthest.
  let reach: Service | undefined;
  for (const idx of order) {
    const cur = services[idx] as Service;
    if (reach !== undefined && (reach.vip !== cur.vip || reach.protocol !== cur.protocol)) reach = undefined;
    if (reach !== undefined && servicesOverlap(reach, cur)) {
      errors.push({
        path: `${paths[idx]}.port`,
        message: `${describeKey(cur)} overlaps service '${reach.name}' (${describeKey(reach)}); a VIP/protocol/port may belong to one service`,
      });
    }
    if (reach === undefined || (cur.portEnd ?? cur.port) > (reach.portEnd ?? reach.port)) reach = cur;
  }
  return errors;
}

/** Validates a whole desired state (the config file's `services` list). */
export function validateDesiredState(input: unknown, limits: Limits = DEFAULT_LIMITS): Validated<DesiredState> {
  const c = new Checker();
  const root = c.object(input ?? {}, '', ['services']);
  if (root === undefined) return { ok: false, errors: c.errors };
  const list = root.services ?? [];
  if (!Array.isArray(list)) return { ok: false, errors: [{ path: 'services', message: `${describe(list)} is not a list of services` }] };
  const services: Service[] = [];
  const paths: string[] = [];
  list.forEach((v: unknown, i: number) => {
    const n = typeof v === 'object' && v !== null && typeof (v as Obj).name === 'string' && NAME_RE.test((v as Obj).name as string) ? ((v as Obj).name as string) : String(i);
    const path = `services[${n}]`;
    const s = checkService(c, v, path, limits);
    if (s !== undefined) {
      services.push(s);
      paths.push(path);
    }
  });
  c.errors.push(...checkConflicts(services, paths, limits));
  return c.errors.length > 0 ? { ok: false, errors: c.errors } : { ok: true, value: { services } };
}
