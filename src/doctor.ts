// `xlb doctor`: what this machine can do for xlb. Reads kernel facts from /proc and /sys,
// looks for every tool on PATH, and says which backends (sim, prog, lab) can run here.
// Exits 1 when the lab backend cannot run, so scripts can gate on it.
import { accessSync, constants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import path from 'node:path';
import { act, command, jsonOption, printJson, runCommand } from './cli-kit.ts';
import { ROOT } from './root.ts';
import { DATAPATH_REQUIRES, FEATURE_NAMES, KERNEL_FEATURES, probeKernelFeatures } from './datapath/kernel-features.ts';
import type { FeatureProbe } from './datapath/kernel-features.ts';

export type CheckStatus = 'ok' | 'missing' | 'warn';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do when the status is not ok. */
  fix?: string;
}

export interface BackendVerdict {
  backend: 'sim' | 'prog' | 'lab';
  usable: boolean;
  /** Names of the failed checks that stop this backend. */
  blockers: string[];
}

export interface DoctorReport {
  checks: Check[];
  backends: BackendVerdict[];
  /** The kernel features scenarios and the datapath may require (src/datapath/kernel-features.ts). */
  features: FeatureProbe;
}

/** Tools the project uses, and what each is for. */
const TOOLS: { bin: string[]; purpose: string; pkg: string }[] = [
  { bin: ['clang-16', 'clang'], purpose: 'compile bpf/', pkg: 'clang-16' },
  { bin: ['bpftool'], purpose: 'inspect pinned maps, cross-checks in tests', pkg: 'bpftool' },
  { bin: ['ip'], purpose: 'namespaces, veth, routes', pkg: 'iproute2' },
  { bin: ['tc'], purpose: 'clsact qdisc inspection', pkg: 'iproute2' },
  { bin: ['tcpdump'], purpose: 'per-link capture in the lab', pkg: 'tcpdump' },
  { bin: ['nft'], purpose: 'lab firewall rules', pkg: 'nftables' },
  { bin: ['tshark'], purpose: 'independent checksum verdicts in tests', pkg: 'tshark' },
  { bin: ['ethtool'], purpose: 'checksum offload on/off per link', pkg: 'ethtool' },
  { bin: ['nsenter'], purpose: 'enter a lab network namespace', pkg: 'util-linux' },
];

function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

function mountType(mountpoint: string): string | undefined {
  const mounts = readText('/proc/self/mounts') ?? '';
  let found: string | undefined;
  for (const line of mounts.split('\n')) {
    const [, mp, type] = line.split(' ');
    if (mp === mountpoint) found = type; // the last mount on a point is the visible one
  }
  return found;
}

/** Effective capabilities of this process (CapEff from /proc/self/status). */
function effectiveCaps(): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readText('/proc/self/status') ?? '');
  return m?.[1] !== undefined ? BigInt(`0x${m[1]}`) : 0n;
}

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;
const CAP_BPF = 39n;

function hasCap(caps: bigint, cap: bigint): boolean {
  return (caps & (1n << cap)) !== 0n;
}

export function runChecks(): DoctorReport {
  const checks: Check[] = [];
  const add = (c: Check): Check => {
    checks.push(c);
    return c;
  };

  const [major = 0, minor = 0] = release()
    .split('.')
    .map((s) => Number.parseInt(s, 10));
  add({
    name: 'kernel',
    status: major > 5 || (major === 5 && minor >= 15) ? 'ok' : 'warn',
    detail: release(),
    fix: 'xlb targets Linux >= 5.15 (bpf_loop-free datapath, BTF, tc bpf_link-less attach)',
  });
  add({
    name: 'btf',
    status: existsSync('/sys/kernel/btf/vmlinux') ? 'ok' : 'missing',
    detail: existsSync('/sys/kernel/btf/vmlinux') ? '/sys/kernel/btf/vmlinux' : 'no kernel BTF',
    fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y',
  });
  const bpffs = mountType('/sys/fs/bpf');
  add({
    name: 'bpffs',
    status: bpffs === 'bpf' ? 'ok' : 'missing',
    detail: bpffs === 'bpf' ? 'mounted on /sys/fs/bpf' : 'not mounted on /sys/fs/bpf',
    fix: 'run ./xlb setup (or: mount -t bpf bpf /sys/fs/bpf)',
  });
  const tracefs = mountType('/sys/kernel/tracing');
  add({
    name: 'tracefs',
    status: tracefs === 'tracefs' ? 'ok' : 'warn',
    detail: tracefs === 'tracefs' ? 'mounted on /sys/kernel/tracing' : 'not mounted',
    fix: 'run ./xlb setup (or: mount -t tracefs tracefs /sys/kernel/tracing)',
  });
  const jit = readText('/proc/sys/net/core/bpf_jit_enable')?.trim();
  add({
    name: 'bpf-jit',
    status: jit === '1' || jit === '2' ? 'ok' : 'warn',
    detail: jit === undefined ? 'unknown' : `bpf_jit_enable=${jit}`,
    fix: 'sysctl -w net.core.bpf_jit_enable=1',
  });
  const caps = effectiveCaps();
  const root = process.getuid?.() === 0;
  const privileged = hasCap(caps, CAP_SYS_ADMIN) || (hasCap(caps, CAP_BPF) && hasCap(caps, CAP_NET_ADMIN));
  add({
    name: 'privileges',
    status: privileged ? 'ok' : 'missing',
    detail: `${root ? 'root' : `uid ${process.getuid?.() ?? '?'}`}, CAP_BPF=${hasCap(caps, CAP_BPF)}, CAP_NET_ADMIN=${hasCap(caps, CAP_NET_ADMIN)}, CAP_SYS_ADMIN=${hasCap(caps, CAP_SYS_ADMIN)}`,
    fix: 'run as root: loading BPF, attaching to links and creating namespaces need CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN',
  });
  add({
    name: 'netns',
    status: existsSync('/proc/self/ns/net') ? 'ok' : 'missing',
    detail: existsSync('/proc/self/ns/net') ? 'network namespaces supported' : 'no /proc/self/ns/net',
    fix: 'use a kernel with CONFIG_NET_NS=y',
  });
  add({
    name: 'node',
    status: Number.parseInt(process.versions.node, 10) >= 20 ? 'ok' : 'missing',
    detail: `v${process.versions.node}`,
    fix: 'install Node.js 20 or newer',
  });
  for (const tool of TOOLS) {
    const found = tool.bin.map(which).find((p) => p !== undefined);
    add({
      name: `tool:${tool.bin[0]}`,
      status: found !== undefined ? 'ok' : 'missing',
      detail: found ?? `not found (${tool.purpose})`,
      fix: `run ./xlb setup (Debian package ${tool.pkg})`,
    });
  }
  const objDir = path.join(ROOT, 'build', 'bpf');
  const objs = existsSync(objDir) ? readdirSync(objDir).filter((f) => f.endsWith('.o')) : [];
  add({
    name: 'bpf-objects',
    status: objs.length > 0 ? 'ok' : 'missing',
    detail: objs.length > 0 ? objs.join(', ') : 'build/bpf/*.o not built',
    fix: 'run ./xlb setup (builds bpf/ with clang)',
  });
  const addon = path.join(ROOT, 'src', 'bpf', 'native', 'build', 'Release', 'xlb_bpf.node');
  add({
    name: 'native-addon',
    status: existsSync(addon) ? 'ok' : 'missing',
    detail: existsSync(addon) ? path.relative(ROOT, addon) : 'libbpf addon not built',
    fix: 'run ./xlb setup (builds src/bpf/native with node-gyp)',
  });

  // The datapath's own needs are checks (a missing one stops prog and lab); the rest is listed
  // under "kernel features" and only skips the scenarios that require it.
  const features = probeKernelFeatures();
  for (const f of DATAPATH_REQUIRES) {
    if (f === 'btf') continue;
    const def = KERNEL_FEATURES[f];
    add({
      name: `kernel:${f}`,
      status: features.have[f] ? 'ok' : 'missing',
      detail: `${def.btfName} (Linux ${def.since}): ${def.why}`,
      fix: 'use a newer kernel: the datapath cannot run without it',
    });
  }

  const failed = (names: string[]): string[] =>
    checks.filter((c) => c.status === 'missing' && names.some((n) => c.name === n)).map((c) => c.name);
  const progNeeds = [
    'btf',
    'bpffs',
    'privileges',
    'bpf-objects',
    'native-addon',
    ...DATAPATH_REQUIRES.filter((f) => f !== 'btf').map((f) => `kernel:${f}`),
  ];
  const labNeeds = [...progNeeds, 'netns', 'tool:ip', 'tool:tc', 'tool:tcpdump', 'tool:nsenter'];
  const backends: BackendVerdict[] = [
    { backend: 'sim', usable: failed(['node']).length === 0, blockers: failed(['node']) },
    { backend: 'prog', usable: failed(progNeeds).length === 0, blockers: failed(progNeeds) },
    { backend: 'lab', usable: failed(labNeeds).length === 0, blockers: failed(labNeeds) },
  ];
  return { checks, backends, features };
}

export function formatReport(r: DoctorReport): string {
  const mark: Record<CheckStatus, string> = { ok: 'ok  ', missing: 'FAIL', warn: 'warn' };
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const lines = r.checks.map((c) => {
    const line = `${mark[c.status]}  ${c.name.padEnd(width)}  ${c.detail}`;
    return c.status === 'ok' || c.fix === undefined ? line : `${line}\n      ${' '.repeat(width)}  → ${c.fix}`;
  });
  const w = Math.max(...FEATURE_NAMES.map((f) => f.length));
  lines.push('', `kernel features (${r.features.kernel}, from ${r.features.source}; a scenario's \`requires\` names them):`);
  for (const f of FEATURE_NAMES) {
    const def = KERNEL_FEATURES[f];
    lines.push(
      `  ${r.features.have[f] ? 'yes' : 'no '}  ${f.padEnd(w)}  ${(def.btfName || 'vmlinux BTF').padEnd(29)} ${`${def.since}`.padEnd(5)} ${def.why}`,
    );
  }
  lines.push('', 'backends:');
  for (const b of r.backends) {
    lines.push(`  ${b.backend.padEnd(5)} ${b.usable ? 'can run here' : `cannot run: ${b.blockers.join(', ')}`}`);
  }
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const cmd = command(
    'doctor',
    'Checks kernel features, tools, bpffs and privileges, and says which backends can run here. Exit 1 when the lab backend cannot run.',
  ).addOption(jsonOption());
  act(cmd, () => {
    const report = runChecks();
    if (cmd.opts<{ json?: boolean }>().json === true) printJson(report);
    else console.log(formatReport(report));
    return report.backends.find((b) => b.backend === 'lab')?.usable === true ? 0 : 1;
  });
  return runCommand(cmd, argv);
}
