// JSON Schemas of the REST API: route schemas for fastify (responses are serialized through
// them) and the source of GET /openapi.json. Request bodies are validated by
// src/controller/validate.ts, which knows the semantic rules (address families, duplicates,
// datapath limits) and names the offending field; the body schemas here document the same
// shape for clients.
import { ALGORITHMS, DEAD_FLOW_POLICIES, HEALTH_CHECK_TYPES, MODES, PROTOCOLS } from '../controller/types.ts';

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const ip = { type: 'string', description: 'IPv4 or IPv6 address' } as const;

export const endpointSchema = {
  type: 'object',
  required: ['ip'],
  additionalProperties: false,
  properties: {
    ip,
    port: { type: 'integer', minimum: 0, maximum: 65535, description: '0 or absent (port ranges, DSR only): keep the destination port' },
    weight: { type: 'integer', minimum: 1, maximum: 65535, default: 1 },
    active: { type: 'boolean', default: true, description: 'administratively enabled' },
  },
} as const;

export const healthCheckSchema = {
  type: 'object',
  required: ['type'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: [...HEALTH_CHECK_TYPES] },
    port,
    path: { type: 'string' },
    expectStatus: { type: 'integer', minimum: 100, maximum: 599 },
    send: { type: 'string' },
    expect: { type: 'string' },
    intervalMs: { type: 'integer', minimum: 100, default: 2000 },
    timeoutMs: { type: 'integer', minimum: 10, default: 1000 },
    rise: { type: 'integer', minimum: 1, maximum: 100, default: 2 },
    fall: { type: 'integer', minimum: 1, maximum: 100, default: 3 },
  },
} as const;

const serviceProperties = {
  name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' },
  vip: ip,
  port,
  portEnd: { ...port, description: 'inclusive end of a port range' },
  protocol: { type: 'string', enum: [...PROTOCOLS], default: 'tcp' },
  algorithm: { type: 'string', enum: [...ALGORITHMS], default: 'maglev' },
  mode: { type: 'string', enum: [...MODES], default: 'dnat' },
  persistence: { type: 'object', additionalProperties: false, required: ['timeoutS'], properties: { timeoutS: { type: 'integer', minimum: 1, maximum: 86400 } } },
  policer: {
    type: 'object',
    additionalProperties: false,
    required: ['ratePps', 'burst'],
    properties: { ratePps: { type: 'integer', minimum: 1 }, burst: { type: 'integer', minimum: 1 } },
  },
  healthCheck: healthCheckSchema,
  deadFlowPolicy: { type: 'string', enum: [...DEAD_FLOW_POLICIES], default: 'keep' },
  endpoints: { type: 'array', items: endpointSchema },
} as const;

export const serviceBodySchema = {
  type: 'object',
  required: ['vip', 'port', 'endpoints'],
  additionalProperties: false,
  properties: { ...serviceProperties, status: { type: 'object', description: 'read-only (GET); ignored on PUT' } },
} as const;

const endpointStatusSchema = {
  type: 'object',
  properties: {
    ip,
    port: { type: 'integer' },
    slot: { type: 'integer', description: 'datapath slot; -1 when not programmed' },
    active: { type: 'boolean', description: 'what the datapath holds: administratively active and healthy' },
    healthy: { type: 'boolean' },
    lastCheck: { type: 'string' },
  },
} as const;

export const serviceViewSchema = {
  type: 'object',
  properties: {
    ...serviceProperties,
    status: {
      type: 'object',
      properties: {
        id: { type: 'integer', description: 'datapath service id; 0 when not programmed' },
        generation: { type: 'integer' },
        endpoints: { type: 'array', items: endpointStatusSchema },
      },
    },
  },
} as const;

export const errorSchema = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
} as const;

export const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string' } },
} as const;

const addrPort = { type: 'object', properties: { ip, port: { type: 'integer' } } } as const;

export const conntrackQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    service: { type: 'string', description: 'only flows of this service' },
    state: { type: 'string', description: 'only flows in these states, comma-separated (e.g. ESTABLISHED,SYN_RECV)' },
    limit: { type: 'integer', minimum: 1, maximum: 1000000, default: 1000 },
  },
} as const;

export const conntrackResponse = {
  type: 'object',
  properties: {
    total: { type: 'integer', description: 'flows matching the filter (entries holds at most limit)' },
    entries: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          service: { type: 'string' },
          serviceId: { type: 'integer' },
          protocol: { type: 'string' },
          client: addrPort,
          vip: addrPort,
          endpoint: addrPort,
          endpointSlot: { type: 'integer' },
          state: { type: 'string' },
          packets: { type: 'integer' },
          bytes: { type: 'integer' },
          ageMs: { type: 'integer' },
          idleMs: { type: 'integer' },
        },
      },
    },
  },
} as const;

const counter = { type: 'object', properties: { packets: { type: 'integer' }, bytes: { type: 'integer' } } } as const;

export const statsResponse = {
  type: 'object',
  properties: {
    services: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          id: { type: 'integer' },
          packets: { type: 'integer' },
          bytes: { type: 'integer' },
          endpoints: {
            type: 'array',
            items: { type: 'object', properties: { ...endpointStatusSchema.properties, ...counter.properties } },
          },
        },
      },
    },
    drops: { type: 'object', additionalProperties: { type: 'integer' } },
    verdicts: { type: 'object', additionalProperties: { type: 'integer' } },
    conntrack: { type: 'object', additionalProperties: { type: 'integer' }, description: 'flows by state' },
  },
} as const;

export const healthzResponse = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    services: { type: 'integer' },
    datapath: { type: 'string' },
    uptimeS: { type: 'number' },
  },
} as const;
