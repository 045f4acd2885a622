// Control-plane benchmark: time and peak memory to program N services × E endpoints, per
// algorithm, three ways, each in a fresh process on fresh maps (bench/control/phase.ts):
//   controller  Controller.load (validate + full reconcile from empty), then a second reconcile
//               of the same state (read-back only, zero writes), then N targeted updates (one
//               endpoint replaced per service: a generation flip each), then µs per map write;
//   rest-bulk   one PUT /v1/services with all N, to an agent (REST API + config persistence);
//   rest-each   N PUTs /v1/services/NAME over HTTP (C in flight, keep-alive), each answered once
//               persisted; the rate over the first and the last tenth shows whether a PUT's cost
//               grows with the services held; then one GET /v1/services.
// Peak memory is the phase process's maxRSS (the agent's, for the REST paths: the HTTP client
// runs in this process), kernel memory the memlock of its maps. Then conntrack: an agent holding
// the services and `ctEntries` conntrack entries: map memory, GET /v1/conntrack (every entry
// listed and merged into flows), and `xlb ct ls --service NAME` end to end.
//
//   npx tsx bench/control/run.ts [--backend kernel|double] [--sizes 1000,10000,100000]
//       [--algorithms maglev,rr] [--paths controller,rest-bulk,rest-each] [--endpoints 8]
//       [--concurrency 8] [--pools N] [--ct-entries 1000000] [--quick] [--out DIR] [--cpu-prof DIR]
// Every service has its own endpoints unless --pools N (N endpoint sets shared round-robin:
// many VIPs in front of the same backends, where the kernel adapter's Maglev table cache hits).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ALGORITHMS } from '../../src/controller/types.ts';
import type { Algorithm } from '../../src/controller/types.ts';
import { ROOT } from '../../src/root.ts';
import type { AgentPhaseResult, ControllerPhaseResult, PhaseArgs } from './phase.ts';
import { services } from './services.ts';

export { services } from './services.ts';

/** The phase's source: run through tsx from the project, also when this module runs from dist/. */
const PHASE = path.join(ROOT, 'bench', 'control', 'phase.ts');
export const PATHS = ['controller', 'rest-bulk', 'rest-each'] as const;
export type ControlPath = (typeof PATHS)[number];

export interface ControlBenchOptions {
  backend: 'kernel' | 'double';
  sizes: number[];
  endpoints: number;
  algorithms: Algorithm[];
  paths: ControlPath[];
  concurrency: number;
  /** Distinct endpoint sets the services take turns at (services.ts); default one per service. */
  pools?: number;
  /** Conntrack entries for the conntrack measurement (0: skip). Kernel only. */
  ctEntries: number;
  /** Services the conntrack agent holds. */
  ctServices: number;
  /** A phase that takes longer is stopped (its pins removed) and the bench fails. */
  phaseTimeoutMs: number;
  /** Write each phase process's V8 CPU profile into this directory. */
  cpuProfDir?: string;
  /** The REST paths for the first algorithm only (--quick). */
  restFirstAlgorithmOnly?: boolean;
  log?: (line: string) => void;
}

export interface ControlRow {
  path: ControlPath;
  algorithm: Algorithm;
  services: number;
  endpoints: number;
  ms: number;
  servicesPerS: number;
  maxRssMb: number;
  /** Of maxRssMb: the maps' pages mapped into the process (kernel memory, in kernelMapMb too); the rest is the process's own. */
  mappedMapMb: number;
  kernelMapMb: number;
  /** controller: no-op reconcile and N targeted updates. */
  noopMs?: number;
  updateMs?: number;
  /** controller, kernel: Maglev tables built, and taken from the adapter's cache (services sharing an endpoint set). */
  maglevBuilds?: number;
  maglevHits?: number;
  /** rest-each: PUTs/s over the first and the last tenth of the run; GET /v1/services. */
  firstTenthPerS?: number;
  lastTenthPerS?: number;
  getAllMs?: number;
  /** rest-each: the agent's peak RSS after the PUTs, before the GET of every service. */
  putsMaxRssMb?: number;
}

export interface PerOpRow {
  algorithm: Algorithm;
  services: number;
  /** One service entry update (xlb_services, a hash map: one bpf() call). */
  putServiceUs: number;
  /** A whole generation: endpoint slots (one copy) + the table built and copied (Maglev/WRR). */
  writeGenerationUs: number;
  /** Of the sample's generations, how many took their Maglev table from the adapter's cache. */
  writeGenerationCached: number;
  /** The table build alone (TypeScript, no cache). */
  tableBuildUs: number;
  /** The Maglev table build alone through the addon's fill (kernel backend), as the kernel adapter builds. */
  tableBuildNativeUs?: number;
}

export interface ConntrackResult {
  entries: number;
  services: number;
  fillMs: number;
  kernelMapMb: number;
  agentMaxRssMb: number;
  /** GET /v1/conntrack (limit 1000): every entry read and merged; total = flows. */
  listMs: number;
  flows: number;
  /** GET /v1/conntrack?service=NAME */
  listServiceMs: number;
  serviceFlows: number;
  /** `xlb ct ls --service NAME` as a process (node start-up included). */
  cliServiceMs: number;
}

export interface ControlBenchResult {
  backend: string;
  endpoints: number;
  /** Distinct endpoint sets (equal to the services when every service has its own). */
  pools: number | 'one per service';
  concurrency: number;
  rows: ControlRow[];
  perOp: PerOpRow[];
  conntrack?: ConntrackResult;
  uptimeStart: string;
  uptimeEnd: string;
}

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const mb = (kb: number): number => round(kb / 1024, 1);

function uptime(): string {
  const l = os.loadavg().map((x) => x.toFixed(2));
  return `up ${Math.round(os.uptime() / 60)} min, load average ${l.join(', ')}`;
}

/** A phase process (phase.ts through tsx), with a deadline. */
function phaseProcess(
  args: PhaseArgs,
  o: Pick<ControlBenchOptions, 'phaseTimeoutMs' | 'cpuProfDir'>,
): { lines: AsyncIterableIterator<string>; send(line: string): void; done: Promise<void>; kill(): void } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', PHASE, JSON.stringify({ ...args, ...(o.cpuProfDir !== undefined ? { cpuProfDir: o.cpuProfDir } : {}) })],
    {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timeoutMs = o.phaseTimeoutMs;
  const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  const done = new Promise<void>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `control bench phase ${args.phase} (${args.algorithm}, ${args.services} services) ${signal !== null ? `stopped by ${signal}${signal === 'SIGTERM' ? ` after ${timeoutMs} ms` : ''}` : `exited ${code}`}: ${stderr.trim()}`,
          ),
        );
    });
  });
  done.catch(() => undefined);
  return {
    lines: createInterface({ input: child.stdout })[Symbol.asyncIterator](),
    send: (line: string) => child.stdin.write(`${line}\n`),
    done,
    kill: () => child.kill('SIGTERM'),
  };
}

async function nextJson<T>(p: ReturnType<typeof phaseProcess>): Promise<T> {
  const r = await Promise.race([p.lines.next(), p.done.then(() => ({ done: true, value: undefined }))]);
  if (r.done === true || r.value === undefined) {
    await p.done;
    throw new Error('control bench phase ended without a result');
  }
  return JSON.parse(r.value) as T;
}

function httpCall(agent: Agent, port: number, method: string, url: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: url,
        agent,
        headers: data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function controllerRow(o: ControlBenchOptions, algorithm: Algorithm, n: number): Promise<{ row: ControlRow; perOp: PerOpRow }> {
  const p = phaseProcess(
    { phase: 'controller', backend: o.backend, services: n, endpoints: o.endpoints, algorithm, pools: o.pools ?? n },
    o,
  );
  const r = await nextJson<ControllerPhaseResult>(p);
  await p.done;
  return {
    row: {
      path: 'controller',
      algorithm,
      services: n,
      endpoints: o.endpoints,
      ms: round(r.loadMs),
      servicesPerS: Math.round((n / r.loadMs) * 1000),
      maxRssMb: mb(r.maxRssKb),
      mappedMapMb: mb(r.mappedMapKb),
      kernelMapMb: mb(r.kernelMapKb),
      noopMs: round(r.noopMs),
      updateMs: round(r.updateMs),
      ...(r.maglev !== undefined ? { maglevBuilds: r.maglev.builds, maglevHits: r.maglev.hits } : {}),
    },
    perOp: {
      algorithm,
      services: n,
      putServiceUs: round(r.perOp.putServiceUs, 2),
      writeGenerationUs: round(r.perOp.writeGenerationUs, 2),
      writeGenerationCached: r.perOp.writeGenerationCached,
      tableBuildUs: round(r.perOp.tableBuildUs, 2),
      ...(r.perOp.tableBuildNativeUs !== undefined ? { tableBuildNativeUs: round(r.perOp.tableBuildNativeUs, 2) } : {}),
    },
  };
}

async function withAgent<T>(
  o: ControlBenchOptions,
  args: PhaseArgs,
  body: (port: number, http: Agent, p: ReturnType<typeof phaseProcess>) => Promise<T>,
): Promise<{ value: T; agent: AgentPhaseResult }> {
  const p = phaseProcess(args, o);
  const http = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  try {
    const { port } = await nextJson<{ port: number }>(p);
    const value = await body(port, http, p);
    http.destroy();
    p.send('stop');
    const agent = await nextJson<AgentPhaseResult>(p);
    await p.done;
    return { value, agent };
  } catch (err) {
    http.destroy();
    p.kill();
    throw err;
  }
}

async function restBulkRow(o: ControlBenchOptions, algorithm: Algorithm, n: number): Promise<ControlRow> {
  const list = services(n, o.endpoints, algorithm, 0, o.pools ?? n);
  const { value: ms, agent } = await withAgent(
    o,
    { phase: 'agent', backend: o.backend, services: n, endpoints: o.endpoints, algorithm },
    async (port, http) => {
      const t0 = performance.now();
      const r = await httpCall(http, port, 'PUT', '/v1/services', { services: list });
      const dt = performance.now() - t0;
      const body = JSON.parse(r.text) as { created?: number };
      if (r.status !== 200 || body.created !== n) throw new Error(`bulk PUT: ${r.status} ${r.text.slice(0, 300)}`);
      return dt;
    },
  );
  return {
    path: 'rest-bulk',
    algorithm,
    services: n,
    endpoints: o.endpoints,
    ms: round(ms),
    servicesPerS: Math.round((n / ms) * 1000),
    maxRssMb: mb(agent.maxRssKb),
    mappedMapMb: mb(agent.mappedMapKb),
    kernelMapMb: mb(agent.kernelMapKb),
  };
}

/** PUTs every service, C in flight; returns each PUT's completion time (ms from the start). */
async function putEach(
  http: Agent,
  port: number,
  list: Record<string, unknown>[],
  concurrency: number,
): Promise<{ ms: number; done: Float64Array }> {
  const done = new Float64Array(list.length);
  let next = 0;
  let finished = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const s = list[next++] as Record<string, unknown>;
      const r = await httpCall(http, port, 'PUT', `/v1/services/${s.name as string}`, s);
      if (r.status !== 201) throw new Error(`PUT ${s.name as string}: ${r.status} ${r.text.slice(0, 300)}`);
      done[finished++] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms: performance.now() - t0, done };
}

function tenthRate(done: Float64Array, which: 'first' | 'last'): number {
  const n = done.length;
  const k = Math.max(1, Math.floor(n / 10));
  const [a, b] = which === 'first' ? [0, done[k - 1] as number] : [done[n - k - 1] ?? 0, done[n - 1] as number];
  return Math.round((k / Math.max(b - a, 0.001)) * 1000);
}

async function restEachRow(o: ControlBenchOptions, algorithm: Algorithm, n: number): Promise<ControlRow> {
  const list = services(n, o.endpoints, algorithm, 0, o.pools ?? n);
  const { value, agent } = await withAgent(
    o,
    { phase: 'agent', backend: o.backend, services: n, endpoints: o.endpoints, algorithm },
    async (port, http, p) => {
      const r = await putEach(http, port, list, o.concurrency);
      p.send('rss');
      const beforeGet = await nextJson<{ maxRssKb: number }>(p);
      const t1 = performance.now();
      const all = await httpCall(http, port, 'GET', '/v1/services');
      const getAllMs = performance.now() - t1;
      const got = (JSON.parse(all.text) as { services: unknown[] }).services.length;
      if (got !== n) throw new Error(`GET /v1/services returned ${got} services, expected ${n}`);
      return { ...r, getAllMs, putsMaxRssKb: beforeGet.maxRssKb };
    },
  );
  return {
    path: 'rest-each',
    algorithm,
    services: n,
    endpoints: o.endpoints,
    ms: round(value.ms),
    servicesPerS: Math.round((n / value.ms) * 1000),
    maxRssMb: mb(agent.maxRssKb),
    mappedMapMb: mb(agent.mappedMapKb),
    kernelMapMb: mb(agent.kernelMapKb),
    firstTenthPerS: tenthRate(value.done, 'first'),
    lastTenthPerS: tenthRate(value.done, 'last'),
    getAllMs: round(value.getAllMs),
    putsMaxRssMb: mb(value.putsMaxRssKb),
  };
}

function runCli(args: string[]): Promise<{ ms: number; code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(path.join(ROOT, 'xlb'), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ ms: performance.now() - t0, code: code ?? 1, out }));
  });
}

async function conntrack(o: ControlBenchOptions): Promise<ConntrackResult> {
  const n = o.ctServices;
  const list = services(n, o.endpoints, 'maglev');
  // LRU maps evict before they are full (per-CPU free lists): room for a quarter more.
  const args: PhaseArgs = {
    phase: 'agent',
    backend: 'kernel',
    services: n,
    endpoints: o.endpoints,
    algorithm: 'maglev',
    ctEntries: Math.ceil(o.ctEntries * 1.25),
    ctFill: o.ctEntries,
  };
  const { value, agent } = await withAgent(o, args, async (port, http, p) => {
    const r = await httpCall(http, port, 'PUT', '/v1/services', { services: list });
    if (r.status !== 200) throw new Error(`bulk PUT: ${r.status} ${r.text.slice(0, 300)}`);
    p.send('fill');
    const fill = await nextJson<{ ctFillMs: number }>(p);
    let t0 = performance.now();
    const all = await httpCall(http, port, 'GET', '/v1/conntrack?limit=1000');
    const listMs = performance.now() - t0;
    if (all.status !== 200) throw new Error(`GET /v1/conntrack: ${all.status} ${all.text.slice(0, 300)}`);
    const flows = (JSON.parse(all.text) as { total: number }).total;
    t0 = performance.now();
    const one = await httpCall(http, port, 'GET', '/v1/conntrack?service=svc-1&limit=1000');
    const listServiceMs = performance.now() - t0;
    const serviceFlows = (JSON.parse(one.text) as { total: number }).total;
    const cli = await runCli(['ct', 'ls', '--service', 'svc-1', '--api', `127.0.0.1:${port}`]);
    if (cli.code !== 0) throw new Error(`xlb ct ls --service svc-1: exit ${cli.code}: ${cli.out.slice(0, 300)}`);
    return { fillMs: fill.ctFillMs, listMs, flows, listServiceMs, serviceFlows, cliServiceMs: cli.ms };
  });
  return {
    entries: o.ctEntries,
    services: n,
    fillMs: round(value.fillMs),
    kernelMapMb: mb(agent.kernelMapKb),
    agentMaxRssMb: mb(agent.maxRssKb),
    listMs: round(value.listMs),
    flows: value.flows,
    listServiceMs: round(value.listServiceMs),
    serviceFlows: value.serviceFlows,
    cliServiceMs: round(value.cliServiceMs),
  };
}

export async function runControlBench(o: ControlBenchOptions): Promise<ControlBenchResult> {
  const log = o.log ?? (() => {});
  const out: ControlBenchResult = {
    backend: o.backend,
    endpoints: o.endpoints,
    pools: o.pools ?? 'one per service',
    concurrency: o.concurrency,
    rows: [],
    perOp: [],
    uptimeStart: uptime(),
    uptimeEnd: '',
  };
  for (const n of o.sizes) {
    for (const [ai, algorithm] of o.algorithms.entries()) {
      // The REST paths do the same per algorithm but the table build: a smoke run times them once.
      for (const p of o.paths.filter((x) => !(o.restFirstAlgorithmOnly === true && ai > 0 && x !== 'controller'))) {
        let row: ControlRow;
        if (p === 'controller') {
          const r = await controllerRow(o, algorithm, n);
          row = r.row;
          out.perOp.push(r.perOp);
        } else if (p === 'rest-bulk') row = await restBulkRow(o, algorithm, n);
        else row = await restEachRow(o, algorithm, n);
        out.rows.push(row);
        log(rowText(row));
      }
    }
  }
  if (o.ctEntries > 0 && o.backend === 'kernel') {
    out.conntrack = await conntrack(o);
    log(`conntrack ${o.ctEntries} entries: list ${out.conntrack.listMs} ms, --service ${out.conntrack.listServiceMs} ms`);
  }
  out.uptimeEnd = uptime();
  return out;
}

function rowText(r: ControlRow): string {
  const extra =
    r.path === 'controller'
      ? `, no-op reconcile ${r.noopMs} ms, ${r.services} targeted updates ${r.updateMs} ms${r.maglevBuilds !== undefined ? `, Maglev tables built ${r.maglevBuilds}, cached ${r.maglevHits}` : ''}`
      : r.path === 'rest-each'
        ? `, first tenth ${r.firstTenthPerS}/s, last tenth ${r.lastTenthPerS}/s, GET all ${r.getAllMs} ms, peak RSS before the GET ${r.putsMaxRssMb} MB`
        : '';
  return `${r.path} ${r.algorithm} ${r.services} × ${r.endpoints}: ${r.ms} ms (${r.servicesPerS} services/s), peak RSS ${r.maxRssMb} MB (${round(r.maxRssMb - r.mappedMapMb)} MB own), maps ${r.kernelMapMb} MB${extra}`;
}

/** The Markdown tables of a result (report.md). */
export function formatControlBench(r: ControlBenchResult): string {
  const out: string[] = [
    `Backend ${r.backend}, ${r.endpoints} endpoints per service (endpoint sets: ${r.pools}), REST with ${r.concurrency} requests in flight; each row a fresh process on fresh maps.`,
    `Load before: ${r.uptimeStart}; after: ${r.uptimeEnd}.`,
    '',
    '| path | algorithm | services | time (ms) | services/s | peak RSS (MB) | of it, maps mapped (MB) | own (MB) | kernel maps (MB) | detail |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const x of r.rows) {
    const detail =
      x.path === 'controller'
        ? `no-op reconcile ${x.noopMs} ms; ${x.services} updates ${x.updateMs} ms${x.maglevBuilds !== undefined ? `; Maglev tables built ${x.maglevBuilds}, cached ${x.maglevHits}` : ''}`
        : x.path === 'rest-each'
          ? `PUTs/s first tenth ${x.firstTenthPerS}, last tenth ${x.lastTenthPerS}; GET all ${x.getAllMs} ms; peak RSS before the GET ${x.putsMaxRssMb} MB`
          : '';
    out.push(
      `| ${x.path} | ${x.algorithm} | ${x.services} | ${x.ms} | ${x.servicesPerS} | ${x.maxRssMb} | ${x.mappedMapMb} | ${round(x.maxRssMb - x.mappedMapMb)} | ${x.kernelMapMb} | ${detail} |`,
    );
  }
  if (r.perOp.length > 0) {
    out.push(
      '',
      'µs per map write, measured on the loaded maps (1,000 services):',
      '',
      '| algorithm | services loaded | service entry update | whole generation (slots + table) | of which from the table cache | table build alone (TypeScript) | table build alone (addon) |',
      '|---|--:|--:|--:|--:|--:|--:|',
    );
    for (const p of r.perOp)
      out.push(
        `| ${p.algorithm} | ${p.services} | ${p.putServiceUs} | ${p.writeGenerationUs} | ${p.writeGenerationCached} | ${p.tableBuildUs} | ${p.tableBuildNativeUs ?? '–'} |`,
      );
  }
  if (r.conntrack !== undefined) {
    const c = r.conntrack;
    out.push(
      '',
      `Conntrack: ${c.entries} entries (${c.flows} flows) over ${c.services} services, written in ${c.fillMs} ms; kernel maps ${c.kernelMapMb} MB, agent peak RSS ${c.agentMaxRssMb} MB.`,
      '',
      '| listing | time (ms) | flows |',
      '|---|--:|--:|',
      `| GET /v1/conntrack (every entry read and merged) | ${c.listMs} | ${c.flows} |`,
      `| GET /v1/conntrack?service=svc-1 | ${c.listServiceMs} | ${c.serviceFlows} |`,
      `| xlb ct ls --service svc-1 (process, start-up included) | ${c.cliServiceMs} | ${c.serviceFlows} |`,
    );
  }
  return out.join('\n');
}

export function parseControlArgs(argv: string[]): ControlBenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      backend: { type: 'string', default: 'kernel' },
      sizes: { type: 'string', default: '1000,10000,100000' },
      endpoints: { type: 'string', default: '8' },
      algorithms: { type: 'string', default: 'maglev,rr' },
      paths: { type: 'string', default: PATHS.join(',') },
      concurrency: { type: 'string', default: '8' },
      pools: { type: 'string' },
      'ct-entries': { type: 'string', default: '1000000' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  if (values.backend !== 'kernel' && values.backend !== 'double') throw new Error(`--backend '${values.backend}' is not kernel or double`);
  const algorithms = values.algorithms.split(',');
  const bad = algorithms.filter((a) => !(ALGORITHMS as readonly string[]).includes(a));
  if (bad.length > 0) throw new Error(`--algorithms: '${bad.join("', '")}' not one of ${ALGORITHMS.join(', ')}`);
  const paths = values.paths.split(',');
  const badPaths = paths.filter((p) => !(PATHS as readonly string[]).includes(p));
  if (badPaths.length > 0) throw new Error(`--paths: '${badPaths.join("', '")}' not one of ${PATHS.join(', ')}`);
  const num = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} '${v}' is not a non-negative integer`);
    return n;
  };
  const quick = values.quick === true;
  return {
    backend: values.backend,
    sizes: quick ? [100] : values.sizes.split(',').map((s) => num('sizes', s)),
    endpoints: num('endpoints', values.endpoints),
    algorithms: algorithms as Algorithm[],
    paths: paths as ControlPath[],
    concurrency: Math.max(1, num('concurrency', values.concurrency)),
    ...(values.pools !== undefined ? { pools: Math.max(1, num('pools', values.pools)) } : {}),
    ctEntries: quick ? 10_000 : num('ct-entries', values['ct-entries']),
    ctServices: quick ? 100 : 10_000,
    phaseTimeoutMs: quick ? 60_000 : 900_000,
    restFirstAlgorithmOnly: quick,
    ...(values['cpu-prof'] !== undefined ? { cpuProfDir: path.resolve(values['cpu-prof']) } : {}),
  };
}

export const CONTROL_USAGE =
  'usage: bench/control/run.ts [--backend kernel|double] [--sizes 1000,10000,100000] [--algorithms maglev,rr] [--paths controller,rest-bulk,rest-each] [--endpoints 8] [--concurrency 8] [--pools N] [--ct-entries 1000000] [--quick] [--out DIR] [--cpu-prof DIR]';

export async function main(argv: string[]): Promise<number> {
  const o = parseControlArgs(argv);
  if (o === 'help') {
    console.log(CONTROL_USAGE);
    return 0;
  }
  const outIdx = argv.indexOf('--out');
  const out = outIdx >= 0 ? argv[outIdx + 1] : undefined;
  const r = await runControlBench({ ...o, log: (l) => console.log(l) });
  console.log(`\n${formatControlBench(r)}`);
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'control.json'), `${JSON.stringify(r, null, 2)}\n`);
    writeFileSync(path.join(out, 'control.md'), `${formatControlBench(r)}\n`);
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(`bench/control: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
