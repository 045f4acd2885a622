import test from 'ava';
import { vmSmokeVerdict } from './test-command.ts';

const load = (hook: string, error: string): string => JSON.stringify({ kernel: '6.1.0-57-amd64', hook, ok: false, error });
const eacces = (hook: string): string =>
  load(hook, `load /x/build/bpf/xlb_${hook}.bpf.o (program xlb_${hook}_slow): EACCES (permission denied): 350: …`);

test('vm smoke verdict: only both hooks failing their slow-path load with EACCES is the known 6.1 regression', (t) => {
  t.is(vmSmokeVerdict(true, ''), 'passed');
  t.is(vmSmokeVerdict(false, [eacces('tc'), eacces('xdp'), 'not ok 1 - lb/rr-tcp-dnat [prog tc]'].join('\n')), 'known');
  t.is(vmSmokeVerdict(false, 'xlb vm: the guest did not boot'), 'failed');
  t.is(vmSmokeVerdict(false, [eacces('tc')].join('\n')), 'failed');
  t.is(vmSmokeVerdict(false, [eacces('tc'), JSON.stringify({ hook: 'xdp', ok: true })].join('\n')), 'failed');
  t.is(vmSmokeVerdict(false, [eacces('tc'), load('xdp', 'load …: E2BIG')].join('\n')), 'failed');
});
