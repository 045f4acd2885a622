import test from 'ava';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { ConfigError, HealthFileWriter, configText, healthFileFor, readConfigFile, readHealthFile } from './config-file.ts';
import type { DownEndpoint } from './config-file.ts';
import { ValidationError, validateDesiredState } from '../controller/validate.ts';
import { Controller } from '../controller/controller.ts';
import { MemoryDatapath } from '../controller/memory-datapath.ts';
import { buildApi } from './api.ts';

test('the config text is YAML that parses back to the same state (IPv6, nested objects, empty lists)', (t) => {
  const r = validateDesiredState({
    services: [
      {
        name: 'web',
        vip: 'fd00:18:100::1',
        port: 80,
        healthCheck: { type: 'http', path: '/h:x#y?a="b"' },
        persistence: { timeoutS: 30 },
        endpoints: [{ ip: 'fd00::a', port: 80, weight: 3 }],
      },
      { name: 'none', vip: '198.18.100.1', port: 53, protocol: 'udp', portEnd: 60, endpoints: [] },
    ],
  });
  if (!r.ok) return t.fail(JSON.stringify(r.errors));
  const text = configText({ hook: 'tc', ifaces: ['eth0'] }, r.value);
  const back = parse(text) as { agent: unknown; services: unknown };
  t.deepEqual(back.agent, { hook: 'tc', ifaces: ['eth0'] });
  t.deepEqual(back.services, r.value.services);
  t.deepEqual(parse(configText({}, { services: [] })), { services: [] });
  const again = validateDesiredState({ services: back.services });
  t.true(again.ok);
});

test('HealthFileWriter: writes one at a time, the last state wins, flush waits for the state at the call', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-config-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = healthFileFor(path.join(dir, 'agent.yaml'));
  t.is(file, path.join(dir, 'agent.health.json'));
  let down: DownEndpoint[] = [];
  let reads = 0;
  const errors: Error[] = [];
  const w = new HealthFileWriter(
    file,
    () => (reads++, down),
    (e) => errors.push(e),
  );
  for (let i = 0; i < 20; i++) {
    down = [{ service: 'web', ip: '198.18.2.1', port: 8000 + i }];
    w.request();
  }
  await w.flush();
  t.deepEqual(readHealthFile(file), [{ service: 'web', ip: '198.18.2.1', port: 8019 }]);
  t.true(reads < 20, `${reads} writes for 20 changes`);
  t.deepEqual(errors, []);
  // A request that finds the state as last written writes nothing (the agent requests one per PUT).
  const writes = w.writes;
  const mtime = statSync(file).mtimeMs;
  for (let i = 0; i < 5; i++) {
    w.request();
    await w.flush();
  }
  t.is(w.writes, writes);
  t.is(statSync(file).mtimeMs, mtime);
  down = [];
  await w.flush();
  t.is(w.writes, writes + 1);
  t.deepEqual(readHealthFile(file), []);
  // A write that fails is reported, and the next request writes again.
  const bad = new HealthFileWriter(
    path.join(file, 'x'),
    () => down,
    (e) => errors.push(e),
  );
  await bad.flush();
  t.is(errors.length, 1);
});

test('one schema: an invalid service is refused with the same field errors by the REST API and by the config-file loader', async (t) => {
  // Schema errors (range, enum, unknown field, format, missing) and semantic ones (family, DSR port) at once.
  const bad = {
    name: 'web',
    vip: '198.18.100.1',
    port: 70000,
    algorithm: 'fastest',
    mode: 'dsr',
    colour: 'blue',
    healthCheck: { type: 'http', rise: 0 },
    endpoints: [{ ip: 'fd00::1', port: 80 }, { ip: '198.18.2.300', port: 80 }, { port: 80 }],
  };
  const app = await buildApi({ controller: new Controller(new MemoryDatapath()), datapathName: 'test double' });
  t.teardown(() => app.close());
  const api = await app.inject({ method: 'PUT', url: '/v1/services', payload: { services: [bad] } });
  t.is(api.statusCode, 400);
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-config-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'agent.yaml');
  writeFileSync(file, stringify({ services: [bad] }));
  const cfg = readConfigFile(file);
  const err = t.throws(() => new Controller(new MemoryDatapath()).load({ services: cfg.services }), { instanceOf: ValidationError });
  t.deepEqual(api.json().errors, err?.errors);
  t.is(api.json().message, err?.message);
  t.deepEqual(
    err?.errors.map((e) => e.path),
    [
      'services[web].colour',
      'services[web].port',
      'services[web].algorithm',
      'services[web].healthCheck.rise',
      'services[web].endpoints[1].ip',
      'services[web].endpoints[2].ip',
    ],
  );
  t.regex(err?.message ?? '', /^services\[web\]\.port: 70000 is not a port number in 1\.\.65535$/m);
  t.regex(err?.message ?? '', /^services\[web\]\.colour: unknown field; allowed fields: name, vip, port, /m);
  t.regex(err?.message ?? '', /^services\[web\]\.endpoints\[2\]\.ip: missing value is not an IPv4 or IPv6 address$/m);
  // The same service through PUT /v1/services/{name}: the same messages, relative to the body.
  const one = await app.inject({ method: 'PUT', url: '/v1/services/web', payload: bad });
  t.deepEqual(
    one.json().errors,
    err?.errors.map((e) => ({ path: e.path.replace(/^services\[web\]\./, ''), message: e.message })),
  );
  // Semantic rules once the schema passes: the same again.
  const semantic = {
    ...bad,
    port: 80,
    algorithm: 'maglev',
    colour: undefined,
    healthCheck: undefined,
    endpoints: [
      { ip: 'fd00::1', port: 80 },
      { ip: '198.18.2.3', port: 81 },
    ],
  };
  delete semantic.colour;
  delete semantic.healthCheck;
  writeFileSync(file, stringify({ services: [semantic] }));
  const err2 = t.throws(() => new Controller(new MemoryDatapath()).load({ services: readConfigFile(file).services }), {
    instanceOf: ValidationError,
  });
  const api2 = await app.inject({ method: 'PUT', url: '/v1/services', payload: { services: [semantic] } });
  t.deepEqual(api2.json().errors, err2?.errors);
  t.deepEqual(
    err2?.errors.map((e) => e.path),
    ['services[web].endpoints[0].ip', 'services[web].endpoints[1].port'],
  );
});

test('config file: agent settings are checked by their schema', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-config-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'agent.yaml');
  writeFileSync(file, 'agent:\n  hook: tcx\n  ifaces: [eth0, ""]\n  colour: 1\nextra: 2\n');
  t.throws(() => readConfigFile(file), {
    instanceOf: ConfigError,
    message: `${file}:\nextra: unknown field; allowed fields: agent, services\nagent.colour: unknown field; allowed fields: instance, ifaces, hook, api, pinDir, tokenFile\nagent.ifaces[1]: '' is not a non-empty string\nagent.hook: 'tcx' is not one of tc, xdp`,
  });
  writeFileSync(file, 'agent:\nservices: []\n');
  t.deepEqual(readConfigFile(file), { agent: {}, services: [] });
});
