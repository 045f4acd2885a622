// Names of everything a lab creates. Each one carries the lab's run id so that two labs can run
// side by side and `xlb lab down --all` can find what a crashed run left behind.
//
//   run id           5 base36 chars, random ("q3k9z")
//   namespace        xlb-<id>-<node>            e.g. xlb-q3k9z-lb, xlb-q3k9z-c1, xlb-q3k9z-sw-s1
//   node interface   xlb<id>-<node>-<k>         e.g. xlbq3k9z-lb-0   (k = the node's k-th link)
//   switch port      xlb<id>-<switch>p<n>       e.g. xlbq3k9zs1p2
//   switch bridge    xlb<id>-<switch>           e.g. xlbq3k9z-s1
//   pins             /sys/fs/bpf/xlb/<id>…
//   state file       /run/xlb/labs/<name>.json
// Interface names are limited to 15 characters (IFNAMSIZ - 1), hence node names of at most
// 4 characters and a 5-character id.
import { randomBytes } from 'node:crypto';

export const ID_LENGTH = 5;
export const NODE_NAME_RE = /^[a-z][a-z0-9]{0,3}$/;
export const ID_RE = /^[0-9a-z]{5}$/;
export const NETNS_PREFIX = 'xlb-';
export const STATE_DIR = process.env.XLB_LAB_STATE_DIR ?? '/run/xlb/labs';
export const PIN_ROOT = '/sys/fs/bpf/xlb';
export const NETNS_DIR = '/run/netns';
/** Set in the environment of every process a lab starts, so a sweep finds it by /proc/PID/environ. */
export const LAB_ENV = 'XLB_LAB_ID';

export function newRunId(): string {
  const bytes = randomBytes(ID_LENGTH);
  let s = '';
  // The first char is a letter so ids never look like numbers in YAML/CLI output.
  for (let i = 0; i < ID_LENGTH; i++) {
    const b = bytes[i] ?? 0;
    s += i === 0 ? String.fromCharCode(97 + (b % 26)) : (b % 36).toString(36);
  }
  return s;
}

export function netnsName(id: string, node: string): string {
  return `${NETNS_PREFIX}${id}-${node}`;
}

export function switchNetnsName(id: string, sw: string): string {
  return `${NETNS_PREFIX}${id}-sw-${sw}`;
}

export function nodeIfname(id: string, node: string, k: number): string {
  return `xlb${id}-${node}-${k}`;
}

export function switchPortName(id: string, sw: string, n: number): string {
  return `xlb${id}${sw}p${n}`;
}

export function bridgeName(id: string, sw: string): string {
  return `xlb${id}-${sw}`;
}

export function pinPrefix(id: string): string {
  return `${PIN_ROOT}/${id}`;
}

/** The run id a namespace name belongs to, or undefined when it is not a lab namespace. */
export function idOfNetns(name: string): string | undefined {
  const m = /^xlb-([0-9a-z]{5})-/.exec(name);
  return m?.[1];
}

/** The run id an interface name belongs to, or undefined. */
export function idOfIfname(name: string): string | undefined {
  const m = /^xlb([0-9a-z]{5})/.exec(name);
  return m?.[1];
}
