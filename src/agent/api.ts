// The agent's REST API (fastify). Routes carry JSON schemas (responses are serialized through
// them; GET /openapi.json is generated from the same schemas); request bodies go through the
// controller's validation, which rejects a whole request with field-named errors before
// anything changes.
import { timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Controller } from '../controller/controller.ts';
import type { HealthMonitor } from '../controller/health.ts';
import { ValidationError } from '../controller/validate.ts';
import { DatapathRefusal } from '../controller/datapath.ts';
import { createMetrics } from './metrics.ts';
import {
  conntrackQuery,
  conntrackResponse,
  errorSchema,
  healthzResponse,
  nameParams,
  serviceBodySchema,
  serviceViewSchema,
  statsResponse,
} from './schemas.ts';
import { conntrackView, oneServiceView, serviceViews, statsView } from './views.ts';
import type { HealthzView, PutServiceView, ReplaceServicesView, ServiceView } from './views.ts';

declare module 'fastify' {
  interface FastifySchema {
    /** OpenAPI operation summary / description / tags (read by openApiDocument). */
    summary?: string;
    description?: string;
    tags?: string[];
  }
}

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

interface RouteDoc {
  method: string;
  url: string;
  schema: Record<string, unknown>;
}

/** OpenAPI 3.0 document of the registered routes. */
export function openApiDocument(routes: RouteDoc[], withAuth: boolean): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const url = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const s = r.schema;
    const op: Record<string, unknown> = { summary: s.summary, description: s.description, tags: s.tags };
    const parameters: Record<string, unknown>[] = [];
    const params = s.params as { properties?: Record<string, unknown> } | undefined;
    for (const [name, schema] of Object.entries(params?.properties ?? {})) parameters.push({ name, in: 'path', required: true, schema });
    const query = s.querystring as { properties?: Record<string, { description?: string }> } | undefined;
    for (const [name, schema] of Object.entries(query?.properties ?? {})) parameters.push({ name, in: 'query', required: false, schema, description: schema.description });
    if (parameters.length > 0) op.parameters = parameters;
    if (s.body !== undefined) op.requestBody = { required: true, content: { 'application/json': { schema: s.body } } };
    const responses: Record<string, unknown> = {};
    for (const [code, schema] of Object.entries((s.response ?? {}) as Record<string, unknown>)) {
      const desc = (schema as { description?: string }).description ?? (code.startsWith('2') ? 'OK' : 'error');
      responses[code] = code === '204' ? { description: 'no content' } : { description: desc, content: { [r.url === '/metrics' ? 'text/plain' : 'application/json']: { schema } } };
    }
    op.responses = responses;
    if (withAuth && r.url !== '/healthz') op.security = [{ bearer: [] }];
    (paths[url] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: { title: 'xlb agent API', version: '1', description: 'Services, endpoints, conntrack and counters of one xlb datapath instance.' },
    paths,
    components: withAuth ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {},
  };
}

export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const { controller, health } = opts;
  const app = Fastify({
    ...(typeof opts.logger === 'object' ? { loggerInstance: opts.logger } : { logger: opts.logger ?? false }),
    bodyLimit: 16 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
  });
  // Bodies are validated by the controller (field-path errors, semantic rules); the declared
  // body schema documents them. Params and query strings are checked in the handlers.
  app.setValidatorCompiler(() => () => true);
  const routes: RouteDoc[] = [];
  app.addHook('onRoute', (r: RouteOptions) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) if (m !== 'HEAD' && r.schema !== undefined) routes.push({ method: m, url: r.url, schema: r.schema as Record<string, unknown> });
  });

  if (opts.token !== undefined) {
    const token = opts.token;
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.url === '/healthz') return;
      if (!tokenMatches(req.headers.authorization, token)) {
        await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'missing or wrong bearer token: send "Authorization: Bearer TOKEN" (xlb CLI: --token or XLB_TOKEN)' });
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
    return reply.code(500).send({ error: 'internal', message: `the agent could not apply this: ${e.message ?? String(err)}; the running state was left as it was (see the agent log)` });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: 'not found', message: `no route ${req.method} ${req.url}; see GET /openapi.json for the routes` }),
  );

  const err4xx = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema };
  const tags = ['services'];

  app.get('/healthz', { schema: { summary: 'Liveness: the agent runs and its datapath is loaded', response: { 200: healthzResponse } } }, async (): Promise<HealthzView> => ({
    status: 'ok',
    services: controller.services().length,
    datapath: opts.datapathName,
    uptimeS: Math.round(process.uptime() * 10) / 10,
  }));

  app.get('/v1/services', { schema: { summary: 'Every service with its datapath status', tags, response: { 200: { type: 'object', properties: { services: { type: 'array', items: serviceViewSchema } } }, ...err4xx } } }, async (): Promise<{ services: ServiceView[] }> => ({
    services: serviceViews(controller, health),
  }));

  app.put<{ Body: unknown }>(
    '/v1/services',
    {
      schema: {
        summary: 'Replace every service at once (the whole list validated first; services not listed are deleted)',
        tags,
        body: { type: 'object', required: ['services'], properties: { services: { type: 'array', items: serviceBodySchema } } },
        response: {
          200: { type: 'object', properties: { created: { type: 'integer' }, updated: { type: 'integer' }, deleted: { type: 'integer' }, unchanged: { type: 'integer' } } },
          ...err4xx,
        },
      },
    },
    async (req): Promise<ReplaceServicesView> => {
      if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
        throw new ValidationError([{ path: '', message: 'the body must be a JSON object {"services": [...]}' }]);
      }
      const r = controller.load(req.body);
      await opts.onChange?.({ kind: 'replace' });
      const out: ReplaceServicesView = { created: r.created.length, updated: r.updated.length, deleted: r.deleted.length, unchanged: r.unchanged };
      req.log.info(out, 'services replaced');
      return out;
    },
  );

  const checkName = (name: string): void => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
      throw new ValidationError([{ path: 'name', message: `'${name}' is not a service name (1..63 of letters, digits, ".", "_", "-", starting with a letter or digit)` }]);
    }
  };

  app.get<{ Params: { name: string } }>('/v1/services/:name', { schema: { summary: 'One service', tags, params: nameParams, response: { 200: serviceViewSchema, ...err4xx } } }, async (req) => {
    const v = oneServiceView(controller, health, req.params.name);
    if (v === undefined) throw new HttpError(404, 'not found', `no service named '${req.params.name}'; GET /v1/services lists them`);
    return v;
  });

  app.put<{ Params: { name: string }; Body: unknown }>(
    '/v1/services/:name',
    {
      schema: {
        summary: 'Create or replace a service (whole body; validated before anything changes)',
        tags,
        params: nameParams,
        body: serviceBodySchema,
        response: { 200: { type: 'object', properties: { action: { type: 'string' }, service: serviceViewSchema } }, 201: { type: 'object', properties: { action: { type: 'string' }, service: serviceViewSchema } }, ...err4xx },
      },
    },
    async (req, reply) => {
      checkName(req.params.name);
      let body = req.body;
      if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'status' in body) {
        const { status: _status, ...rest } = body as Record<string, unknown>;
        body = rest;
      }
      if (body === undefined || body === null) throw new ValidationError([{ path: '', message: 'the request has no JSON body: send the service as JSON with Content-Type: application/json' }]);
      const { action } = controller.put(req.params.name, body);
      // The view of what was just applied (taken before onChange yields to other requests).
      const view = oneServiceView(controller, health, req.params.name);
      if (view === undefined) throw new Error(`service '${req.params.name}' is missing right after it was put`);
      await opts.onChange?.({ kind: 'put', name: req.params.name });
      req.log.info({ service: req.params.name, action }, 'service put');
      const out: PutServiceView = { action, service: view };
      return reply.code(action === 'created' ? 201 : 200).send(out);
    },
  );

  app.delete<{ Params: { name: string } }>('/v1/services/:name', { schema: { summary: 'Delete a service', tags, params: nameParams, response: { 204: { type: 'null' }, ...err4xx } } }, async (req, reply) => {
    if (!controller.remove(req.params.name)) throw new HttpError(404, 'not found', `no service named '${req.params.name}'; GET /v1/services lists them`);
    await opts.onChange?.({ kind: 'delete', name: req.params.name });
    req.log.info({ service: req.params.name }, 'service deleted');
    return reply.code(204).send();
  });

  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/v1/conntrack',
    { schema: { summary: 'Tracked connections (one record per connection)', tags: ['state'], querystring: conntrackQuery, response: { 200: conntrackResponse, ...err4xx } } },
    async (req) => {
      const q = req.query;
      const unknown = Object.keys(q).filter((k) => k !== 'service' && k !== 'state' && k !== 'limit');
      if (unknown.length > 0) throw new ValidationError(unknown.map((k) => ({ path: `query.${k}`, message: 'unknown parameter; allowed: service, state, limit' })));
      let limit = 1000;
      if (q.limit !== undefined) {
        limit = Number(q.limit);
        if (!/^\d+$/.test(q.limit) || limit < 1 || limit > 1_000_000) throw new ValidationError([{ path: 'query.limit', message: `'${q.limit}' is not an integer in 1..1000000` }]);
      }
      if (q.service !== undefined && controller.get(q.service) === undefined) {
        throw new HttpError(404, 'not found', `no service named '${q.service}'; GET /v1/services lists them`);
      }
      let states: string[] | undefined;
      if (q.state !== undefined) {
        if (!/^[A-Za-z_]+(,[A-Za-z_]+)*$/.test(q.state)) {
          throw new ValidationError([{ path: 'query.state', message: `'${q.state}' is not a comma-separated list of state names (e.g. ESTABLISHED,SYN_RECV)` }]);
        }
        states = q.state.toUpperCase().split(',');
      }
      return conntrackView(controller, { service: q.service, states, limit });
    },
  );

  app.get('/v1/stats', { schema: { summary: 'Counters per service and endpoint, drops by reason, flows by state', tags: ['state'], response: { 200: statsResponse, ...err4xx } } }, async () =>
    statsView(controller, health),
  );

  const registry = createMetrics(controller, health);
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['state'], response: { 200: { type: 'string', description: 'Prometheus text exposition format' } } } }, async (_req, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });

  app.get('/openapi.json', { schema: { summary: 'This API as an OpenAPI 3 document', response: { 200: { type: 'object', additionalProperties: true } } } }, async () =>
    openApiDocument(routes, opts.token !== undefined),
  );

  await app.ready();
  return app;
}
