// Validation of untrusted desired state (REST bodies, YAML config). Two steps, each in one
// place: the schema (service-schema.ts: shapes, ranges, enums, unknown fields, defaults; the
// same compiled check fastify runs on REST bodies) and then the rules JSON Schema cannot state,
// here (canonical addresses, the VIP's family, DSR and range ports, a probe within its interval,
// duplicate endpoints, the datapath's limits; across services: unique names, no overlap).
// Every problem is reported with the path of the field (`services[web].endpoints[2].ip`), what
// is wrong and what is allowed; all problems are collected, not only the first. Nothing is
// applied unless the whole input is valid: callers get either a fully-typed value or the errors.
import { canonicalIpText } from './ip.ts';
import type { Family } from './ip.ts';
import { DEFAULT_LIMITS, serviceKeyText } from './types.ts';
import type { DesiredState, Endpoint, HealthCheck, Limits, Service } from './types.ts';
import {
  DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
  DesiredStateBodySchema,
  SERVICE_NAME_WHAT,
  ServiceBodySchema,
  describeValue,
  schemaCheck,
} from './service-schema.ts';
import type { FieldError, HealthCheckBody, ServiceBody } from './service-schema.ts';

export type { FieldError } from './service-schema.ts';

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

/** The schema checks (compiled once); they fill defaults into the value they are given. */
export const checkServiceBody = schemaCheck(ServiceBodySchema);
export const checkDesiredStateBody = schemaCheck(DesiredStateBodySchema);

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function endpointPath(path: string, i: number): string {
  return join(path, `endpoints[${i}]`);
}

/**
 * A copy the schema check may fill with defaults (the caller's object stays as it was). Plain
 * objects and arrays (what JSON and YAML parsers give) are copied member by member, anything
 * else by structuredClone: structuredClone of a whole 100,000-service list took 4 s, this copy
 * a tenth of that.
 */
function own(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  if (Array.isArray(input)) {
    const out = new Array<unknown>(input.length);
    for (let i = 0; i < input.length; i++) out[i] = own(input[i]);
    return out;
  }
  const proto = Object.getPrototypeOf(input) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(input);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(input)) {
    const v = own((input as Record<string, unknown>)[k]);
    // A "__proto__" key (JSON.parse makes it an own property) stays a property, as structuredClone keeps it.
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

interface PortRule {
  /** Endpoint port 0 / omitted = "keep the packet's destination port". */
  keepAllowed: boolean;
  mustEqual?: number;
  why?: string;
}

function semanticHealthCheck(errors: FieldError[], hc: HealthCheckBody, path: string): HealthCheck {
  for (const [field, t] of [
    ['path', 'http'],
    ['expectStatus', 'http'],
    ['send', 'udp'],
    ['expect', 'udp'],
  ] as const) {
    if (hc[field] !== undefined && hc.type !== t)
      errors.push({ path: join(path, field), message: `only applies to type '${t}' checks (this one is '${hc.type}')` });
  }
  // The schema filled intervalMs, rise and fall; the timeout's default depends on the interval
  // (a probe ends within one interval).
  const intervalMs = hc.intervalMs as number;
  const timeoutMs = hc.timeoutMs ?? Math.min(DEFAULT_HEALTH_CHECK_TIMEOUT_MS, intervalMs);
  if (timeoutMs > intervalMs) {
    errors.push({
      path: join(path, 'timeoutMs'),
      message: `${timeoutMs} is longer than intervalMs ${intervalMs}: a probe must finish within one interval`,
    });
  }
  return { ...hc, intervalMs, timeoutMs, rise: hc.rise as number, fall: hc.fall as number };
}

/**
 * The rules of one schema-valid service. `path` prefixes every error path (e.g.
 * `services[web]`, or '' for a REST body). `nameFromUrl`, when given, must match the body's
 * name (or fills it in).
 */
function semanticService(errors: FieldError[], b: ServiceBody, path: string, limits: Limits, nameFromUrl?: string): Service | undefined {
  const before = errors.length;
  const name = b.name ?? nameFromUrl;
  if (nameFromUrl !== undefined && b.name !== undefined && b.name !== nameFromUrl) {
    errors.push({
      path: join(path, 'name'),
      message: `'${b.name}' differs from the name in the URL '${nameFromUrl}'; leave it out or make them equal`,
    });
  } else if (name === undefined) {
    errors.push({ path: join(path, 'name'), message: `missing value is not ${SERVICE_NAME_WHAT}` });
  }
  // The schema's format check accepted the text: canonicalIp canonicalises it.
  const v = canonicalIpText(b.vip) as { family: Family; text: string };
  if (b.portEnd !== undefined && b.portEnd <= b.port) {
    errors.push({
      path: join(path, 'portEnd'),
      message: `${b.portEnd} is not above port ${b.port}: a range is port..portEnd inclusive (leave portEnd out for one port)`,
    });
  }
  const mode = b.mode as Service['mode'];
  const portRule: PortRule =
    mode === 'dsr'
      ? { keepAllowed: true, mustEqual: b.port, why: 'DSR does not rewrite ports (the backend answers the client directly)' }
      : b.portEnd !== undefined
        ? { keepAllowed: true }
        : { keepAllowed: false };
  const healthCheck = b.healthCheck === undefined ? undefined : semanticHealthCheck(errors, b.healthCheck, join(path, 'healthCheck'));
  const endpoints: Endpoint[] = [];
  if (b.endpoints.length > limits.maxEndpoints) {
    errors.push({
      path: join(path, 'endpoints'),
      message: `${b.endpoints.length} endpoints is more than the datapath maximum of ${limits.maxEndpoints} per service`,
    });
  } else {
    const seen = new Map<string, number>();
    b.endpoints.forEach((e, i) => {
      // The path only when there is an error to report (a load builds none for 800,000 valid endpoints).
      const p = canonicalIpText(e.ip) as { family: Family; text: string };
      if (p.family !== v.family) {
        errors.push({
          path: `${endpointPath(path, i)}.ip`,
          message: `'${e.ip}' is IPv${p.family} but the VIP is IPv${v.family}: endpoints must have the VIP's address family`,
        });
        return;
      }
      let port = e.port;
      if (port === undefined || port === 0) {
        if (!portRule.keepAllowed) {
          errors.push({ path: `${endpointPath(path, i)}.port`, message: `${describeValue(port)} is not a port number in 1..65535` });
          return;
        }
        port = 0;
      } else if (portRule.mustEqual !== undefined && port !== portRule.mustEqual) {
        errors.push({
          path: `${endpointPath(path, i)}.port`,
          message: `${port}: ${portRule.why}; use ${portRule.mustEqual} or leave it out`,
        });
        return;
      }
      const weight = e.weight as number;
      if (weight > limits.maxWeight) {
        errors.push({ path: `${endpointPath(path, i)}.weight`, message: `${weight} is not a weight in 1..${limits.maxWeight}` });
        return;
      }
      const id = `${p.text}#${port}`;
      const first = seen.get(id);
      if (first !== undefined) {
        errors.push({
          path: endpointPath(path, i),
          message: `duplicate endpoint ${p.text} port ${port} (same as endpoints[${first}]); each ip+port may appear once`,
        });
        return;
      }
      seen.set(id, i);
      endpoints.push({ ip: p.text, port, weight, active: e.active as boolean });
    });
  }
  if (errors.length > before) return undefined;
  const svc: Service = {
    name: name as string,
    vip: v.text,
    port: b.port,
    protocol: b.protocol as Service['protocol'],
    algorithm: b.algorithm as Service['algorithm'],
    mode,
    deadFlowPolicy: b.deadFlowPolicy as Service['deadFlowPolicy'],
    endpoints,
  };
  if (b.portEnd !== undefined) svc.portEnd = b.portEnd;
  if (b.persistence !== undefined) svc.persistence = b.persistence;
  if (b.policer !== undefined) svc.policer = b.policer;
  if (healthCheck !== undefined) svc.healthCheck = healthCheck;
  return svc;
}

/**
 * Options of the validators. `schemaChecked`: the input already passed this schema's check and
 * holds its defaults (the REST API's route validation ran the same compiled check on the body
 * it parsed), so only the semantic rules run: no second check, no defensive copy (a copy of
 * 10,000 services was a tenth of a bulk PUT).
 */
export interface ValidateOptions {
  limits?: Limits;
  nameFromUrl?: string;
  schemaChecked?: boolean;
}

/** Validates one service (a REST body). Error paths are relative to the body. */
export function validateService(input: unknown, opts: ValidateOptions = {}): Validated<Service> {
  const r = opts.schemaChecked === true ? { ok: true as const, value: input as ServiceBody } : checkServiceBody(own(input));
  if (!r.ok) return r;
  const errors: FieldError[] = [];
  const s = semanticService(errors, r.value, '', opts.limits ?? DEFAULT_LIMITS, opts.nameFromUrl);
  return s === undefined ? { ok: false, errors } : { ok: true, value: s };
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
    if (first !== undefined)
      errors.push({ path: `${paths[i]}.name`, message: `duplicate service name '${s.name}' (also ${paths[first]}); names must be unique` });
    else byName.set(s.name, i);
  });
  // Sort by (vip, protocol, port) so overlap checks are O(n log n) for 10,000s of services.
  const order = services
    .map((_, i) => i)
    .sort((x, y) => {
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
    else
      errors.push({
        path: `${paths[i]}.portEnd`,
        message: `${s.vip} ${s.protocol} already has the port range of ${paths[first]}; one port range per VIP and protocol`,
      });
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

/** Validates a whole desired state (the config file's `services` list, PUT /v1/services). */
export function validateDesiredState(
  input: unknown,
  limits: Limits = DEFAULT_LIMITS,
  opts: Pick<ValidateOptions, 'schemaChecked'> = {},
): Validated<DesiredState> {
  const r =
    opts.schemaChecked === true
      ? { ok: true as const, value: input as { services: ServiceBody[] } }
      : checkDesiredStateBody(own(input ?? { services: [] }));
  if (!r.ok) return r;
  const errors: FieldError[] = [];
  const services: Service[] = [];
  const paths: string[] = [];
  r.value.services.forEach((b, i) => {
    const path = `services[${b.name ?? i}]`;
    const s = semanticService(errors, b, path, limits);
    if (s !== undefined) {
      services.push(s);
      paths.push(path);
    }
  });
  errors.push(...checkConflicts(services, paths, limits));
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: { services } };
}
