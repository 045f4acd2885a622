// The one definition of the service schema (TypeBox: JSON Schema values with their TypeScript
// types). It drives, from this file alone:
// - validation of REST bodies (fastify runs `schemaValidator` on every route's body) and of the
//   config file's services (validate.ts runs the same compiled check), so both refuse a bad
//   field with the same field-path message;
// - defaults (ajv's useDefaults fills them in from the `default` of each field);
// - the OpenAPI document (@fastify/swagger reads the route schemas built from these);
// - the TypeScript types of desired state (types.ts: Service, Endpoint, … are Static<> of these).
// What JSON Schema cannot say (the endpoint's address family against the VIP's, DSR ports, a
// timeout within its interval, duplicates, overlapping VIPs, the datapath's limits) is checked
// in one place after this, in validate.ts.
import { isIP } from 'node:net';
import { isDottedQuad } from './ip.ts';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { Type } from 'typebox';
import type { Static, TOptional, TProperties, TSchema } from 'typebox';
import { ALGORITHMS, DEAD_FLOW_POLICIES, HEALTH_CHECK_TYPES, MODES, PROTOCOLS } from './types.ts';

/** The schema keyword naming what a field must be, for error messages ("a port number"). */
const WHAT = 'x-what';

/** Service names: in URLs, metric labels and file names. */
export const SERVICE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
export const SERVICE_NAME_WHAT = 'a service name (1..63 of letters, digits, ".", "_", "-", starting with a letter or digit)';

function optional<P extends TProperties>(p: P): { [K in keyof P]: TOptional<P[K]> } {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Type.Optional(v)])) as { [K in keyof P]: TOptional<P[K]> };
}

const int = (min: number, max: number, what: string, extra: Record<string, unknown> = {}): ReturnType<typeof Type.Integer> =>
  Type.Integer({ minimum: min, maximum: max, [WHAT]: what, ...extra });
const port = (extra: Record<string, unknown> = {}): ReturnType<typeof Type.Integer> => int(1, 65535, 'a port number', extra);
const ip = (description: string): ReturnType<typeof Type.String> =>
  Type.String({ format: 'ip', description, [WHAT]: 'an IPv4 or IPv6 address' });
const oneOf = <T extends readonly string[]>(values: T, extra: Record<string, unknown> = {}) => Type.Enum([...values] as T[number][], extra);
const closed = { additionalProperties: false } as const;

export const ServiceNameSchema = Type.String({ pattern: SERVICE_NAME_PATTERN, [WHAT]: SERVICE_NAME_WHAT });

// ------------------------------------------------------------------ endpoints
const endpointDefaulted = {
  /** Used by wrr and maglev, ignored by the other algorithms. */
  weight: int(1, 65535, 'a weight', { default: 1, description: 'used by wrr and maglev, ignored by the other algorithms' }),
  active: Type.Boolean({ default: true, description: 'administratively enabled; health checks can only take it further down' }),
};
const endpointPort = int(0, 65535, 'a port number', { description: '0 or absent (port ranges, DSR only): keep the destination port' });

/** An endpoint as PUT takes it. */
export const EndpointBodySchema = Type.Object(
  { ip: ip('IPv4 or IPv6 address of the backend'), port: Type.Optional(endpointPort), ...optional(endpointDefaulted) },
  closed,
);
/** An endpoint once validated (defaults filled, canonical address). */
export const EndpointSchema = Type.Object({ ip: ip('IPv4 or IPv6 address of the backend'), port: endpointPort, ...endpointDefaulted });

// ------------------------------------------------------------------ health checks
const text = (what: string, description: string) => Type.String({ minLength: 1, maxLength: 1024, [WHAT]: what, description });
const healthCheckOptional = {
  port: port({ description: "port to probe; default the endpoint's port" }),
  path: Type.String({
    pattern: '^/[\\x21-\\x7e]*$',
    [WHAT]: 'an HTTP path starting with "/" (printable ASCII, no spaces)',
    description: 'http: request path (default "/")',
  }),
  expectStatus: int(100, 599, 'an HTTP status code', { description: 'http: expected status code (default 200)' }),
  send: text('a text of 1..1024 characters', 'udp: payload sent (default "ping")'),
  expect: text('a text of 1..1024 characters', 'udp: a reply must contain this text (default: any reply counts)'),
};
const healthCheckDefaulted = {
  intervalMs: int(100, 3_600_000, 'a number of milliseconds', { default: 2000 }),
  rise: int(1, 100, 'a count', { default: 2, description: 'consecutive successes that bring a down endpoint up' }),
  fall: int(1, 100, 'a count', { default: 3, description: 'consecutive failures that take an up endpoint down' }),
};
/** No JSON default: it depends on intervalMs (validate.ts fills it in). */
const healthCheckTimeout = int(10, 3_600_000, 'a number of milliseconds', {
  description: 'default 1000, or intervalMs when that is shorter; at most intervalMs',
});
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 1000;

export const HealthCheckBodySchema = Type.Object(
  {
    type: oneOf(HEALTH_CHECK_TYPES),
    ...optional(healthCheckOptional),
    ...optional(healthCheckDefaulted),
    timeoutMs: Type.Optional(healthCheckTimeout),
  },
  closed,
);
export const HealthCheckSchema = Type.Object({
  type: oneOf(HEALTH_CHECK_TYPES),
  ...optional(healthCheckOptional),
  ...healthCheckDefaulted,
  timeoutMs: healthCheckTimeout,
});

// ------------------------------------------------------------------ services
export const PolicerSchema = Type.Object(
  {
    ratePps: int(1, 1_000_000_000, 'a rate in packets per second', { description: 'sustained rate, packets per second' }),
    burst: int(1, 1_000_000_000, 'a number of packets', { description: 'bucket depth, packets' }),
  },
  closed,
);
export const PersistenceSchema = Type.Object(
  { timeoutS: int(1, 86400, 'a number of seconds') },
  { ...closed, description: 'source-IP persistence: the same client goes to the same endpoint for timeoutS seconds' },
);

const serviceDefaulted = {
  protocol: oneOf(PROTOCOLS, { default: 'tcp' }),
  algorithm: oneOf(ALGORITHMS, { default: 'maglev' }),
  mode: oneOf(MODES, { default: 'dnat' }),
  deadFlowPolicy: oneOf(DEAD_FLOW_POLICIES, {
    default: 'keep',
    description: 'keep: flows of a dead endpoint stay until they end; purge: their conntrack entries are deleted',
  }),
};
const serviceOptional = {
  portEnd: port({ description: 'inclusive end of a port range (absent: the single port `port`)' }),
  persistence: PersistenceSchema,
  policer: PolicerSchema,
};
const vip = ip('IPv4 or IPv6 address; canonical form after validation');

/** A service as PUT /v1/services/{name} takes it (and as the config file lists it). */
export const ServiceBodySchema = Type.Object(
  {
    name: Type.Optional(ServiceNameSchema),
    vip,
    port: port(),
    ...optional(serviceOptional),
    ...optional(serviceDefaulted),
    healthCheck: Type.Optional(HealthCheckBodySchema),
    endpoints: Type.Array(EndpointBodySchema, { [WHAT]: 'an array of endpoints ({"ip","port","weight"}); use [] for none' }),
    status: Type.Optional(Type.Unknown({ description: 'read-only (what GET shows); ignored, so a GET output can be PUT back as is' })),
  },
  closed,
);

/** A validated service: defaults filled, addresses canonical. */
export const ServiceSchema = Type.Object({
  name: ServiceNameSchema,
  vip,
  port: port(),
  ...optional(serviceOptional),
  ...serviceDefaulted,
  healthCheck: Type.Optional(HealthCheckSchema),
  endpoints: Type.Array(EndpointSchema),
});

/** The whole desired state: the config file's `services`, the body of PUT /v1/services. */
export const DesiredStateBodySchema = Type.Object({ services: Type.Array(ServiceBodySchema, { [WHAT]: 'a list of services' }) }, closed);

export type EndpointBody = Static<typeof EndpointBodySchema>;
export type HealthCheckBody = Static<typeof HealthCheckBodySchema>;
export type ServiceBody = Static<typeof ServiceBodySchema>;
export type DesiredStateBody = Static<typeof DesiredStateBodySchema>;

// ------------------------------------------------------------------ the checker

export interface FieldError {
  /** Path of the offending field, e.g. `services[web].endpoints[2].ip` ('' for the root). */
  path: string;
  message: string;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'missing value';
  if (typeof v === 'string') return `'${v.length > 60 ? `${v.slice(0, 60)}…` : v}'`;
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

let theAjv: Ajv | undefined;
/**
 * The one ajv of the project's schemas: every error (not the first), defaults filled, no coercion,
 * unknown fields refused (not dropped). Made at the first compile (like the checks, below).
 */
function ajv(): Ajv {
  if (theAjv !== undefined) return theAjv;
  const a = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: false, removeAdditional: false, verbose: true, strict: true });
  a.addKeyword({ keyword: WHAT, schemaType: 'string' });
  // Zone ids (fe80::1%eth0) are no datapath address.
  a.addFormat('ip', { type: 'string', validate: (s: string) => isDottedQuad(s) || (isIP(s) !== 0 && !s.includes('%')) });
  theAjv = a;
  return a;
}

/** `/services/0/endpoints/2/ip` → `services[web].endpoints[2].ip`: array items by their name when they have a valid one. */
function fieldPath(pointer: string, root: unknown, extra?: string): string {
  const parts =
    pointer === ''
      ? []
      : pointer
          .slice(1)
          .split('/')
          .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  let cur: unknown = root;
  for (const p of parts) {
    if (Array.isArray(cur)) {
      const item: unknown = cur[Number(p)];
      const name = typeof item === 'object' && item !== null ? (item as { name?: unknown }).name : undefined;
      out += typeof name === 'string' && new RegExp(SERVICE_NAME_PATTERN).test(name) ? `[${name}]` : `[${p}]`;
      cur = item;
    } else {
      out = out === '' ? p : `${out}.${p}`;
      cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[p] : undefined;
    }
  }
  return out;
}

/** What a schema asks for, in words: its x-what, with the range of an integer. */
function whatOf(s: Record<string, unknown> | undefined): string {
  if (s === undefined) return 'valid';
  if (Array.isArray(s.enum)) return `one of ${s.enum.join(', ')}`;
  const w =
    typeof s[WHAT] === 'string'
      ? (s[WHAT] as string)
      : s.type === 'integer'
        ? 'an integer'
        : s.type === 'boolean'
          ? 'true or false'
          : s.type === 'object'
            ? 'an object'
            : `a ${String(s.type)}`;
  if (s.type === 'integer' && typeof s.minimum === 'number' && typeof s.maximum === 'number') return `${w} in ${s.minimum}..${s.maximum}`;
  return w;
}

function fieldError(e: ErrorObject, root: unknown): FieldError {
  const parent = e.parentSchema as Record<string, unknown> | undefined;
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    const props = parent?.properties as Record<string, Record<string, unknown>> | undefined;
    return { path: fieldPath(e.instancePath, root, missing), message: `missing value is not ${whatOf(props?.[missing])}` };
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const allowed = Object.keys((parent?.properties as Record<string, unknown> | undefined) ?? {});
    return { path: fieldPath(e.instancePath, root, extra), message: `unknown field; allowed fields: ${allowed.join(', ')}` };
  }
  return { path: fieldPath(e.instancePath, root), message: `${describeValue(e.data)} is not ${whatOf(parent)}` };
}

export type Checked<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export interface SchemaCheck<T> {
  (input: unknown): Checked<T>;
  readonly schema: TSchema;
}

/**
 * A compiled check of `schema`: fills in defaults (in place: pass a value you own) and returns
 * the typed value, or one field error per offending field (the first problem of each).
 */
export function schemaCheck<S extends TSchema>(schema: S): SchemaCheck<Static<S>> {
  // Compiled at the first check, not when the module loads: compiling the service schemas takes
  // ~100 ms, which every importer would pay (the agent before its API listens, even without a
  // config file; the CLI commands that only import a type's module).
  let validate: ValidateFunction | undefined;
  const check = (input: unknown): Checked<Static<S>> => {
    validate ??= ajv().compile(schema);
    if (validate(input)) return { ok: true, value: input as Static<S> };
    const errors: FieldError[] = [];
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      const fe = fieldError(e, input);
      if (seen.has(fe.path)) continue;
      seen.add(fe.path);
      errors.push(fe);
    }
    return { ok: false, errors };
  };
  return Object.assign(check, { schema });
}

/** The compiled check of a schema, cached per schema object (fastify asks once per route). */
const checks = new WeakMap<object, SchemaCheck<unknown>>();
export function checkFor(schema: TSchema): SchemaCheck<unknown> {
  let c = checks.get(schema);
  if (c === undefined) {
    c = schemaCheck(schema);
    checks.set(schema, c);
  }
  return c;
}
