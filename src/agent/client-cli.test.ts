import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MemoryDatapath } from '../controller/memory-datapath.ts';
import { startAgent } from './agent.ts';
import { main, parseEndpointArg, table } from './client-cli.ts';
import { createLogger } from './log.ts';

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    return { code: await fn(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test.serial('lb add/ls/rm, ct ls, stats against a running agent (tables and --json)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-client-test-'));
  const dp = new MemoryDatapath();
  const agent = await startAgent(
    { datapath: dp, describe: 'test double', attach: () => {}, detach: () => {}, close: () => {} },
    {
      configFile: path.join(dir, 'a.yaml'),
      ifaces: [],
      api: { host: '127.0.0.1', port: 0 },
      token: 'tok',
      detachOnExit: false,
      log: createLogger({ write: () => {} }),
    },
  );
  t.teardown(async () => {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, 'tok\n');
  const api = ['--api', `127.0.0.1:${agent.address.port}`, '--token-file', tokenFile];
  const add = await capture(() =>
    main([
      'lb',
      'add',
      'web',
      '--vip',
      '198.18.100.1',
      '--port',
      '80',
      '--endpoint',
      '198.18.2.1:8080',
      '--endpoint',
      '198.18.2.2:8080:3',
      '--algorithm',
      'wrr',
      ...api,
    ]),
  );
  t.is(add.code, 0, add.err);
  t.regex(add.out, /^web: created$/m);
  t.regex(add.out, /198\.18\.2\.2:8080\s+3\s+1\s+yes/);
  const ls = await capture(() => main(['lb', 'ls', ...api]));
  t.regex(ls.out, /^NAME\s+VIP\s+PORT\s+PROTO\s+ALGO\s+MODE\s+ENDPOINTS\s+ID$/m);
  t.regex(ls.out, /^web\s+198\.18\.100\.1\s+80\s+tcp\s+wrr\s+dnat\s+2\/2 active\s+1$/m);
  const lsJson = await capture(() => main(['lb', 'ls', '--json', ...api]));
  t.is(JSON.parse(lsJson.out).services[0].endpoints[1].weight, 3);
  const bad = await capture(() =>
    main(['lb', 'add', 'web', '--vip', '198.18.100.1', '--port', '80', '--endpoint', '198.18.2.1:8080', '--algorithm', 'best', ...api]),
  );
  t.is(bad.code, 1);
  t.regex(bad.err, /the agent refused \(400\): algorithm: 'best' is not one of/);
  dp.flows = [
    {
      serviceId: 1,
      protocol: 'tcp',
      client: { ip: '198.18.0.2', port: 40000 },
      vip: { ip: '198.18.100.1', port: 80 },
      endpoint: { ip: '198.18.2.1', port: 8080 },
      endpointSlot: 0,
      state: 'ESTABLISHED',
      packets: 12,
      bytes: 2000,
      ageMs: 1500,
      idleMs: 1,
    },
  ];
  const ct = await capture(() => main(['ct', 'ls', '--service', 'web', ...api]));
  t.regex(ct.out, /^web\s+tcp\s+198\.18\.0\.2:40000\s+198\.18\.100\.1:80\s+198\.18\.2\.1:8080\s+ESTABLISHED\s+12\s+2000\s+1\.5s$/m);
  t.regex(ct.out, /1 of 1 flows/);
  const stats = await capture(() => main(['stats', ...api]));
  t.regex(stats.out, /^SERVICE\s+ENDPOINT\s+PACKETS\s+BYTES\s+STATE$/m);
  t.regex(stats.out, /flows:\s+ESTABLISHED=1/);
  const noTok = await capture(() => main(['lb', 'ls', '--api', `127.0.0.1:${agent.address.port}`]));
  t.is(noTok.code, 1);
  t.regex(noTok.err, /401.*Bearer/);
  const rm = await capture(() => main(['lb', 'rm', 'web', ...api]));
  t.regex(rm.out, /web: deleted/);
  t.is(dp.services.size, 0);
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const port = (free.address() as AddressInfo).port;
  await new Promise((r) => free.close(r));
  const down = await capture(() => main(['lb', 'ls', '--api', `127.0.0.1:${port}`]));
  t.is(down.code, 1);
  t.regex(down.err, /cannot reach the agent at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
});

test('endpoint arguments and tables', (t) => {
  t.deepEqual(parseEndpointArg('[fd00::1]:80:2'), { ip: 'fd00::1', port: 80, weight: 2 });
  t.deepEqual(parseEndpointArg('198.18.2.1:8080'), { ip: '198.18.2.1', port: 8080 });
  t.throws(() => parseEndpointArg('fd00::1:80'), { message: /is not IP:PORT/ });
  t.is(table(['A', 'BB'], [['xyz', 1]]), 'A    BB\nxyz  1');
});
