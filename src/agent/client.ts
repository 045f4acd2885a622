// A typed client of the agent's REST API (src/agent/api.ts): one method per route, over the
// global fetch, with the response types the server builds (views.ts). A refusal of the API
// (4xx/5xx) becomes an AgentApiError carrying the status, the API's error code and message and,
// for a 400, the field errors; an agent that cannot be reached becomes one with status 0.
// Used by `xlb lb|ct|stats` (client-cli.ts); usable from scenarios and tools alike.
import type { EndpointBody, ServiceBody } from '../controller/service-schema.ts';
import type {
  ConntrackView,
  ErrorView,
  HealthzView,
  PutServiceView,
  ReplaceServicesView,
  ServiceListView,
  ServiceView,
  StatsView,
} from './views.ts';

/**
 * What PUT takes (the schema's types, src/controller/service-schema.ts): vip, port and
 * endpoints; the rest has defaults (tcp, maglev, dnat, keep). A ServiceView (GET output) can be
 * sent back as is: its `status` is ignored.
 */
export type { EndpointBody, ServiceBody };

export interface ConntrackFilter {
  /** Only flows of this service (404 when there is no such service). */
  service?: string;
  /** Only flows in these states (ESTABLISHED, SYN_RECV, …). */
  state?: string | string[];
  /** At most this many entries (1..1000000; the agent's default 1000). */
  limit?: number;
}

export interface AgentClientOptions {
  /** HOST:PORT, [v6]:PORT or an http(s) URL; default $XLB_API, else 127.0.0.1:9400. */
  api?: string;
  /** Bearer token; default $XLB_TOKEN. */
  token?: string;
  /** Per request; default 60 s. */
  timeoutMs?: number;
  /**
   * The transport; default the global fetch. The lab passes one that runs curl inside the
   * agent's network namespace, where its loopback API is.
   */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

export class AgentApiError extends Error {
  /** HTTP status; 0 when the agent could not be reached. */
  readonly status: number;
  /** The API's error code ('invalid', 'not found', 'refused', 'unauthorized', 'internal', …); 'unreachable' for status 0. */
  readonly code: string;
  /** The API's own message (without the "the agent refused" prefix). */
  readonly apiMessage: string;
  /** Field errors of a 400 ({ path, message }). */
  readonly errors: { path: string; message: string }[];
  readonly method: string;
  readonly path: string;

  constructor(init: {
    status: number;
    code: string;
    apiMessage: string;
    errors?: { path: string; message: string }[];
    method: string;
    path: string;
    message: string;
  }) {
    super(init.message);
    this.name = 'AgentApiError';
    this.status = init.status;
    this.code = init.code;
    this.apiMessage = init.apiMessage;
    this.errors = init.errors ?? [];
    this.method = init.method;
    this.path = init.path;
  }
}

/** `HOST:PORT` / `[v6]:PORT` / URL → base URL without a trailing slash. */
export function agentBaseUrl(api: string): string {
  return /^https?:\/\//.test(api) ? api.replace(/\/+$/, '') : `http://${api}`;
}

function isErrorView(v: unknown): v is ErrorView {
  return typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string';
}

export class AgentClient {
  readonly base: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: (url: string, init: RequestInit) => Promise<Response>;

  constructor(opts: AgentClientOptions = {}) {
    this.#fetch = opts.fetch ?? ((url, init) => fetch(url, init));
    this.base = agentBaseUrl(opts.api ?? process.env.XLB_API ?? '127.0.0.1:9400');
    this.#token = opts.token ?? process.env.XLB_TOKEN;
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** GET /healthz (no token needed). */
  healthz(): Promise<HealthzView> {
    return this.#json<HealthzView>('GET', '/healthz');
  }

  /** GET /v1/services */
  async listServices(): Promise<ServiceView[]> {
    return (await this.#json<ServiceListView>('GET', '/v1/services')).services;
  }

  /** GET /v1/services/{name}; AgentApiError 404 when there is none. */
  getService(name: string): Promise<ServiceView> {
    return this.#json<ServiceView>('GET', `/v1/services/${encodeURIComponent(name)}`);
  }

  /** PUT /v1/services/{name}: creates or replaces the service whole. */
  putService(name: string, body: ServiceBody): Promise<PutServiceView> {
    return this.#json<PutServiceView>('PUT', `/v1/services/${encodeURIComponent(name)}`, body);
  }

  /** PUT /v1/services: replaces every service at once (those not listed are deleted). */
  replaceServices(services: (ServiceBody & { name: string })[]): Promise<ReplaceServicesView> {
    return this.#json<ReplaceServicesView>('PUT', '/v1/services', { services });
  }

  /** DELETE /v1/services/{name}; AgentApiError 404 when there is none. */
  async deleteService(name: string): Promise<void> {
    await this.#request('DELETE', `/v1/services/${encodeURIComponent(name)}`);
  }

  /** GET /v1/conntrack with the filters given. */
  conntrack(filter: ConntrackFilter = {}): Promise<ConntrackView> {
    const q = new URLSearchParams();
    if (filter.service !== undefined) q.set('service', filter.service);
    if (filter.state !== undefined) q.set('state', Array.isArray(filter.state) ? filter.state.join(',') : filter.state);
    if (filter.limit !== undefined) q.set('limit', String(filter.limit));
    return this.#json<ConntrackView>('GET', `/v1/conntrack${q.size > 0 ? `?${q.toString()}` : ''}`);
  }

  /** GET /v1/stats */
  stats(): Promise<StatsView> {
    return this.#json<StatsView>('GET', '/v1/stats');
  }

  /** GET /metrics: the Prometheus text exposition. */
  async metrics(): Promise<string> {
    return (await this.#request('GET', '/metrics')).text;
  }

  /** GET /openapi.json */
  openapi(): Promise<Record<string, unknown>> {
    return this.#json<Record<string, unknown>>('GET', '/openapi.json');
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.#request(method, path, body);
    try {
      return JSON.parse(r.text) as T;
    } catch {
      throw new AgentApiError({
        status: r.status,
        code: 'bad response',
        apiMessage: r.text.slice(0, 200),
        method,
        path,
        message: `the agent at ${this.base} answered ${method} ${path} with something that is not JSON: ${r.text.slice(0, 200)}`,
      });
    }
  }

  async #request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.#fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? c?.message ?? (err as Error).message;
      throw new AgentApiError({
        status: 0,
        code: 'unreachable',
        apiMessage: cause,
        method,
        path,
        message: `cannot reach the agent at ${this.base}: ${cause}. Is 'xlb agent' running there (and is the API address right: --api / $XLB_API)?`,
      });
    }
    const text = await res.text();
    if (res.status >= 400) {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
      const err = isErrorView(data) ? data : undefined;
      const apiMessage = err?.message ?? (text === '' ? res.statusText : text);
      throw new AgentApiError({
        status: res.status,
        code: err?.error ?? 'http error',
        apiMessage,
        ...(err?.errors !== undefined ? { errors: err.errors } : {}),
        method,
        path,
        message: `the agent refused (${res.status}): ${apiMessage}`,
      });
    }
    return { status: res.status, text };
  }
}
