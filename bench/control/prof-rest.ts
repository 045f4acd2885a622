import { Session } from 'node:inspector/promises';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'node:http';
import { DatapathTestDouble } from '../../src/controller/datapath-test-double.ts';
import { startAgent } from '../../src/agent/agent.ts';
import { createLogger } from '../../src/agent/log.ts';
import { services } from './run.ts';
const n = Number(process.argv[2] ?? 2000);
const kernel = process.argv[3] === 'kernel';
let h;
if (kernel) {
  const { openKernelDatapath } = await import('../../src/datapath/kernel-datapath.ts');
  h = openKernelDatapath({ hook: 'tc', pinDir: `/sys/fs/bpf/xlb/prof-${process.pid}`, maxServices: n + 1, removePinsOnClose: true });
} else {
  const dp = new DatapathTestDouble({ maxServices: n + 1 });
  h = { datapath: dp, describe: 'double', attach: () => {}, detach: () => {}, close: () => {} };
}
const dir = mkdtempSync(path.join(tmpdir(), 'xlb-prof-'));
const running = await startAgent(h, { configFile: path.join(dir, 'agent.yaml'), ifaces: [], api: { host: '127.0.0.1', port: 0 }, detachOnExit: false, log: createLogger({ write: () => {} }) });
const port = running.address.port;
const list = services(n, 8, 'maglev');
const s = new Session(); s.connect(); await s.post('Profiler.enable'); await s.post('Profiler.start');
const httpAgent = new Agent({ keepAlive: true, maxSockets: 8 });
let next = 0;
const put = (sv: Record<string, unknown>): Promise<void> => new Promise((resolve, reject) => {
  const body = JSON.stringify(sv);
  const req = request({ host: '127.0.0.1', port, method: 'PUT', path: `/v1/services/${sv.name as string}`, agent: httpAgent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); res.on('end', () => res.statusCode === 201 ? resolve() : reject(new Error(String(res.statusCode)))); });
  req.on('error', reject); req.end(body);
});
const t0 = performance.now();
await Promise.all(Array.from({ length: 8 }, async () => { while (next < list.length) await put(list[next++]!); }));
const dt = performance.now() - t0;
console.log(`${n} PUTs ${dt.toFixed(0)} ms, ${(n / dt * 1000).toFixed(0)}/s`);
const { profile } = await s.post('Profiler.stop');
writeFileSync('/tmp/ctl-exp/rest.cpuprofile', JSON.stringify(profile));
httpAgent.destroy();
await running.stop();
