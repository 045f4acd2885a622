// CPU affinity of the calling (main) thread, and the kernel's coarse monotonic clock. BPF_PROG_TEST_RUN executes the program on the CPU
// of the thread that asked, so a caller that needs per-CPU maps (round-robin cursors, counters)
// to behave deterministically pins its thread to one CPU first. Only the calling thread moves:
// libuv's worker threads keep their affinity.
import { check } from './errors.ts';
import { native } from './native.ts';

/** The CPU ids the calling thread may run on (sched_getaffinity), ascending. */
export function getCpuAffinity(): number[] {
  const r = native().getCpuAffinity();
  if (typeof r === 'number') check(r, 'get cpu affinity', 'calling thread');
  return r as number[];
}

/** Restricts the calling thread to `cpus` (sched_setaffinity); one id pins it. */
export function setCpuAffinity(cpus: number | readonly number[]): void {
  const list = typeof cpus === 'number' ? [cpus] : [...cpus];
  if (list.length === 0 || list.some((c) => !Number.isInteger(c) || c < 0 || c >= 4096)) {
    throw new RangeError(`setCpuAffinity: ${JSON.stringify(list)} must be a non-empty list of CPU ids in 0..4095`);
  }
  check(
    native().setCpuAffinity(list),
    'set cpu affinity',
    `cpus ${list.join(',')}`,
    undefined,
    `is every CPU online and allowed to this process (see getCpuAffinity(), taskset -p ${process.pid})?`,
  );
}

/** The CPU the calling thread runs on right now (sched_getcpu). */
export function currentCpu(): number {
  return check(native().currentCpu(), 'get current cpu', 'calling thread');
}

/**
 * CLOCK_MONOTONIC_COARSE in ns: the clock bpf_ktime_get_coarse_ns() reads (tick resolution),
 * for placing a program's timestamps exactly.
 */
export function monotonicCoarseNs(): bigint {
  const r = native().monotonicCoarseNs();
  if (typeof r === 'number') check(r, 'clock_gettime', 'CLOCK_MONOTONIC_COARSE');
  return r as bigint;
}
