// The agent runtime: config → datapath → controller → health checks → REST API, plus reload
// and graceful stop. `xlb agent` (cli.ts) wires it to the kernel datapath and to signals; tests
// wire it to a test double.
import type { FastifyInstance } from 'fastify';
import { Controller } from '../controller/controller.ts';
import type { DatapathHandle } from '../controller/datapath.ts';
import { HealthMonitor } from '../controller/health.ts';
import { ValidationError } from '../controller/validate.ts';
import { buildApi } from './api.ts';
import { HealthFileWriter, healthFileFor, readConfigFile, readHealthFile } from './config-file.ts';
import type { AgentSettings } from './config-file.ts';
import { ConfigStore, replayJournal } from './config-store.ts';
import { isLoopback, nonLoopbackWithoutToken } from './listener.ts';
import type { ApiListener } from './listener.ts';
import type { Logger } from './log.ts';

// The handle type lives beside the Datapath interface (the kernel adapter in src/datapath
// implements it); re-exported here for code that still names it from the agent.
export type { DatapathHandle } from '../controller/datapath.ts';
export { isLoopback, parseListen } from './listener.ts';

export interface AgentOptions {
  configFile: string;
  /** Where the health of endpoints is persisted; default beside the config file (healthFileFor). */
  healthFile?: string;
  ifaces: string[];
  /** host:port or [v6]:port */
  api: { host: string; port: number };
  token?: string;
  detachOnExit: boolean;
  log: Logger;
  maintainIntervalMs?: number;
  /** fastify request logs, through `log`; off in tests. */
  requestLogs?: boolean;
  /**
   * The API's socket, already listening (listener.ts: `xlb agent` listens before it loads the
   * datapath); without it the API listens on `api` once everything else is ready.
   */
  listener?: ApiListener;
}

export interface AgentHandle {
  app: FastifyInstance;
  controller: Controller;
  health: HealthMonitor;
  /** Actual listening address (port 0 resolved). */
  address: { host: string; port: number };
  /** Re-reads the config file and applies it whole; on error keeps the running state. */
  reload(): { ok: true; created: number; updated: number; deleted: number; unchanged: number } | { ok: false; error: string };
  stop(): Promise<void>;
}

export async function startAgent(dph: DatapathHandle, opts: AgentOptions): Promise<AgentHandle> {
  const { log } = opts;
  if (!isLoopback(opts.api.host) && opts.token === undefined) throw new Error(nonLoopbackWithoutToken(opts.api.host));
  const cfg = readConfigFile(opts.configFile);
  const agentSettings: AgentSettings = cfg.agent;
  // Changes journaled since the file was last written (config-store.ts) apply over it.
  const replay = replayJournal(opts.configFile, cfg.services);
  for (const w of replay.warnings) log.warn({ file: opts.configFile }, w);
  const controller = new Controller(dph.datapath);
  const store = new ConfigStore({
    file: opts.configFile,
    agent: agentSettings,
    state: () => controller.view(),
    onError: (err) =>
      log.error(
        { err, file: opts.configFile },
        'could not rewrite the config file; every change is kept in its journal, the next write retries',
      ),
  });
  const persist = async (done: Promise<void>): Promise<void> => {
    try {
      await done;
    } catch (err) {
      log.error({ err, file: opts.configFile }, 'could not write the config file; the running state is ahead of it');
      throw new Error(
        `the change is applied but the config file ${opts.configFile} could not be written (${(err as Error).message}); fix the file system, then PUT again or SIGHUP`,
      );
    }
  };
  // Endpoints that were down when the agent stopped start down (services that still have a
  // health check: without one nothing would ever bring them back up).
  const healthFile = opts.healthFile ?? healthFileFor(opts.configFile);
  const checked = new Set(
    (Array.isArray(replay.services) ? (replay.services as unknown[]) : []).flatMap((s) => {
      const o = s as { name?: unknown; healthCheck?: unknown } | null;
      return typeof o?.name === 'string' && o.healthCheck !== undefined ? [o.name] : [];
    }),
  );
  const restored = readHealthFile(healthFile).filter((d) => checked.has(d.service));
  controller.restoreHealth(restored);
  const healthWriter = new HealthFileWriter(
    healthFile,
    () => controller.downEndpoints(),
    (err) => log.error({ err, file: healthFile }, 'could not persist endpoint health; a restart would start these endpoints up'),
  );
  const persistHealth = (): void => healthWriter.request();
  // Validate the whole config before the datapath changes at all.
  const first = controller.load({ services: replay.services });
  if (restored.length > 0) log.info({ down: restored.map((d) => `${d.service}/${d.ip}:${d.port}`) }, 'endpoints start down, as persisted');
  log.info(
    {
      created: first.created.length,
      updated: first.updated.length,
      deleted: first.deleted.length,
      unchanged: first.unchanged,
      services: controller.view().length,
      journaled: replay.applied,
    },
    'config applied to the datapath',
  );
  if (replay.applied > 0) await store.compact();
  for (const iface of opts.ifaces) {
    dph.attach(iface);
    log.info({ iface, datapath: dph.describe }, 'attached');
  }
  dph.afterAttach?.();
  const health = new HealthMonitor(controller, {
    onChange: (h) => {
      log.warn(
        { service: h.service, endpoint: `${h.ip}:${h.port}`, up: h.up, detail: h.lastDetail },
        h.up ? 'endpoint up' : 'endpoint down',
      );
      persistHealth();
    },
    onError: (service, err) => log.error({ service, err }, 'health change could not be applied'),
  });
  health.sync();
  const listener = opts.listener;
  let handler: Parameters<ApiListener['serve']>[0] | undefined;
  const app = await buildApi({
    ...(listener !== undefined
      ? {
          serverFactory: (h) => {
            handler = h;
            return listener.server;
          },
        }
      : {}),
    controller,
    health,
    datapathName: dph.describe,
    // Request logs through the agent's own pino logger: one stream, one format.
    logger: opts.requestLogs === true ? log : false,
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    onChange: (change) => {
      // A removed service or endpoint leaves the set of down endpoints too.
      persistHealth();
      if (change.kind === 'replace') {
        health.sync();
        return persist(store.compact());
      }
      // One service changed: its checkers and one journal line, whatever the number of services.
      health.syncService(change.name);
      const svc = controller.peek(change.name);
      return persist(change.kind === 'put' && svc !== undefined ? store.put(svc) : store.delete(change.name));
    },
  });
  let address: { host: string; port: number };
  if (listener !== undefined) {
    if (handler === undefined) throw new Error('the API server was not built on the listening socket (fastify did not call serverFactory)');
    listener.serve(handler);
    address = listener.address;
  } else {
    await app.listen({ host: opts.api.host, port: opts.api.port });
    const addr = app.server.address();
    address = typeof addr === 'object' && addr !== null ? { host: addr.address, port: addr.port } : opts.api;
    log.info({ api: `${address.host}:${address.port}`, auth: opts.token !== undefined }, 'REST API listening');
  }

  let maintainTimer: NodeJS.Timeout | undefined;
  if (dph.maintain !== undefined) {
    const maintain = dph.maintain.bind(dph);
    maintainTimer = setInterval(() => {
      try {
        const r = maintain();
        if (Object.values(r).some((n) => n > 0)) log.debug(r, 'datapath maintenance');
      } catch (err) {
        log.error({ err }, 'datapath maintenance failed');
      }
    }, opts.maintainIntervalMs ?? 5000);
    maintainTimer.unref();
  }

  let stopped = false;
  return {
    app,
    controller,
    health,
    address,
    reload() {
      try {
        const c = readConfigFile(opts.configFile);
        Object.assign(agentSettings, c.agent);
        const r = controller.load({ services: c.services });
        store.resetAfterReload();
        health.sync();
        const out = {
          ok: true as const,
          created: r.created.length,
          updated: r.updated.length,
          deleted: r.deleted.length,
          unchanged: r.unchanged,
        };
        log.info(out, 'config reloaded');
        return out;
      } catch (err) {
        const error = err instanceof ValidationError ? `${opts.configFile}:\n${err.message}` : (err as Error).message;
        log.error({ error }, 'config reload rejected; the running state is unchanged');
        return { ok: false, error };
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (maintainTimer !== undefined) clearInterval(maintainTimer);
      health.stop();
      await app.close();
      // fastify closes only a server it listened on itself.
      await listener?.close();
      await healthWriter.flush();
      try {
        await store.close();
      } catch (err) {
        log.error({ err, file: opts.configFile }, 'could not rewrite the config file at stop; its journal keeps every change');
      }
      if (opts.detachOnExit) {
        for (const iface of opts.ifaces) {
          try {
            dph.detach(iface);
            log.info({ iface }, 'detached');
          } catch (err) {
            log.error({ iface, err }, 'detach failed');
          }
        }
      }
      dph.close({ detached: opts.detachOnExit });
      log.info(
        { detached: opts.detachOnExit },
        opts.detachOnExit ? 'stopped; programs detached, maps stay pinned' : 'stopped; programs stay attached and maps pinned',
      );
    },
  };
}
