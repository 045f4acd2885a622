// Scratch (throwaway) kernel resources for datapath tests and benchmarks: a network namespace
// xlb-<prefix>-<id> holding one veth pair, xlb0 (the LB side, with the given MAC) and xlb1, both
// up; deleted afterwards whatever happens (deleting the namespace removes the links and every
// program attached to them).
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { execa } from 'execa';
import type { ResultPromise } from 'execa';

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

/**
 * Three namespaces in a row for end-to-end datapath tests: client (c0 198.18.0.10/24) ↔ LB (l0
 * 198.18.0.1/24, l1 198.18.1.1/24, forwarding on) ↔ backend (b0 198.18.1.11/24), default routes
 * via the LB. Named xlb-<prefix>-<id>-c|l|b at once (so a finally block can remove them whatever
 * happened); created by create(), removed by remove().
 */
export interface RoutedTrio {
  ns: { c: string; l: string; b: string };
  /** `ip -n <ns> …` */
  ip(n: string, ...args: string[]): Promise<unknown>;
  /** A command inside a namespace (ip netns exec: fine when no bpffs pin must be seen). */
  inside(n: string, ...cmd: string[]): ResultPromise;
  create(): Promise<void>;
  remove(): Promise<void>;
}

export function routedTrio(prefix: string): RoutedTrio {
  const id = randomBytes(3).toString('hex');
  const ns = { c: `xlb-${prefix}-${id}-c`, l: `xlb-${prefix}-${id}-l`, b: `xlb-${prefix}-${id}-b` };
  const ip = (n: string, ...args: string[]): Promise<unknown> => execa('ip', ['-n', n, ...args]);
  const inside = (n: string, ...cmd: string[]): ResultPromise => execa('ip', ['netns', 'exec', n, ...cmd], { reject: true });
  return {
    ns,
    ip,
    inside,
    async create() {
      for (const n of Object.values(ns)) await execa('ip', ['netns', 'add', n]);
      await ip(ns.c, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'l0', 'netns', ns.l);
      await ip(ns.l, 'link', 'add', 'l1', 'type', 'veth', 'peer', 'name', 'b0', 'netns', ns.b);
      for (const [n, dev, addr] of [
        [ns.c, 'c0', '198.18.0.10/24'],
        [ns.l, 'l0', '198.18.0.1/24'],
        [ns.l, 'l1', '198.18.1.1/24'],
        [ns.b, 'b0', '198.18.1.11/24'],
      ] as const) {
        await ip(n, 'addr', 'add', addr, 'dev', dev);
        await ip(n, 'link', 'set', dev, 'up');
        await ip(n, 'link', 'set', 'lo', 'up');
      }
      await ip(ns.c, 'route', 'add', 'default', 'via', '198.18.0.1');
      await ip(ns.b, 'route', 'add', 'default', 'via', '198.18.1.1');
      await inside(ns.l, 'sysctl', '-qw', 'net.ipv4.conf.all.forwarding=1');
    },
    async remove() {
      for (const n of Object.values(ns)) await execa('ip', ['netns', 'del', n], { reject: false });
    },
  };
}

/**
 * A throwaway bpffs pin directory, /sys/fs/bpf/xlb/<prefix>-<id>, for tests that pin maps
 * (no lab, no namespace needed); removed afterwards whatever happens, with every pin in it.
 */
export async function withPinDir<T>(prefix: string, fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = `/sys/fs/bpf/xlb/${prefix}-${randomBytes(3).toString('hex')}`;
  mkdirSync(dir, { recursive: true });
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
