// Desired state: what an operator asks for (REST body, YAML config, scenario). Plain JSON-able
// objects; `validate.ts` turns untrusted input into these types or a list of precise errors.
import type { Static } from 'typebox';
import type { EndpointSchema, HealthCheckSchema, PolicerSchema, ServiceSchema } from './service-schema.ts';

export const PROTOCOLS = ['tcp', 'udp'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export const ALGORITHMS = ['rr', 'wrr', 'hash', 'maglev', 'lc', 'random'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export const MODES = ['dnat', 'fullnat', 'dsr'] as const;
export type Mode = (typeof MODES)[number];

export const HEALTH_CHECK_TYPES = ['tcp', 'http', 'udp'] as const;
export type HealthCheckType = (typeof HEALTH_CHECK_TYPES)[number];

/**
 * What happens to the established flows of an endpoint that health checks declare dead:
 * - `keep`: the flows stay pinned to it until they close or expire (the default; a backend that
 *   is only failing its health check may still finish in-flight work);
 * - `purge`: their conntrack entries are deleted, so their next packet is treated as a new flow
 *   and goes to a live endpoint (UDP moves over; TCP gets whatever the new backend answers to a
 *   mid-stream segment, usually a RST: the client reconnects instead of hanging).
 */
export const DEAD_FLOW_POLICIES = ['keep', 'purge'] as const;
export type DeadFlowPolicy = (typeof DEAD_FLOW_POLICIES)[number];

// The shapes of validated desired state are the schema's (service-schema.ts: one definition
// drives validation, defaults, the OpenAPI document and these types).
export type Endpoint = Static<typeof EndpointSchema>;
export type HealthCheck = Static<typeof HealthCheckSchema>;
export type Policer = Static<typeof PolicerSchema>;
export type Service = Static<typeof ServiceSchema>;

/** The whole desired state (the agent's config file holds it, plus agent options). */
export interface DesiredState {
  services: Service[];
}

/** Datapath limits the validation enforces (the kernel datapath supplies its own). */
export interface Limits {
  maxEndpoints: number;
  maxServices: number;
  maxWeight: number;
}

export const DEFAULT_LIMITS: Limits = { maxEndpoints: 64, maxServices: 16384, maxWeight: 65535 };

/** A stable text identity of the datapath key of a service (VIP, port, protocol). */
export function serviceKeyText(s: Pick<Service, 'vip' | 'port' | 'protocol'>): string {
  return `${s.protocol}:${s.vip.includes(':') ? `[${s.vip}]` : s.vip}:${s.port}`;
}
