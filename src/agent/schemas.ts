// The REST API's schemas beyond the service itself (TypeBox; the service body is the
// controller's, src/controller/service-schema.ts). Each route's schema validates its input
// (fastify, through the controller's one checker), serializes its response, feeds the OpenAPI
// document (@fastify/swagger) and, through Static<>, types the views (views.ts) that the
// server builds and the client (client.ts) reads.
import { Type } from 'typebox';
import { CT_STATE } from '../schema/maps.ts';
import { DesiredStateBodySchema, ServiceBodySchema, ServiceNameSchema, ServiceSchema } from '../controller/service-schema.ts';

export { DesiredStateBodySchema, ServiceBodySchema };

const ip = Type.String({ description: 'IPv4 or IPv6 address' });
const addrPort = Type.Object({ ip, port: Type.Integer() });

export const EndpointStatusSchema = Type.Object({
  ip,
  port: Type.Integer(),
  slot: Type.Integer({ description: 'datapath slot; -1 when not programmed' }),
  active: Type.Boolean({ description: 'what the datapath holds: administratively active and healthy' }),
  healthy: Type.Boolean(),
  lastCheck: Type.Optional(Type.String({ description: 'result of the last health check: ok/fail/pending and its detail' })),
});

export const ServiceViewSchema = Type.Object({
  ...ServiceSchema.properties,
  status: Type.Object({
    id: Type.Integer({ description: 'datapath service id; 0 when not programmed' }),
    generation: Type.Integer(),
    endpoints: Type.Array(EndpointStatusSchema),
  }),
});

export const ServiceListSchema = Type.Object({ services: Type.Array(ServiceViewSchema) });

export const PutServiceViewSchema = Type.Object({
  action: Type.Enum(['created', 'updated', 'unchanged']),
  service: ServiceViewSchema,
});

export const ReplaceServicesViewSchema = Type.Object({
  created: Type.Integer(),
  updated: Type.Integer(),
  deleted: Type.Integer(),
  unchanged: Type.Integer(),
});

export const ErrorSchema = Type.Object({
  error: Type.String({ description: "a short code: 'invalid', 'not found', 'refused', 'unauthorized', 'internal', …" }),
  message: Type.String(),
  errors: Type.Optional(
    Type.Array(Type.Object({ path: Type.String(), message: Type.String() }), { description: 'the field errors of a 400' }),
  ),
});

export const NameParamsSchema = Type.Object({ name: ServiceNameSchema });

export const ConntrackQuerySchema = Type.Object(
  {
    service: Type.Optional(Type.String({ description: 'only flows of this service' })),
    state: Type.Optional(
      Type.String({ description: `only flows in these states, comma-separated, case-insensitive; of ${CT_STATE.join(', ')}` }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000, 'x-what': 'an integer' })),
  },
  { additionalProperties: false },
);

export const FlowViewSchema = Type.Object({
  service: Type.String({ description: "the service's name; '' when the controller does not know the id" }),
  serviceId: Type.Integer(),
  protocol: Type.Enum(['tcp', 'udp', 'icmp']),
  client: addrPort,
  vip: addrPort,
  endpoint: addrPort,
  endpointSlot: Type.Integer({ description: 'endpoint slot; -1 when the datapath does not record it' }),
  state: Type.String({ description: `one of ${CT_STATE.join(', ')}` }),
  packets: Type.Integer(),
  bytes: Type.Integer(),
  ageMs: Type.Integer(),
  idleMs: Type.Integer(),
});

export const ConntrackViewSchema = Type.Object({
  total: Type.Integer({ description: 'flows matching the filter (entries holds at most limit)' }),
  entries: Type.Array(FlowViewSchema),
});

const counts = Type.Record(Type.String(), Type.Integer());

export const StatsViewSchema = Type.Object({
  services: Type.Array(
    Type.Object({
      name: Type.String(),
      id: Type.Integer(),
      packets: Type.Integer(),
      bytes: Type.Integer(),
      endpoints: Type.Array(Type.Object({ ...EndpointStatusSchema.properties, packets: Type.Integer(), bytes: Type.Integer() })),
    }),
  ),
  drops: counts,
  verdicts: counts,
  conntrack: Type.Record(Type.String(), Type.Integer(), {
    description: 'tracked flows (one per connection) by state, as counted conntrackAgeMs ago',
  }),
  conntrackAgeMs: Type.Integer({
    description:
      "age of the conntrack count: the datapath counts flows by state in the background (the agent's conntrack maintenance), not at every request",
  }),
});

export const HealthzViewSchema = Type.Object({
  status: Type.Literal('ok'),
  services: Type.Integer(),
  datapath: Type.String(),
  uptimeS: Type.Number(),
});
