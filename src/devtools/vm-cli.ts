// `xlb vm`: run a command under another Linux kernel in qemu (src/devtools/vm.ts), and manage
// the kernel cache (src/devtools/vm-kernel.ts).
//   xlb vm run --kernel SPEC [--cpus N] [--mem M] [--timeout S] [--accel auto|kvm|tcg] [--log FILE] [--quiet] -- CMD…
//   xlb vm smoke [--kernel SPEC] the short smoke: boot, load the datapath, one scenario on prog
//   xlb vm fetch SPEC…       fetch and build kernels into the cache without booting them
//   xlb vm ls | --list       what the cache holds, and how big it is
//   xlb vm rm RELEASE…       remove kernels from the cache
import { rmSync } from 'node:fs';
import {
  act,
  CliError,
  command,
  InvalidArgumentError,
  integer,
  jsonOption,
  Option,
  printJson,
  reportError,
  runCommand,
  sub,
} from '../cli-kit.ts';
import { cacheDir, formatBytes, listCached, resolveKernel } from './vm-kernel.ts';
import { SMOKE_SCENARIO, VM_EXIT, smokeCommand, vmRun, withVmLock } from './vm.ts';

const SPEC_HELP = `SPEC: a version (6.1, 6.12: the newest Debian linux-image-<v>*-amd64-unsigned), a full release (6.1.0-57-amd64), a .deb, or a vmlinuz/bzImage file.`;

function memMiB(v: string): number {
  const m = /^(\d+)([MG]i?B?)?$/i.exec(v.trim());
  if (m?.[1] === undefined) throw new InvalidArgumentError(`'${v}': give MiB (1024) or a size with M or G (2G).`);
  const n = Number(m[1]) * (m[2]?.toUpperCase().startsWith('G') === true ? 1024 : 1);
  if (n < 256) throw new InvalidArgumentError(`'${v}': at least 256 MiB (node and the datapath's maps need it).`);
  return n;
}

interface RunOpts {
  kernel: string;
  cpus: number;
  mem: number;
  timeout: number;
  accel: 'auto' | 'kvm' | 'tcg';
  log?: string;
  quiet?: boolean;
}

function ls(json: boolean): number {
  const ks = listCached();
  if (json) {
    printJson({ cache: cacheDir(), kernels: ks });
    return 0;
  }
  if (ks.length === 0) {
    console.log(`no kernels cached in ${cacheDir()} (xlb vm fetch 6.1 6.12)`);
    return 0;
  }
  const w = Math.max(...ks.map((k) => k.release.length));
  for (const k of ks) {
    console.log(
      `${k.release.padEnd(w)}  ${formatBytes(k.bytes).padStart(9)}  ${k.boots.padEnd(7)}  ${String(k.modules.length).padStart(2)} modules  ${k.source}`,
    );
  }
  console.log(`total ${formatBytes(ks.reduce((a, k) => a + k.bytes, 0))} in ${cacheDir()}`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  // `xlb vm --list` is `xlb vm ls` (an older spelling).
  const args = argv[0] === '--list' ? ['ls', ...argv.slice(1)] : argv;
  const vm = command(
    'vm',
    `Runs commands under another Linux kernel in qemu, and manages the kernel cache (${cacheDir()}, XLB_VM_CACHE). One VM at a time on this machine (a lock in the cache).`,
  ).enablePositionalOptions();
  const run = sub(
    vm,
    'run',
    `Boots SPEC under qemu (KVM when the CPU supports it, else TCG; it says which) with the host's root filesystem shared read-only (9p) under a tmpfs overlay and the project folder shared read-write at its own path, and runs CMD there as root with the host's PATH. Exit code: CMD's; ${VM_EXIT.timeout} when --timeout passed (boot included); ${VM_EXIT.failure} when the guest died, panicked or never ran CMD (the console log's tail is printed); 2 for a usage error. ${SPEC_HELP}`,
  )
    .argument('<cmd...>', 'the command to run in the guest (after --)')
    .requiredOption('-k, --kernel <spec>', 'the kernel (e.g. 6.1)')
    .addOption(new Option('--cpus <n>', 'guest CPUs').argParser(integer(1, 64)).default(1))
    .addOption(new Option('--mem <size>', 'guest memory: MiB, or with M or G (2G)').argParser(memMiB).default(1024))
    .addOption(new Option('--timeout <s>', 'seconds, boot included').argParser(integer(1)).default(600))
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--log <file>', 'write the console log here')
    .option('-q, --quiet', 'no progress lines')
    .passThroughOptions();
  act(run, async () => {
    const o = run.opts<RunOpts>();
    try {
      const words = run.processedArgs[0] as string[];
      const r = await vmRun({
        kernel: o.kernel,
        command: words[0] === '--' ? words.slice(1) : words,
        cpus: o.cpus,
        memMiB: o.mem,
        timeoutS: o.timeout,
        accel: o.accel,
        log: o.log,
        verbose: o.quiet !== true,
      });
      return r.exitCode;
    } catch (e) {
      // Not CMD's exit code: the run could not start (a kernel fetch failed, no qemu).
      reportError('xlb vm run', e);
      return VM_EXIT.failure;
    }
  });
  const smoke = sub(
    vm,
    'smoke',
    `The short smoke: boots SPEC (default 6.12), loads the datapath (src/devtools/vm-smoke.ts) and runs ${SMOKE_SCENARIO} on prog (tc).`,
  )
    .option('-k, --kernel <spec>', 'the kernel', '6.12')
    .addOption(new Option('--timeout <s>', 'seconds, boot included').argParser(integer(1)).default(900))
    .option('-q, --quiet', 'no progress lines');
  act(smoke, async () => {
    const o = smoke.opts<{ kernel: string; timeout: number; quiet?: boolean }>();
    const r = await vmRun({ kernel: o.kernel, command: smokeCommand(), timeoutS: o.timeout, verbose: o.quiet !== true });
    return r.exitCode;
  });
  const fetch = sub(vm, 'fetch', `Fetches and builds kernels into the cache without booting them. ${SPEC_HELP}`).argument(
    '<spec...>',
    'the kernels (e.g. 6.1 6.12)',
  );
  act(fetch, async () => {
    await withVmLock(
      async () => {
        for (const spec of fetch.processedArgs[0] as string[]) {
          const k = await resolveKernel(spec);
          console.log(`${k.release}: ${formatBytes(k.bytes)} in ${k.dir}`);
        }
      },
      { verbose: true },
    );
    return 0;
  });
  const lsCmd = sub(vm, 'ls', 'Lists the cached kernels and their size.').addOption(jsonOption());
  act(lsCmd, () => ls(lsCmd.opts<{ json?: boolean }>().json === true));
  const rm = sub(vm, 'rm', 'Removes kernels from the cache.').argument('<release...>', 'the releases (see xlb vm ls)');
  act(rm, () => {
    const ks = listCached();
    for (const r of rm.processedArgs[0] as string[]) {
      const k = ks.find((c) => c.release === r);
      if (k === undefined) throw new CliError(`${r} is not cached (xlb vm ls lists what is)`);
      rmSync(k.dir, { recursive: true, force: true });
      console.log(`removed ${k.release} (${formatBytes(k.bytes)})`);
    }
    return 0;
  });
  return runCommand(vm, args);
}
