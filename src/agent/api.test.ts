import test from 'ava';
import type { FastifyInstance } from 'fastify';
import { Controller } from '../controller/controller.ts';
import { MemoryDatapath } from '../controller/memory-datapath.ts';
import { buildApi } from './api.ts';

const web = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  vip: '198.18.100.1',
  port: 80,
  protocol: 'tcp',
  algorithm: 'maglev',
  mode: 'dnat',
  endpoints: [
    { ip: '198.18.2.1', port: 8080, weight: 1 },
    { ip: '198.18.2.2', port: 8080, weight: 2 },
  ],
  ...extra,
});

async function setup(token?: string): Promise<{ app: FastifyInstance; dp: MemoryDatapath; c: Controller }> {
  const dp = new MemoryDatapath();
  const c = new Controller(dp);
  const app = await buildApi({ controller: c, datapathName: 'test double', ...(token !== undefined ? { token } : {}) });
  return { app, dp, c };
}

test('PUT creates, GET shows, PUT again is unchanged, DELETE removes', async (t) => {
  const { app, dp } = await setup();
  const put = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web() });
  t.is(put.statusCode, 201, put.body);
  t.is(put.json().action, 'created');
  t.is(put.json().service.status.id, 1);
  t.deepEqual(
    put.json().service.status.endpoints.map((e: { slot: number; active: boolean }) => [e.slot, e.active]),
    [
      [0, true],
      [1, true],
    ],
  );
  const writes = dp.writes;
  const again = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web() });
  t.is(again.statusCode, 200);
  t.is(again.json().action, 'unchanged');
  t.is(dp.writes, writes);
  const list = await app.inject('/v1/services');
  t.is(list.json().services.length, 1);
  const one = await app.inject('/v1/services/web');
  t.is(one.statusCode, 200);
  t.like(one.json(), { name: 'web', vip: '198.18.100.1', port: 80, algorithm: 'maglev', deadFlowPolicy: 'keep' });
  // GET output can be PUT back as is (status is read-only and ignored).
  const roundTrip = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: one.json() });
  t.is(roundTrip.json().action, 'unchanged');
  const del = await app.inject({ method: 'DELETE', url: '/v1/services/web' });
  t.is(del.statusCode, 204);
  t.is(dp.services.size, 0);
  t.is((await app.inject({ method: 'DELETE', url: '/v1/services/web' })).statusCode, 404);
  t.is((await app.inject('/v1/services/web')).statusCode, 404);
});

const invalid: [string, Record<string, unknown> | string, RegExp][] = [
  ['bad IP', web({ endpoints: [{ ip: '10.0.0.1x', port: 80 }] }), /^endpoints\[0\]\.ip: '10\.0\.0\.1x' is not an IPv4 or IPv6 address$/],
  ['bad VIP', web({ vip: '300.1.1.1' }), /^vip: '300\.1\.1\.1' is not an IPv4 or IPv6 address$/],
  ['bad port', web({ port: 0 }), /^port: 0 is not a port number in 1\.\.65535$/],
  ['bad endpoint port', web({ endpoints: [{ ip: '198.18.2.1', port: 'http' }] }), /^endpoints\[0\]\.port: 'http' is not a port number/],
  ['unknown algorithm', web({ algorithm: 'fastest' }), /^algorithm: 'fastest' is not one of rr, wrr, hash, maglev, lc, random$/],
  ['unknown mode', web({ mode: 'snat' }), /^mode: 'snat' is not one of dnat, fullnat, dsr$/],
  ['unknown protocol', web({ protocol: 'sctp' }), /^protocol: 'sctp' is not one of tcp, udp$/],
  [
    'duplicate endpoint',
    web({
      endpoints: [
        { ip: '198.18.2.1', port: 80 },
        { ip: '198.18.2.1', port: 80 },
      ],
    }),
    /^endpoints\[1\]: duplicate endpoint/,
  ],
  ['v4 endpoint on a v6 VIP', web({ vip: 'fd00::100:1' }), /^endpoints\[0\]\.ip: '198\.18\.2\.1' is IPv4 but the VIP is IPv6/],
  [
    'weight out of range',
    web({ endpoints: [{ ip: '198.18.2.1', port: 80, weight: 70000 }] }),
    /^endpoints\[0\]\.weight: 70000 is not a weight in 1\.\.65535$/,
  ],
  [
    'too many endpoints',
    web({ endpoints: Array.from({ length: 65 }, (_, i) => ({ ip: `198.18.3.${i}`, port: 80 })) }),
    /^endpoints: 65 endpoints is more than the datapath maximum of 64/,
  ],
  ['unknown field', web({ weigth: 3 }), /^weigth: unknown field; allowed fields: /],
  ['name mismatch', web({ name: 'other' }), /^name: 'other' differs from the name in the URL 'web'/],
  ['not an object', '[1,2]', /^an array is not an object$/],
  ['bad health check', web({ healthCheck: { type: 'icmp' } }), /^healthCheck\.type: 'icmp' is not one of tcp, http, udp$/],
  ['overlapping service', web({ vip: '198.18.100.9', port: 443 }), /^port: tcp:198\.18\.100\.9:443 overlaps service 'existing'/],
];

for (const [what, body, re] of invalid) {
  test(`PUT with ${what} is a 400 naming the field and changes nothing`, async (t) => {
    const { app, dp } = await setup();
    await app.inject({ method: 'PUT', url: '/v1/services/existing', payload: web({ vip: '198.18.100.9', port: 443 }) });
    const before = JSON.stringify(dp.listServices());
    const writes = dp.writes;
    const r = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: body, headers: { 'content-type': 'application/json' } });
    t.is(r.statusCode, 400, r.body);
    t.is(r.json().error, 'invalid');
    t.regex(r.json().message, re);
    t.true(Array.isArray(r.json().errors));
    t.is(dp.writes, writes);
    t.is(JSON.stringify(dp.listServices()), before);
    t.is((await app.inject('/v1/services')).json().services.length, 1);
  });
}

test('PUT with a bad name in the URL or broken JSON is a 400', async (t) => {
  const { app } = await setup();
  const r = await app.inject({ method: 'PUT', url: '/v1/services/bad%20name', payload: web() });
  t.is(r.statusCode, 400);
  t.regex(r.json().message, /^name: 'bad name' is not a service name/);
  const j = await app.inject({
    method: 'PUT',
    url: '/v1/services/web',
    payload: '{"vip":',
    headers: { 'content-type': 'application/json' },
  });
  t.is(j.statusCode, 400);
  t.regex(j.json().message, /JSON/);
});

test('conntrack: filter by service, state, limit, bad parameters', async (t) => {
  const { app, dp } = await setup();
  await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web() });
  await app.inject({ method: 'PUT', url: '/v1/services/dns', payload: web({ vip: '198.18.100.2', port: 53, protocol: 'udp' }) });
  const flow = (serviceId: number, n: number) => ({
    serviceId,
    protocol: serviceId === 1 ? ('tcp' as const) : ('udp' as const),
    client: { ip: '198.18.0.10', port: 40000 + n },
    vip: { ip: '198.18.100.1', port: 80 },
    endpoint: { ip: '198.18.2.1', port: 8080 },
    endpointSlot: 0,
    state: 'ESTABLISHED',
    packets: 3,
    bytes: 180,
    ageMs: 1200,
    idleMs: 10,
  });
  dp.flows = [flow(1, 1), flow(1, 2), flow(2, 3)];
  const all = (await app.inject('/v1/conntrack')).json();
  t.is(all.total, 3);
  t.deepEqual(all.entries[0], { ...flow(1, 1), service: 'web' });
  const web1 = (await app.inject('/v1/conntrack?service=web&limit=1')).json();
  t.is(web1.total, 2);
  t.is(web1.entries.length, 1);
  const bad = await app.inject('/v1/conntrack?limit=abc');
  t.is(bad.statusCode, 400);
  t.regex(bad.json().message, /^query\.limit: 'abc' is not an integer/);
  t.is((await app.inject('/v1/conntrack?servce=web')).statusCode, 400);
  t.is((await app.inject('/v1/conntrack?service=nope')).statusCode, 404);
  dp.flows = [flow(1, 1), { ...flow(1, 2), state: 'TIME_WAIT' }, { ...flow(2, 3), state: 'UDP_ESTABLISHED' }];
  const est = (await app.inject('/v1/conntrack?state=established')).json();
  t.deepEqual(
    est.entries.map((e: { client: { port: number } }) => e.client.port),
    [40001],
  );
  const two = (await app.inject('/v1/conntrack?state=TIME_WAIT,udp_established')).json();
  t.is(two.total, 2);
  const badState = await app.inject('/v1/conntrack?state=ESTABLISHED;DROP');
  t.is(badState.statusCode, 400);
  t.regex(badState.json().message, /^query\.state: 'ESTABLISHED;DROP' is not a conntrack state; give one or more of NONE, SYN_SENT, /);
  const foo = await app.inject('/v1/conntrack?state=FOO,established,bar');
  t.is(foo.statusCode, 400);
  t.is(foo.json().error, 'invalid');
  t.deepEqual(foo.json().errors, [
    {
      path: 'query.state',
      message:
        "'FOO', 'BAR' are not conntrack states; give one or more of NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, TIME_WAIT, CLOSED, UDP_NEW, UDP_SEEN, UDP_ESTABLISHED, ICMP_REQUEST, ICMP_REPLY (comma-separated, any case)",
    },
  ]);
  t.is((await app.inject('/v1/conntrack?limit=0')).json().message, 'query.limit: 0 is not an integer in 1..1000000');
});

test('stats and metrics report the datapath counters per service and endpoint', async (t) => {
  const { app, dp } = await setup();
  await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web() });
  dp.countersValue.services.set(1, { packets: 10, bytes: 1000 });
  dp.countersValue.endpoints.set(1, new Map([[1, { packets: 7, bytes: 700 }]]));
  dp.countersValue.drops.set('drop_no_endpoint', 2);
  const s = (await app.inject('/v1/stats')).json();
  t.like(s.services[0], { name: 'web', id: 1, packets: 10, bytes: 1000 });
  t.like(s.services[0].endpoints[1], { ip: '198.18.2.2', packets: 7, bytes: 700, slot: 1 });
  t.deepEqual(s.drops, { drop_no_endpoint: 2 });
  const m = await app.inject('/metrics');
  t.is(m.statusCode, 200);
  t.regex(m.headers['content-type'] as string, /text\/plain/);
  t.regex(m.body, /^xlb_services 1$/m);
  t.regex(m.body, /^xlb_service_packets_total\{service="web"\} 10$/m);
  t.regex(m.body, /^xlb_endpoint_bytes_total\{service="web",endpoint="198\.18\.2\.2:8080"\} 700$/m);
  t.regex(m.body, /^xlb_drops_total\{reason="drop_no_endpoint"\} 2$/m);
  t.regex(m.body, /^xlb_endpoints\{service="web",state="active"\} 2$/m);
});

test('bearer token: required on every route except /healthz', async (t) => {
  const { app } = await setup('s3cret');
  t.is((await app.inject('/healthz')).statusCode, 200);
  const no = await app.inject('/v1/services');
  t.is(no.statusCode, 401);
  t.regex(no.json().message, /Authorization: Bearer/);
  t.is((await app.inject({ url: '/v1/services', headers: { authorization: 'Bearer wrong!' } })).statusCode, 401);
  t.is((await app.inject({ url: '/v1/services', headers: { authorization: 'Bearer s3cret' } })).statusCode, 200);
  t.is((await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web() })).statusCode, 401);
});

test('openapi.json lists every route with its schemas', async (t) => {
  const { app } = await setup();
  const doc = (await app.inject('/openapi.json')).json();
  t.is(doc.openapi, '3.0.3');
  t.deepEqual(Object.keys(doc.paths).sort(), [
    '/healthz',
    '/metrics',
    '/openapi.json',
    '/v1/conntrack',
    '/v1/services',
    '/v1/services/{name}',
    '/v1/stats',
  ]);
  t.deepEqual(Object.keys(doc.paths['/v1/services/{name}']).sort(), ['delete', 'get', 'put']);
  t.deepEqual(Object.keys(doc.paths['/v1/services']).sort(), ['get', 'put']);
  t.is(
    doc.paths['/v1/services/{name}'].put.requestBody.content['application/json'].schema.properties.algorithm.enum.join(','),
    'rr,wrr,hash,maglev,lc,random',
  );
  t.deepEqual(
    doc.paths['/v1/conntrack'].get.parameters.map((p: { name: string }) => p.name),
    ['service', 'state', 'limit'],
  );
  t.truthy(doc.paths['/v1/stats'].get.responses['200']);
});

test('a datapath refusal is a 409 with the reason, and changes nothing', async (t) => {
  const { app, dp } = await setup();
  dp.refuse = (s) =>
    s.mode === 'fullnat' ? 'mode fullnat needs a source address for IPv4: start the agent with --snat-v4 ADDR' : undefined;
  const r = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: web({ mode: 'fullnat' }) });
  t.is(r.statusCode, 409);
  t.is(r.json().error, 'refused');
  t.regex(r.json().message, /--snat-v4 ADDR; nothing was changed$/);
  t.is(dp.writes, 0);
});

test('PUT /v1/services replaces every service at once, validated whole', async (t) => {
  const { app, dp } = await setup();
  await app.inject({ method: 'PUT', url: '/v1/services/old', payload: web({ vip: '198.18.100.9' }) });
  const all = {
    services: [
      { name: 'a', ...web() },
      { name: 'b', ...web({ vip: '198.18.100.2' }) },
    ],
  };
  const r = await app.inject({ method: 'PUT', url: '/v1/services', payload: all });
  t.is(r.statusCode, 200, r.body);
  t.deepEqual(r.json(), { created: 2, updated: 0, deleted: 1, unchanged: 0 });
  const again = await app.inject({ method: 'PUT', url: '/v1/services', payload: all });
  t.deepEqual(again.json(), { created: 0, updated: 0, deleted: 0, unchanged: 2 });
  const writes = dp.writes;
  const bad = await app.inject({
    method: 'PUT',
    url: '/v1/services',
    payload: {
      services: [
        { name: 'a', ...web() },
        { name: 'c', ...web({ vip: '198.18.100.3', algorithm: 'x' }) },
      ],
    },
  });
  t.is(bad.statusCode, 400);
  t.regex(bad.json().message, /^services\[c\]\.algorithm: 'x' is not one of/);
  t.is(dp.writes, writes);
  t.deepEqual(
    (await app.inject('/v1/services')).json().services.map((s: { name: string }) => s.name),
    ['a', 'b'],
  );
});
