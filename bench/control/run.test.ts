import test from 'ava';
import { DatapathTestDouble } from '../../src/controller/datapath-test-double.ts';
import { benchSize, services } from './run.ts';

test('control bench runs end to end on the test double (controller + REST) and checks idempotence', async (t) => {
  const open = (maxServices: number) => {
    const dp = new DatapathTestDouble({ maxServices });
    return { datapath: dp, describe: 'test double', attach: () => {}, detach: () => {}, close: () => {} };
  };
  const r = await benchSize(open, 50, { backend: 'double', sizes: [50], endpoints: 8, algorithm: 'maglev', concurrency: 4 });
  t.is(r.services, 50);
  t.is(r.controllerWrites, 100); // one generation + one entry per service, nothing else
  for (const k of ['controllerLoadMs', 'reconcileNoopMs', 'updateEachMs', 'restPutMs', 'restListMs', 'bulkPutMs'] as const) t.true(r[k] > 0, k);
  const list = services(300, 8, 'rr');
  t.is(new Set(list.map((s) => s.vip)).size, 300, 'every service has its own VIP');
});
