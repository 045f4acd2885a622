// Runs one scenario on one backend and hook: open the World, apply the services, run the
// scenario, collect captures and observations, make the automatic checks, digest for the
// differential check, close the World whatever happened.
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Hook } from '../datapath/packet-datapath.ts';
import type { ClientReport, ClientRequest } from '../traffic/types.ts';
import { slow } from '../slow.ts';
import { DATAPATH_REQUIRES, missingFeatures, missingText, probeKernelFeatures } from '../datapath/kernel-features.ts';
import type { FeatureProbe } from '../datapath/kernel-features.ts';
import { backendUnavailable, openWorld } from './backends.ts';
import { automaticChecks } from './checks.ts';
import { diagnoseCaptures } from './diagnose.ts';
import { writeDropsArtifact } from './drops/index.ts';
import { digestOf } from './differential.ts';
import { observationRecord } from './matrix/observation.ts';
import { saveObservation } from './report/artifacts.ts';
import type { Digest } from './differential.ts';
import { Expect } from './expect.ts';
import type { ResultRecord } from './results.ts';
import { perBackend } from './scenario.ts';
import type { Scenario, ScenarioContext } from './scenario.ts';
import { topoInfo, twoArm } from './topo.ts';
import type { BackendName, LinkCapture, ServiceInput, World } from './world.ts';

export interface RunOneOptions {
  scenario: Scenario;
  name: string;
  file: string;
  backend: BackendName;
  hook: Hook;
  seed: number;
  /** This result's artifacts folder. */
  artifactsDir: string;
  keepOnFail: boolean;
  objectDir?: string;
  modelFaults?: string[];
  /** The command line that reproduces this result. */
  reproduce: string;
}

export interface RunOneOutcome {
  record: ResultRecord;
  digest?: Digest;
}

const DEFAULT_TIMEOUT_MS = 30_000;

function message(e: unknown): string {
  if (e instanceof Error) return process.env.XLB_DEBUG === '1' && e.stack !== undefined ? e.stack : e.message;
  return String(e);
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${ms} ms (raise the scenario's timeoutMs if it is meant to take longer)`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where it does not apply (scenario's own word, or the machine), the reason; else undefined. */
export function skipReason(s: Scenario, backend: BackendName, hook: Hook, probe: FeatureProbe = probeKernelFeatures()): string | undefined {
  const b = perBackend(s.backends, backend, hook);
  if (typeof b === 'string') return `does not apply to ${backend}${typeof s.backends?.[backend] === 'object' ? ` at ${hook}` : ''}: ${b}`;
  const h = s.hooks?.[hook];
  if (typeof h === 'string') return `does not apply at ${hook}: ${h}`;
  const unavailable = backendUnavailable(backend);
  if (unavailable !== undefined || backend === 'sim') return unavailable;
  // prog and lab run the real datapath on this kernel: what it (or the scenario) needs must be there.
  const missing = missingFeatures([...DATAPATH_REQUIRES, ...(s.requires ?? [])], probe);
  return missing.length > 0 ? missingText(missing, probe) : undefined;
}

export async function runOne(o: RunOneOptions): Promise<RunOneOutcome> {
  const t0 = Date.now();
  const base: ResultRecord = {
    scenario: o.name,
    file: o.file,
    backend: o.backend,
    hook: o.hook,
    status: 'passed',
    durationMs: 0,
    seed: o.seed,
    checks: [],
    reproduce: o.reproduce,
    log: [],
  };
  const skip = skipReason(o.scenario, o.backend, o.hook);
  if (skip !== undefined) return { record: { ...base, status: 'skipped', skipReason: skip } };
  const topology = o.scenario.topology ?? twoArm();
  const topo = topoInfo(topology);
  mkdirSync(o.artifactsDir, { recursive: true });
  const record: ResultRecord = { ...base, artifactsDir: o.artifactsDir };
  const transit = [topo.lb.name, ...topology.nodes.filter((n) => n.role === 'router').map((n) => n.name)];
  const expect = new Expect(transit, o.backend === 'lab' ? availableParallelism() : 1);
  const reports: ClientReport[] = [];
  let world: World | undefined;
  let digest: Digest | undefined;
  const timeoutMs = slow((o.scenario.timeoutMs ?? DEFAULT_TIMEOUT_MS) * (o.backend === 'lab' ? 3 : 1));
  try {
    const services: ServiceInput[] = typeof o.scenario.services === 'function' ? o.scenario.services(topo) : o.scenario.services;
    const w = await openWorld({
      backend: o.backend,
      hook: o.hook,
      topology,
      seed: o.seed,
      artifactsDir: o.artifactsDir,
      ...(o.scenario.timeoutsS === undefined ? {} : { timeoutsS: o.scenario.timeoutsS }),
      ...(o.scenario.ctEntries === undefined ? {} : { ctEntries: o.scenario.ctEntries }),
      ...(o.scenario.newFlowRate === undefined ? {} : { newFlowRate: o.scenario.newFlowRate }),
      ...(o.objectDir === undefined ? {} : { objectDir: o.objectDir }),
      ...(o.modelFaults === undefined ? {} : { modelFaults: o.modelFaults }),
    });
    world = w;
    const firstClient = topo.clients[0]?.name;
    const node = (n: string | undefined): string => {
      const v = n ?? firstClient;
      if (v === undefined) throw new Error(`topology '${topology.name}' has no client node: name the node`);
      return v;
    };
    let captured: Promise<LinkCapture[]> | undefined;
    const captures = (): Promise<LinkCapture[]> => (captured ??= w.captures());
    const ctx: ScenarioContext = {
      backend: o.backend,
      hook: o.hook,
      seed: o.seed,
      topo,
      world: w,
      expect,
      client: async (req: ClientRequest, n?: string) => {
        const r = await w.client(node(n), req);
        reports.push(r);
        return r;
      },
      startClient: async (req: ClientRequest, n?: string) => {
        const s = await w.startClient(node(n), req);
        return {
          next: () => s.next(),
          report: async () => {
            const r = await s.report();
            reports.push(r);
            return r;
          },
        };
      },
      apply: (services) => w.apply(services),
      advance: (seconds) => w.advance(seconds),
      observe: () => w.observe(),
      captures,
      log: (m) => record.log.push(m),
    };
    await withTimeout(
      (async () => {
        await w.apply(services);
        await o.scenario.run(ctx);
      })(),
      timeoutMs,
      `${o.name} on ${o.backend}/${o.hook}`,
    );
    const links = await captures();
    const obs = await w.observe();
    saveObservation(o.artifactsDir, obs, topology);
    automaticChecks({ expect, topo, services, obs, links, allowDrops: o.scenario.allowDrops ?? [] });
    digest = digestOf(obs, links, reports);
    record.observation = observationRecord(digest, o.scenario.observationVaries);
    if (expect.failed.length > 0) record.log.push(...diagnoseCaptures(links));
  } catch (e) {
    record.error = message(e);
  } finally {
    record.checks = expect.checks;
    const failed = record.error !== undefined || expect.failed.length > 0;
    record.status = failed ? 'failed' : 'passed';
    const known = perBackend(o.scenario.knownFailures, o.backend, o.hook);
    if (known !== undefined) {
      record.knownFailure = known;
      record.status = failed ? 'known_failure' : 'unexpected_pass';
    }
    if (world !== undefined) {
      if (failed && world.drops !== undefined) {
        try {
          const d = world.drops();
          if (d !== undefined) record.log.push(writeDropsArtifact(o.artifactsDir, d));
        } catch (e) {
          record.log.push(`drop diagnosis failed: ${message(e)}`);
        }
      }
      if (failed && o.keepOnFail && world.keep !== undefined) record.log.push(world.keep());
      else {
        try {
          // A passed result's World may serve the next one (the lab's pool); a failed one's never.
          await world.close(failed ? undefined : { reuse: true });
        } catch (e) {
          record.log.push(`closing the ${o.backend} world failed: ${message(e)}`);
        }
      }
    }
    record.durationMs = Date.now() - t0;
  }
  return digest === undefined ? { record } : { record, digest };
}

/** The folder of one result's artifacts: DIR/<scenario path>/<backend>-<hook>. */
export function artifactsDirFor(reportDir: string, name: string, backend: BackendName, hook: Hook): string {
  const safe = name
    .replace(/[^A-Za-z0-9._/-]/g, '_')
    .split('/')
    .filter((p) => p !== '' && p !== '.' && p !== '..')
    .join('/');
  return path.join(reportDir, 'artifacts', safe, `${backend}-${hook}`);
}
