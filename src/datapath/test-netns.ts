// A throwaway network namespace for datapath tests and benchmarks: xlb-<prefix>-<id> holding one veth pair,
// xlb0 (the LB side, with the given MAC) and xlb1, both up; deleted afterwards whatever happens
// (deleting the namespace removes the links and every program attached to them).
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';

/** `ip -n <ns> …` in the test's namespace. */
export type NsIp = (...args: string[]) => Promise<unknown>;

export async function withVethNamespace<T>(prefix: string, lbMac: string, fn: (ns: string, ip: NsIp) => Promise<T> | T): Promise<T> {
  const ns = `xlb-${prefix}-${randomBytes(3).toString('hex')}`;
  const ip: NsIp = (...args) => execa('ip', ['-n', ns, ...args]);
  await execa('ip', ['netns', 'add', ns]);
  try {
    await ip('link', 'add', 'xlb0', 'address', lbMac, 'type', 'veth', 'peer', 'name', 'xlb1');
    await ip('link', 'set', 'xlb0', 'up');
    await ip('link', 'set', 'xlb1', 'up');
    return await fn(ns, ip);
  } finally {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  }
}
