// Control-plane benchmark: time to program N services × E endpoints
//   (a) through the controller (Controller.load = validate + full reconcile from empty), then a
//       second reconcile of the same state (read-back only, zero writes), then N targeted
//       updates (one endpoint replaced per service: a generation flip each);
//   (b) through the REST API: N PUTs over HTTP to a fresh agent (its API and its config file
//       persistence, group-committed) on 127.0.0.1 (C in flight), then one GET /v1/services;
//   (c) one bulk PUT /v1/services with all N on a fresh agent.
// Each size runs on a fresh datapath instance (kernel: its own pin dir, removed after).
//
//   npx tsx bench/control/run.ts [--backend kernel|double] [--sizes 1000,10000] [--endpoints 8]
//                                [--algorithm maglev] [--concurrency 8] [--out DIR]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Controller } from '../../src/controller/controller.ts';
import { DatapathTestDouble } from '../../src/controller/datapath-test-double.ts';
import { startAgent } from '../../src/agent/agent.ts';
import { createLogger } from '../../src/agent/log.ts';
import type { DatapathHandle } from '../../src/controller/datapath.ts';
import { ALGORITHMS } from '../../src/controller/types.ts';
import type { Algorithm } from '../../src/controller/types.ts';

export interface BenchOptions {
  backend: 'kernel' | 'double';
  sizes: number[];
  endpoints: number;
  algorithm: Algorithm;
  concurrency: number;
}

export interface SizeResult {
  services: number;
  endpoints: number;
  algorithm: Algorithm;
  backend: string;
  controllerLoadMs: number;
  controllerWrites: number | null;
  reconcileNoopMs: number;
  updateEachMs: number;
  restPutMs: number;
  restPutsPerS: number;
  restListMs: number;
  bulkPutMs: number;
}

type Opener = (maxServices: number) => DatapathHandle;

async function opener(backend: BenchOptions['backend']): Promise<Opener> {
  if (backend === 'double') {
    return (maxServices) => {
      const dp = new DatapathTestDouble({ maxServices });
      return { datapath: dp, describe: 'test double', attach: () => {}, detach: () => {}, close: () => {} };
    };
  }
  const { openKernelDatapath } = await import('../../src/datapath/kernel-datapath.ts');
  return (maxServices) => {
    const id = `bench-${Math.random().toString(36).slice(2, 8)}`;
    return openKernelDatapath({ hook: 'tc', pinDir: `/sys/fs/bpf/xlb/${id}`, maxServices, removePinsOnClose: true });
  };
}

/** Service i: VIP 198.18.100.0/22-ish spread over 198.18.{128..}.x, E endpoints in 198.18.2.0/24. */
export function services(n: number, e: number, algorithm: Algorithm, variant = 0): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `svc-${i}`,
    vip: `198.18.${128 + Math.floor(i / 250)}.${(i % 250) + 1}`,
    port: 80,
    algorithm,
    endpoints: Array.from({ length: e }, (_, j) => ({ ip: `198.18.2.${((i + j + (j === 0 ? variant : 0)) % 250) + 1}`, port: 8080 + j })),
  }));
}

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

export async function benchSize(open: Opener, n: number, o: BenchOptions): Promise<SizeResult> {
  const list = services(n, o.endpoints, o.algorithm);
  // (a) controller
  const h1 = open(n + 1);
  let controllerLoadMs: number;
  let reconcileNoopMs: number;
  let updateEachMs: number;
  let controllerWrites: number | null = null;
  try {
    const c = new Controller(h1.datapath);
    let t0 = performance.now();
    c.load({ services: list });
    controllerLoadMs = ms(t0);
    if (h1.datapath instanceof DatapathTestDouble) controllerWrites = h1.datapath.writes;
    t0 = performance.now();
    const r = c.reconcileAll();
    reconcileNoopMs = ms(t0);
    if (r.unchanged !== n) throw new Error(`second reconcile changed ${n - r.unchanged} services: not idempotent`);
    const changed = services(n, o.endpoints, o.algorithm, 1);
    t0 = performance.now();
    for (const s of changed) c.put(s.name as string, s);
    updateEachMs = ms(t0);
  } finally {
    h1.close();
  }
  // (b) REST: the agent runtime (API + config persistence to a temp file), no interfaces.
  const h2 = open(n + 1);
  let restPutMs: number;
  let restListMs: number;
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-bench-control-'));
  try {
    let running;
    try {
      running = await startAgent(h2, { configFile: path.join(dir, 'agent.yaml'), ifaces: [], api: { host: '127.0.0.1', port: 0 }, detachOnExit: false, log: createLogger({ write: () => {} }) });
    } catch (err) {
      h2.close();
      throw err;
    }
    const port = running.address.port;
    try {
      let next = 0;
      const t0 = performance.now();
      // node:http with a keep-alive agent (one connection per worker), as a real client would.
      const httpAgent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
      const put = (s: Record<string, unknown>): Promise<void> =>
        new Promise((resolve, reject) => {
          const body = JSON.stringify(s);
          const req = request(
            { host: '127.0.0.1', port, method: 'PUT', path: `/v1/services/${s.name as string}`, agent: httpAgent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
            (res) => {
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`PUT ${s.name as string}: ${res.statusCode} ${text}`))));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      const worker = async (): Promise<void> => {
        while (next < list.length) await put(list[next++] as Record<string, unknown>);
      };
      await Promise.all(Array.from({ length: o.concurrency }, worker));
      restPutMs = ms(t0);
      httpAgent.destroy();
      const t1 = performance.now();
      const all = (await (await fetch(`http://127.0.0.1:${port}/v1/services`)).json()) as { services: unknown[] };
      restListMs = ms(t1);
      if (all.services.length !== n) throw new Error(`GET /v1/services returned ${all.services.length} services, expected ${n}`);
    } finally {
      await running.stop(); // closes the datapath handle too
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // (c) REST bulk: one PUT /v1/services with every service, on a fresh agent.
  const h3 = open(n + 1);
  let bulkPutMs: number;
  const dir3 = mkdtempSync(path.join(tmpdir(), 'xlb-bench-control-'));
  try {
    let running;
    try {
      running = await startAgent(h3, { configFile: path.join(dir3, 'agent.yaml'), ifaces: [], api: { host: '127.0.0.1', port: 0 }, detachOnExit: false, log: createLogger({ write: () => {} }) });
    } catch (err) {
      h3.close();
      throw err;
    }
    try {
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${running.address.port}/v1/services`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ services: list }) });
      const body = (await res.json()) as { created?: number };
      bulkPutMs = ms(t0);
      if (body.created !== n) throw new Error(`bulk PUT created ${String(body.created)} services, expected ${n}`);
    } finally {
      await running.stop();
    }
  } finally {
    rmSync(dir3, { recursive: true, force: true });
  }
  return {
    services: n,
    endpoints: o.endpoints,
    algorithm: o.algorithm,
    backend: o.backend,
    controllerLoadMs,
    controllerWrites,
    reconcileNoopMs,
    updateEachMs,
    restPutMs,
    restPutsPerS: Math.round((n / restPutMs) * 1000),
    restListMs,
    bulkPutMs,
  };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      backend: { type: 'string', default: 'kernel' },
      sizes: { type: 'string', default: '1000,10000' },
      endpoints: { type: 'string', default: '8' },
      algorithm: { type: 'string', default: 'maglev' },
      concurrency: { type: 'string', default: '8' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log('usage: bench/control/run.ts [--backend kernel|double] [--sizes 1000,10000] [--endpoints 8] [--algorithm maglev] [--concurrency 8] [--quick] [--out DIR]');
    return 0;
  }
  if (values.backend !== 'kernel' && values.backend !== 'double') throw new Error(`--backend '${values.backend}' is not kernel or double`);
  if (!(ALGORITHMS as readonly string[]).includes(values.algorithm)) throw new Error(`--algorithm '${values.algorithm}' is not one of ${ALGORITHMS.join(', ')}`);
  const o: BenchOptions = {
    backend: values.backend,
    sizes: values.quick === true ? [100] : values.sizes.split(',').map(Number),
    endpoints: Number(values.endpoints),
    algorithm: values.algorithm as Algorithm,
    concurrency: Number(values.concurrency),
  };
  const open = await opener(o.backend);
  const results: SizeResult[] = [];
  for (const n of o.sizes) {
    const r = await benchSize(open, n, o);
    results.push(r);
    console.log(
      `${o.backend} ${o.algorithm} ${n} services × ${o.endpoints} endpoints: controller load ${r.controllerLoadMs} ms, no-op reconcile ${r.reconcileNoopMs} ms, ` +
        `${n} targeted updates ${r.updateEachMs} ms; REST ${n} PUTs ${r.restPutMs} ms (${r.restPutsPerS}/s, each persisted), ` +
        `GET all ${r.restListMs} ms, one bulk PUT of all ${r.bulkPutMs} ms`,
    );
  }
  if (values.out !== undefined) {
    mkdirSync(values.out, { recursive: true });
    writeFileSync(path.join(values.out, 'control.json'), `${JSON.stringify({ kernel: process.version, results }, null, 2)}\n`);
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
