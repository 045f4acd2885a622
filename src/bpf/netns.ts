// Runs synchronous code inside a network namespace by moving only the calling (main) thread
// with setns(2), and always moving it back. Netlink-based calls (XDP/TC attach, ifindex) act
// in the namespace the thread is in; bpffs pins stay visible (unlike `ip netns exec`).
import { BpfError, check } from './errors.ts';
import { native } from './native.ts';

/** ns is a name under /run/netns (as `ip netns add` creates) or a path to a netns file. */
export function inNetns<T>(ns: string, fn: () => T): T {
  const nsPath = ns.includes('/') ? ns : `/run/netns/${ns}`;
  const saved = check(
    native().netnsEnter(nsPath),
    'enter netns',
    nsPath,
    undefined,
    'does the namespace exist (ip netns ls)? entering one needs root',
  );
  let result: T;
  try {
    result = fn();
  } finally {
    const rc = native().netnsRestore(saved);
    if (rc < 0) {
      // The main thread is stuck in the wrong namespace: nothing after this can be trusted.
      process.stderr.write(`xlb: FATAL: cannot return from network namespace ${nsPath} (errno ${-rc})\n`);
      process.abort();
    }
  }
  if (result instanceof Promise) {
    throw new BpfError({
      op: 'enter netns',
      target: nsPath,
      errno: 'EINVAL',
      detail: 'the callback returned a Promise: only its synchronous part ran inside the namespace',
      hint: 'pass a synchronous function',
    });
  }
  return result;
}
