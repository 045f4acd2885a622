import test from 'ava';
import { parse } from 'yaml';
import { configText } from './config-file.ts';
import { validateDesiredState } from '../controller/validate.ts';

test('the config text is YAML that parses back to the same state (IPv6, nested objects, empty lists)', (t) => {
  const r = validateDesiredState({
    services: [
      { name: 'web', vip: 'fd00:18:100::1', port: 80, healthCheck: { type: 'http', path: '/h:x#y?a="b"' }, persistence: { timeoutS: 30 }, endpoints: [{ ip: 'fd00::a', port: 80, weight: 3 }] },
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
