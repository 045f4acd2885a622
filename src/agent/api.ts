// The agent's REST API (fastify). Every route's schema (TypeBox: src/agent/schemas.ts and the
// controller's service schema) validates its input through the controller's one checker (so a
// REST body and the config file are refused with the same field-path messages), serializes
// its response, types the handlers (TypeBox type provider) and feeds GET /openapi.json
// (@fastify/swagger). The controller then checks what a schema cannot say and refuses a whole
// request before anything changes.
import { timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaCompiler,
  FastifyServerFactory,
} from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TSchema } from 'typebox';
import type { Controller } from '../controller/controller.ts';
import type { HealthMonitor } from '../controller/health.ts';
import { checkFor } from '../controller/service-schema.ts';
import { ValidationError } from '../controller/validate.ts';
import { DatapathRefusal } from '../controller/datapath.ts';
import { CT_STATE } from '../schema/maps.ts';
import { createMetrics } from './metrics.ts';
import {
  ConntrackQuerySchema,
  ConntrackViewSchema,
  DesiredStateBodySchema,
  ErrorSchema,
  HealthzViewSchema,
  NameParamsSchema,
  PutServiceViewSchema,
  ReplaceServicesViewSchema,
  ServiceBodySchema,
  ServiceListSchema,
  ServiceViewSchema,
  StatsViewSchema,
} from './schemas.ts';
import { conntrackView, oneServiceView, serviceViews, statsView } from './views.ts';
import type { HealthzView, PutServiceView, ReplaceServicesView, ServiceListView } from './views.ts';

export interface ApiOptions {
  controller: Controller;
  health?: HealthMonitor;
  /** Bearer token; when set every route but /healthz requires `Authorization: Bearer TOKEN`. */
  token?: string;
  /** A pino logger, or false for none (tests). */
  logger?: FastifyBaseLogger | boolean;
  /** Shown by /healthz (e.g. "kernel tc", "test double"). */
  datapathName: string;
  /**
   * Called after every change made through the API, in the order the changes were applied (called
   * synchronously, before the request yields); the reply waits for it (config persisted).
   */
  onChange?: (change: ApiChange) => void | Promise<void>;
  /** Serve on a server that already listens (the agent's early socket, listener.ts) instead of app.listen(). */
  serverFactory?: FastifyServerFactory;
}

/** What a request changed: one service (put, delete) or the whole list (replace). */
export type ApiChange = { kind: 'put' | 'delete'; name: string } | { kind: 'replace' };

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (m?.[1] === undefined) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Query strings are text: integer fields are converted before the schema check (nothing else is coerced). */
function coerceQuery(schema: TSchema, data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const props = (schema as { properties?: Record<string, { type?: string }> }).properties ?? {};
  const out: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const [k, v] of Object.entries(out))
    if (props[k]?.type === 'integer' && typeof v === 'string' && /^\d{1,15}$/.test(v)) out[k] = Number(v);
  return out;
}

/** fastify's validator: the controller's compiled schema check, its field errors as a ValidationError (400). */
const routeValidator: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = checkFor(schema);
  const query = httpPart === 'querystring';
  return (data: unknown) => {
    const r = check(query ? coerceQuery(schema, data) : data);
    if (r.ok) return { value: r.value };
    const errors = query ? r.errors.map((e) => ({ path: e.path === '' ? 'query' : `query.${e.path}`, message: e.message })) : r.errors;
    return { error: new ValidationError(errors) };
  };
};

export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const { controller, health } = opts;
  const app = Fastify({
    ...(typeof opts.logger === 'object' ? { loggerInstance: opts.logger } : { logger: opts.logger ?? false }),
    // A bulk PUT of 100,000 services × 8 endpoints is about 35 MB of JSON.
    bodyLimit: 256 * 1024 * 1024,
    ...(opts.serverFactory !== undefined ? { serverFactory: opts.serverFactory } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(routeValidator);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'xlb agent API',
        version: '1',
        description: 'Services, endpoints, conntrack and counters of one xlb datapath instance.',
      },
      ...(opts.token !== undefined
        ? { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }, security: [{ bearer: [] }] }
        : {}),
    },
  });

  if (opts.token !== undefined) {
    const token = opts.token;
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.url === '/healthz') return;
      if (!tokenMatches(req.headers.authorization, token)) {
        await reply.code(401).header('www-authenticate', 'Bearer').send({
          error: 'unauthorized',
          message: 'missing or wrong bearer token: send "Authorization: Bearer TOKEN" (xlb CLI: --token or XLB_TOKEN)',
        });
      }
    });
  }

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof ValidationError) {
      return reply.code(400).send({ error: 'invalid', message: err.message, errors: err.errors });
    }
    if (err instanceof HttpError) return reply.code(err.status).send({ error: err.code, message: err.message });
    if (err instanceof DatapathRefusal) return reply.code(409).send({ error: 'refused', message: `${err.message}; nothing was changed` });
    const e = err as { statusCode?: number; message?: string; code?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error: e.code ?? 'bad request', message: e.message ?? 'bad request' });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({
      error: 'internal',
      message: `the agent could not apply this: ${e.message ?? String(err)}; the running state was left as it was (see the agent log)`,
    });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: 'not found', message: `no route ${req.method} ${req.url}; see GET /openapi.json for the routes` }),
  );

  const err4xx = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };
  const tags = ['services'];
  const notFound = (name: string): HttpError => new HttpError(404, 'not found', `no service named '${name}'; GET /v1/services lists them`);

  app.get(
    '/healthz',
    { schema: { summary: 'Liveness: the agent runs and its datapath is loaded', security: [], response: { 200: HealthzViewSchema } } },
    async (): Promise<HealthzView> => ({
      status: 'ok',
      services: controller.services().length,
      datapath: opts.datapathName,
      uptimeS: Math.round(process.uptime() * 10) / 10,
    }),
  );

  app.get(
    '/v1/services',
    { schema: { summary: 'Every service with its datapath status', tags, response: { 200: ServiceListSchema, ...err4xx } } },
    async (): Promise<ServiceListView> => ({
      services: serviceViews(controller, health),
    }),
  );

  app.put(
    '/v1/services',
    {
      schema: {
        summary: 'Replace every service at once (the whole list validated first; services not listed are deleted)',
        tags,
        body: DesiredStateBodySchema,
        response: { 200: ReplaceServicesViewSchema, ...err4xx },
      },
    },
    async (req): Promise<ReplaceServicesView> => {
      // The route's validation ran the body schema's check (defaults filled): semantics only.
      const r = controller.load(req.body, { schemaChecked: true });
      await opts.onChange?.({ kind: 'replace' });
      const out: ReplaceServicesView = {
        created: r.created.length,
        updated: r.updated.length,
        deleted: r.deleted.length,
        unchanged: r.unchanged,
      };
      req.log.info(out, 'services replaced');
      return out;
    },
  );

  app.get(
    '/v1/services/:name',
    { schema: { summary: 'One service', tags, params: NameParamsSchema, response: { 200: ServiceViewSchema, ...err4xx } } },
    async (req) => {
      const v = oneServiceView(controller, health, req.params.name);
      if (v === undefined) throw notFound(req.params.name);
      return v;
    },
  );

  app.put(
    '/v1/services/:name',
    {
      schema: {
        summary: 'Create or replace a service (whole body; validated before anything changes)',
        tags,
        params: NameParamsSchema,
        body: ServiceBodySchema,
        response: { 200: PutServiceViewSchema, 201: PutServiceViewSchema, ...err4xx },
      },
    },
    async (req, reply) => {
      // The route's validation ran the body schema's check (defaults filled): semantics only.
      const { action } = controller.put(req.params.name, req.body, { schemaChecked: true });
      // The view of what was just applied (taken before onChange yields to other requests).
      const view = oneServiceView(controller, health, req.params.name);
      if (view === undefined) throw new Error(`service '${req.params.name}' is missing right after it was put`);
      await opts.onChange?.({ kind: 'put', name: req.params.name });
      req.log.info({ service: req.params.name, action }, 'service put');
      const out: PutServiceView = { action, service: view };
      return reply.code(action === 'created' ? 201 : 200).send(out);
    },
  );

  app.delete(
    '/v1/services/:name',
    {
      schema: {
        summary: 'Delete a service',
        tags,
        params: NameParamsSchema,
        response: { 204: { type: 'null', description: 'deleted' }, ...err4xx },
      },
    },
    async (req, reply) => {
      if (!controller.remove(req.params.name)) throw notFound(req.params.name);
      await opts.onChange?.({ kind: 'delete', name: req.params.name });
      req.log.info({ service: req.params.name }, 'service deleted');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/conntrack',
    {
      schema: {
        summary: 'Tracked connections (one record per connection)',
        tags: ['state'],
        querystring: ConntrackQuerySchema,
        response: { 200: ConntrackViewSchema, ...err4xx },
      },
    },
    async (req) => {
      const q = req.query;
      if (q.service !== undefined && controller.get(q.service) === undefined) throw notFound(q.service);
      let states: string[] | undefined;
      if (q.state !== undefined) {
        states = q.state.toUpperCase().split(',');
        const bad = states.filter((s) => !(CT_STATE as readonly string[]).includes(s));
        if (bad.length > 0) {
          const which = `${bad.map((b) => `'${b}'`).join(', ')} ${bad.length === 1 ? 'is not a conntrack state' : 'are not conntrack states'}`;
          throw new ValidationError([
            { path: 'query.state', message: `${which}; give one or more of ${CT_STATE.join(', ')} (comma-separated, any case)` },
          ]);
        }
      }
      return conntrackView(controller, { service: q.service, states, limit: q.limit ?? 1000 });
    },
  );

  app.get(
    '/v1/stats',
    {
      schema: {
        summary: 'Counters per service and endpoint, drops by reason, flows by state',
        tags: ['state'],
        response: { 200: StatsViewSchema, ...err4xx },
      },
    },
    async () => statsView(controller, health),
  );

  const registry = createMetrics(controller, health);
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['state'],
        produces: ['text/plain'],
        response: { 200: { type: 'string', description: 'Prometheus text exposition format' } },
      },
    },
    async (_req, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  );

  app.get(
    '/openapi.json',
    { schema: { summary: 'This API as an OpenAPI 3 document', response: { 200: { type: 'object', additionalProperties: true } } } },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );

  await app.ready();
  return app;
}
