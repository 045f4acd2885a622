// The typed REST client against a real agent in this process (over its datapath test double):
// every route, the response shapes of views.ts, and the API's errors as AgentApiError (status,
// code, message, field errors), including an agent that is not there.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemoryDatapath } from '../controller/memory-datapath.ts';
import { startAgent } from './agent.ts';
import type { AgentHandle } from './agent.ts';
import { AgentApiError, AgentClient, agentBaseUrl } from './client.ts';
import type { ServiceBody } from './client.ts';
import { createLogger } from './log.ts';

const TOKEN = 'client-test-token';

async function agent(t: { teardown(fn: () => Promise<void>): void }): Promise<{ a: AgentHandle; dp: MemoryDatapath; client: AgentClient }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-client-lib-'));
  const dp = new MemoryDatapath();
  const a = await startAgent(
    { datapath: dp, describe: 'test double', attach: () => {}, detach: () => {}, close: () => {} },
    {
      configFile: path.join(dir, 'a.yaml'),
      ifaces: [],
      api: { host: '127.0.0.1', port: 0 },
      token: TOKEN,
      detachOnExit: false,
      log: createLogger({ write: () => {} }),
    },
  );
  t.teardown(async () => {
    await a.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { a, dp, client: new AgentClient({ api: `127.0.0.1:${a.address.port}`, token: TOKEN }) };
}

const web: ServiceBody = {
  vip: '198.18.100.1',
  port: 80,
  algorithm: 'wrr',
  endpoints: [
    { ip: '198.18.2.1', port: 8080 },
    { ip: '198.18.2.2', port: 8080, weight: 3 },
  ],
};

test('every route: healthz, put/get/list/replace/delete services, conntrack filters, stats, metrics, openapi', async (t) => {
  const { dp, client } = await agent(t);
  const h = await client.healthz();
  t.like(h, { status: 'ok', services: 0, datapath: 'test double' });

  const created = await client.putService('web', web);
  t.is(created.action, 'created');
  t.like(created.service, {
    name: 'web',
    vip: '198.18.100.1',
    port: 80,
    protocol: 'tcp',
    algorithm: 'wrr',
    mode: 'dnat',
    deadFlowPolicy: 'keep',
  });
  t.deepEqual(
    created.service.status.endpoints.map((e) => [e.ip, e.slot, e.active]),
    [
      ['198.18.2.1', 0, true],
      ['198.18.2.2', 1, true],
    ],
  );
  const got = await client.getService('web');
  t.deepEqual(got, created.service);
  // GET output goes back as a PUT body unchanged (status ignored).
  t.is((await client.putService('web', got)).action, 'unchanged');
  t.deepEqual(
    (await client.listServices()).map((s) => s.name),
    ['web'],
  );

  const replaced = await client.replaceServices([
    { ...web, name: 'web' },
    { name: 'dns', vip: '198.18.100.2', port: 53, protocol: 'udp', endpoints: [{ ip: '198.18.2.9', port: 53 }] },
  ]);
  t.deepEqual(replaced, { created: 1, updated: 0, deleted: 0, unchanged: 1 });

  const webId = (await client.getService('web')).status.id;
  const flow = (port: number, state: string) => ({
    serviceId: webId,
    protocol: 'tcp' as const,
    client: { ip: '198.18.0.2', port },
    vip: { ip: '198.18.100.1', port: 80 },
    endpoint: { ip: '198.18.2.1', port: 8080 },
    endpointSlot: 0,
    state,
    packets: 3,
    bytes: 300,
    ageMs: 10,
    idleMs: 1,
  });
  dp.flows = [flow(40000, 'ESTABLISHED'), flow(40001, 'SYN_RECV'), flow(40002, 'ESTABLISHED')];
  const all = await client.conntrack();
  t.is(all.total, 3);
  t.like(all.entries[0], { service: 'web', state: 'ESTABLISHED', client: { ip: '198.18.0.2', port: 40000 } });
  const est = await client.conntrack({ service: 'web', state: ['ESTABLISHED'], limit: 1 });
  t.is(est.total, 2);
  t.is(est.entries.length, 1);
  t.is((await client.conntrack({ state: 'SYN_RECV,ESTABLISHED' })).total, 3);
  t.is((await client.conntrack({ service: 'dns' })).total, 0);

  dp.countersValue.drops.set('drop_no_endpoint', 7);
  const stats = await client.stats();
  t.deepEqual(stats.services.map((s) => s.name).sort(), ['dns', 'web']);
  t.is(stats.drops.drop_no_endpoint, 7);
  t.is(stats.conntrack.ESTABLISHED, 2);
  t.regex(await client.metrics(), /^# HELP /m);
  const doc = await client.openapi();
  t.is(doc.openapi, '3.0.3');

  await client.deleteService('dns');
  t.deepEqual(
    (await client.listServices()).map((s) => s.name),
    ['web'],
  );
  t.is((await client.healthz()).services, 1);
});

test('API errors arrive as AgentApiError with status, code, message and field errors', async (t) => {
  const { client, a } = await agent(t);
  const bad = await t.throwsAsync(
    client.putService('web', { ...web, algorithm: 'best' as 'rr', endpoints: [{ ip: '10.0.0.1x', port: 80 }] }),
    { instanceOf: AgentApiError },
  );
  t.is(bad.status, 400);
  t.is(bad.code, 'invalid');
  t.deepEqual(bad.errors.map((e) => e.path).sort(), ['algorithm', 'endpoints[0].ip']);
  t.regex(bad.message, /^the agent refused \(400\): /);
  t.is(bad.method, 'PUT');
  t.is(bad.path, '/v1/services/web');

  const missing = await t.throwsAsync(client.getService('nope'), { instanceOf: AgentApiError });
  t.is(missing.status, 404);
  t.is(missing.code, 'not found');
  t.regex(missing.apiMessage, /no service named 'nope'/);
  await t.throwsAsync(client.deleteService('nope'), { instanceOf: AgentApiError, message: /404/ });
  await t.throwsAsync(client.conntrack({ service: 'nope' }), { instanceOf: AgentApiError, message: /404/ });
  const badLimit = await t.throwsAsync(client.conntrack({ limit: 0 }), { instanceOf: AgentApiError });
  t.is(badLimit.errors[0]?.path, 'query.limit');

  const noToken = new AgentClient({ api: `127.0.0.1:${a.address.port}`, token: 'wrong' });
  const unauth = await t.throwsAsync(noToken.listServices(), { instanceOf: AgentApiError });
  t.is(unauth.status, 401);
  t.is(unauth.code, 'unauthorized');
  t.is((await noToken.healthz()).status, 'ok', '/healthz needs no token');
});

test('an agent that is not there: status 0, code unreachable, the address in the message', async (t) => {
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const port = (free.address() as AddressInfo).port;
  await new Promise((r) => free.close(r));
  const e = await t.throwsAsync(new AgentClient({ api: `127.0.0.1:${port}`, timeoutMs: 5000 }).healthz(), { instanceOf: AgentApiError });
  t.is(e.status, 0);
  t.is(e.code, 'unreachable');
  t.regex(e.message, new RegExp(`cannot reach the agent at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
});

test('API addresses: HOST:PORT, [v6]:PORT and URLs', (t) => {
  t.is(agentBaseUrl('127.0.0.1:9400'), 'http://127.0.0.1:9400');
  t.is(agentBaseUrl('[::1]:9400'), 'http://[::1]:9400');
  t.is(agentBaseUrl('https://lb.example:9400/'), 'https://lb.example:9400');
});
