import test from 'ava';
import { formatErrors, validateDesiredState, validateService } from './validate.ts';
import { canonicalIp } from './ip.ts';

const web = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'web',
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

function errorsOf(input: unknown): string {
  const r = validateDesiredState({ services: [input] });
  if (r.ok) throw new Error('expected errors');
  return formatErrors(r.errors);
}

test('a valid service gets defaults filled and canonical addresses', (t) => {
  const r = validateService({ name: 'v6', vip: 'FD00:0:0::0:1', port: 53, protocol: 'udp', endpoints: [{ ip: 'fd00::a:0:1', port: 53 }] });
  if (!r.ok) return t.fail(formatErrors(r.errors));
  t.is(r.value.vip, 'fd00::1');
  t.is(r.value.algorithm, 'maglev');
  t.is(r.value.mode, 'dnat');
  t.is(r.value.deadFlowPolicy, 'keep');
  t.deepEqual(r.value.endpoints, [{ ip: 'fd00::a:0:1', port: 53, weight: 1, active: true }]);
});

test('bad endpoint IP names the service and the endpoint index', (t) => {
  const eps = [
    { ip: '198.18.2.1', port: 1 },
    { ip: '198.18.2.2', port: 1 },
    { ip: '10.0.0.1x', port: 1 },
  ];
  t.is(errorsOf(web({ endpoints: eps })), "services[web].endpoints[2].ip: '10.0.0.1x' is not an IPv4 or IPv6 address");
});

test('each kind of mistake is reported with field, problem and what is allowed', (t) => {
  t.regex(errorsOf(web({ port: 70000 })), /^services\[web\]\.port: 70000 is not a port number in 1\.\.65535$/);
  t.regex(errorsOf(web({ algorithm: 'fastest' })), /services\[web\]\.algorithm: 'fastest' is not one of rr, wrr, hash, maglev, lc, random/);
  t.regex(errorsOf(web({ mode: 'nat' })), /services\[web\]\.mode: 'nat' is not one of dnat, fullnat, dsr/);
  t.regex(errorsOf(web({ algorithim: 'rr' })), /services\[web\]\.algorithim: unknown field; allowed fields: name, vip/);
  t.regex(errorsOf(web({ vip: 'fd00::1' })), /services\[web\]\.endpoints\[0\]\.ip: '198\.18\.2\.1' is IPv4 but the VIP is IPv6/);
  t.regex(
    errorsOf(web({ endpoints: [{ ip: '198.18.2.1', port: 80, weight: 0 }] })),
    /endpoints\[0\]\.weight: 0 is not a weight in 1\.\.65535/,
  );
  t.regex(
    errorsOf(
      web({
        endpoints: [
          { ip: '198.18.2.1', port: 80 },
          { ip: '198.18.2.1', port: 80 },
        ],
      }),
    ),
    /services\[web\]\.endpoints\[1\]: duplicate endpoint 198\.18\.2\.1 port 80 \(same as endpoints\[0\]\)/,
  );
  const many = Array.from({ length: 65 }, (_, i) => ({ ip: `198.18.3.${i + 1}`, port: 80 }));
  t.regex(errorsOf(web({ endpoints: many })), /services\[web\]\.endpoints: 65 endpoints is more than the datapath maximum of 64/);
  t.regex(errorsOf(web({ mode: 'dsr' })), /endpoints\[0\]\.port: 8080: DSR does not rewrite ports/);
  t.regex(errorsOf(web({ portEnd: 79 })), /portEnd: 79 is not above port 80/);
  t.regex(errorsOf(web({ healthCheck: { type: 'tcp', path: '/x' } })), /healthCheck\.path: only applies to type 'http' checks/);
  t.regex(
    errorsOf(web({ healthCheck: { type: 'http', intervalMs: 500, timeoutMs: 900 } })),
    /healthCheck\.timeoutMs: 900 is longer than intervalMs 500/,
  );
  t.regex(errorsOf(web({ name: 'bad name' })), /services\[0\]\.name: 'bad name' is not a service name/);
});

test('all errors are collected, not only the first', (t) => {
  const r = validateService({ name: 'x', vip: 'nope', port: 0, endpoints: 'none' });
  t.false(r.ok);
  if (!r.ok)
    t.deepEqual(
      r.errors.map((e) => e.path),
      ['vip', 'port', 'endpoints'],
    );
});

test('the URL name must agree with the body name', (t) => {
  const r = validateService(web(), { nameFromUrl: 'api' });
  t.false(r.ok);
  if (!r.ok) t.regex(formatErrors(r.errors), /^name: 'web' differs from the name in the URL 'api'/);
  const filled = validateService({ ...web(), name: undefined }, { nameFromUrl: 'api' });
  t.true(filled.ok && filled.value.name === 'api');
});

test('duplicate names and overlapping VIP/port ranges are rejected across services', (t) => {
  const r = validateDesiredState({
    services: [
      web(),
      web({ vip: '198.18.100.2' }),
      web({ name: 'range', port: 70, portEnd: 90, endpoints: [] }),
      web({ name: 'udp', protocol: 'udp' }),
    ],
  });
  t.false(r.ok);
  if (r.ok) return;
  const text = formatErrors(r.errors);
  t.regex(text, /services\[web\]\.name: duplicate service name 'web'/);
  t.regex(text, /services\[(web|range)\]\.port: tcp:198\.18\.100\.1:(80|70) overlaps service/);
  t.notRegex(text, /udp/);
  const ranges = validateDesiredState({
    services: [
      web({ name: 'r1', port: 1000, portEnd: 1010, endpoints: [] }),
      web({ name: 'r2', port: 2000, portEnd: 2010, endpoints: [] }),
    ],
  });
  t.false(ranges.ok);
  if (!ranges.ok)
    t.regex(formatErrors(ranges.errors), /services\[r2\]\.portEnd: 198\.18\.100\.1 tcp already has the port range of services\[r1\]/);
});

test('canonicalIp canonicalises and rejects', (t) => {
  t.is(canonicalIp('::ffff:1.2.3.4')?.text, '::ffff:102:304');
  t.is(canonicalIp('fd00:0:0:1:0:0:0:1')?.text, 'fd00:0:0:1::1');
  t.is(canonicalIp('1:0:0:2:0:0:0:3')?.text, '1:0:0:2::3');
  t.is(canonicalIp('010.1.1.1'), undefined);
  t.is(canonicalIp('fe80::1%eth0'), undefined);
  t.deepEqual([...(canonicalIp('fd00::2')?.bytes ?? [])], [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
});

test('an unknown field alone makes a service invalid, at every level', (t) => {
  for (const body of [
    { vip: '198.18.100.1', port: 80, weigth: 3, endpoints: [] },
    { vip: '198.18.100.1', port: 80, endpoints: [{ ip: '198.18.2.1', port: 80, wieght: 1 }] },
    { vip: '198.18.100.1', port: 80, endpoints: [], healthCheck: { type: 'tcp', intervall: 5 } },
    { vip: '198.18.100.1', port: 80, endpoints: [], policer: { ratePps: 5, burst: 5, x: 1 } },
    { vip: '198.18.100.1', port: 80, endpoints: [], persistence: { timeoutS: 5, x: 1 } },
  ]) {
    const r = validateService(body, { nameFromUrl: 'web' });
    t.false(r.ok, JSON.stringify(body));
    if (!r.ok) t.regex(formatErrors(r.errors), /unknown field/);
  }
});

test("the caller's input is never modified (defaults go into a copy), also with a __proto__ key", (t) => {
  const input = { services: [{ name: 'web', vip: '198.18.100.1', port: 80, endpoints: [{ ip: '198.18.2.1', port: 8080 }] }] };
  const text = JSON.stringify(input);
  const r = validateDesiredState(input);
  t.true(r.ok);
  t.is(JSON.stringify(input), text, 'no default filled into the caller object');
  if (r.ok) t.is(r.value.services[0]?.endpoints[0]?.weight, 1);
  // A JSON body with a "__proto__" key: refused as an unknown field, and no prototype changed.
  const evil = JSON.parse(
    '{"services":[{"name":"x","vip":"198.18.100.1","port":80,"endpoints":[],"__proto__":{"polluted":1}}]}',
  ) as unknown;
  const e = validateDesiredState(evil);
  t.false(e.ok);
  t.is(({} as Record<string, unknown>).polluted, undefined);
});

test('canonical addresses: IPv4 texts node:net accepts are kept as they are, others refused or canonicalised', (t) => {
  for (const [ip, ok] of [
    ['198.18.2.1', true],
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['01.2.3.4', false],
    ['256.1.1.1', false],
    ['1.2.3', false],
    ['1.2.3.4.5', false],
    ['1.2.3.4 ', false],
  ] as const) {
    const r = validateService(web({ endpoints: [{ ip, port: 8080 }] }));
    t.is(r.ok, ok, ip);
    if (r.ok) t.is(r.value.endpoints[0]?.ip, ip);
  }
  const r = validateService(web({ vip: 'FD00::0001', endpoints: [{ ip: 'fd00:0::2', port: 8080 }] }));
  t.true(r.ok);
  if (r.ok) t.deepEqual([r.value.vip, r.value.endpoints[0]?.ip], ['fd00::1', 'fd00::2']);
});
