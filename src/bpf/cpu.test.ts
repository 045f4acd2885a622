// CPU affinity of the calling thread and the coarse clock (what BPF_PROG_TEST_RUN programs see).
import test from 'ava';
import { currentCpu, getCpuAffinity, monotonicCoarseNs, setCpuAffinity } from './index.ts';

test('setCpuAffinity pins the calling thread, getCpuAffinity reads it back, restore works', (t) => {
  const saved = getCpuAffinity();
  t.true(saved.length >= 1);
  const cpu = saved[saved.length - 1]!;
  try {
    setCpuAffinity(cpu);
    t.deepEqual(getCpuAffinity(), [cpu]);
    t.is(currentCpu(), cpu);
  } finally {
    setCpuAffinity(saved);
  }
  t.deepEqual(getCpuAffinity(), saved);
});

test('setCpuAffinity refuses bad CPU lists with the reason', (t) => {
  t.throws(() => setCpuAffinity([]), { message: /non-empty list/ });
  t.throws(() => setCpuAffinity(-1), { message: /CPU ids/ });
  // A CPU id this machine does not have: the kernel says EINVAL.
  const err = t.throws(() => setCpuAffinity(4000));
  t.regex(err.message, /EINVAL/);
});

test('monotonicCoarseNs is CLOCK_MONOTONIC_COARSE: at most a tick behind hrtime, never ahead', (t) => {
  const coarse = monotonicCoarseNs();
  const fine = process.hrtime.bigint();
  t.true(coarse <= fine);
  t.true(fine - coarse < 50_000_000n, `${fine - coarse} ns apart`);
});
