// `xlb vm`: run a command under another Linux kernel in qemu (src/devtools/vm.ts), and manage
// the kernel cache (src/devtools/vm-kernel.ts).
//   xlb vm run --kernel SPEC [--cpus N] [--mem M] [--timeout S] [--accel auto|kvm|tcg] [--log FILE] [--quiet] -- CMD…
//   xlb vm smoke [--kernel SPEC] the short smoke: boot, load the datapath, one scenario on prog
//   xlb vm fetch SPEC…       fetch and build kernels into the cache without booting them
//   xlb vm ls | --list       what the cache holds, and how big it is
//   xlb vm rm RELEASE…       remove kernels from the cache
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cacheDir, formatBytes, listCached, resolveKernel } from './vm-kernel.ts';
import { SMOKE_SCENARIO, VM_EXIT, smokeCommand, vmRun, withVmLock } from './vm.ts';

const USAGE = `usage:
  xlb vm run --kernel SPEC [--cpus N] [--mem MiB] [--timeout S] [--accel auto|kvm|tcg] [--log FILE] [--quiet] -- CMD [ARG…]
  xlb vm smoke [--kernel SPEC] [--timeout S] [--full]   boot SPEC (default 6.12), load the XDP
                         datapath (src/devtools/vm-smoke.ts; --full: both hooks), run
                         ${SMOKE_SCENARIO} on prog (tc)
  xlb vm fetch SPEC…     fetch and build kernels into the cache
  xlb vm ls              cached kernels and their size (also: xlb vm --list)
  xlb vm rm RELEASE…     remove cached kernels

SPEC: a version (6.1, 6.12: the newest Debian linux-image-<v>*-amd64-unsigned), a full
release (6.1.0-57-amd64), a .deb, or a vmlinuz/bzImage file.

run boots SPEC under qemu (KVM when the CPU supports it, else TCG; it says which) with the host's
root filesystem shared read-only (9p) under a tmpfs overlay and the project folder shared
read-write at its own path, and runs CMD there as root with the host's PATH. Exit code: CMD's;
${VM_EXIT.timeout} when --timeout (default 600 s, boot included) passed; ${VM_EXIT.failure} when the guest died, panicked
or never ran CMD (the console log's tail is printed). Defaults: --cpus 1, --mem 1024.
One VM at a time on this machine (a lock in the cache). Cache: ${cacheDir()} (XLB_VM_CACHE).`;

/** A mistake in the command line: exit 2, not the 125 of a run that could not start. */
class UsageError extends Error {}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} ${v}: a positive integer is needed`);
  return n;
}

function memMiB(v: string | undefined): number {
  if (v === undefined) return 1024;
  const m = /^(\d+)([MG]i?B?)?$/i.exec(v.trim());
  if (m?.[1] === undefined) throw new UsageError(`--mem ${v}: give MiB (1024) or a size with M or G (2G)`);
  const n = Number(m[1]) * (m[2]?.toUpperCase().startsWith('G') === true ? 1024 : 1);
  if (n < 256) throw new UsageError(`--mem ${v}: at least 256 MiB (node and the datapath's maps need it)`);
  return n;
}

async function run(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    options: {
      kernel: { type: 'string', short: 'k' },
      cpus: { type: 'string' },
      mem: { type: 'string' },
      timeout: { type: 'string' },
      accel: { type: 'string' },
      log: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values.kernel === undefined) throw new UsageError('xlb vm run: --kernel SPEC is needed (e.g. --kernel 6.1)');
  if (positionals.length > 0) throw new UsageError(`xlb vm run: put the command after '--' (got ${positionals.join(' ')} before it)`);
  if (command.length === 0) throw new UsageError('xlb vm run: no command: xlb vm run --kernel 6.1 -- uname -r');
  const accel = values.accel ?? 'auto';
  if (accel !== 'auto' && accel !== 'kvm' && accel !== 'tcg') throw new UsageError(`--accel ${accel}: auto, kvm or tcg`);
  const r = await vmRun({
    kernel: values.kernel,
    command,
    cpus: positiveInt('cpus', values.cpus, 1),
    memMiB: memMiB(values.mem),
    timeoutS: positiveInt('timeout', values.timeout, 600),
    accel,
    log: values.log,
    verbose: values.quiet !== true,
  });
  return r.exitCode;
}

function ls(): number {
  const ks = listCached();
  if (ks.length === 0) {
    console.log(`no kernels cached in ${cacheDir()} (xlb vm fetch 6.1 6.12)`);
    return 0;
  }
  const w = Math.max(...ks.map((k) => k.release.length));
  for (const k of ks) {
    console.log(`${k.release.padEnd(w)}  ${formatBytes(k.bytes).padStart(9)}  ${k.boots.padEnd(7)}  ${String(k.modules.length).padStart(2)} modules  ${k.source}`);
  }
  console.log(`total ${formatBytes(ks.reduce((a, k) => a + k.bytes, 0))} in ${cacheDir()}`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'run':
        try {
          return await run(rest);
        } catch (e) {
          // Not CMD's exit code: the run could not start (bad option: 2; kernel fetch failed: 125).
          console.error(`xlb vm: ${e instanceof Error ? e.message : String(e)}`);
          return e instanceof UsageError || (e instanceof Error && e.name === 'TypeError') ? 2 : VM_EXIT.failure;
        }
      case 'smoke': {
        const { values } = parseArgs({ args: rest, options: { kernel: { type: 'string', short: 'k' }, timeout: { type: 'string' }, quiet: { type: 'boolean', short: 'q' }, full: { type: 'boolean' } } });
        const r = await vmRun({ kernel: values.kernel ?? '6.12', command: smokeCommand({ quick: values.full !== true }), timeoutS: positiveInt('timeout', values.timeout, 900), verbose: values.quiet !== true });
        return r.exitCode;
      }
      case 'ls':
      case '--list':
        return ls();
      case 'fetch':
        if (rest.length === 0) throw new Error('xlb vm fetch SPEC…: which kernels (e.g. 6.1 6.12)?');
        await withVmLock(async () => {
          for (const spec of rest) {
            const k = await resolveKernel(spec);
            console.log(`${k.release}: ${formatBytes(k.bytes)} in ${k.dir}`);
          }
        }, { verbose: true });
        return 0;
      case 'rm': {
        if (rest.length === 0) throw new Error('xlb vm rm RELEASE…: which kernels (see xlb vm ls)?');
        const ks = listCached();
        for (const r of rest) {
          const k = ks.find((c) => c.release === r);
          if (k === undefined) throw new Error(`${r} is not cached (xlb vm ls)`);
          rmSync(k.dir, { recursive: true, force: true });
          console.log(`removed ${k.release} (${formatBytes(k.bytes)})`);
        }
        return 0;
      }
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        console.log(USAGE);
        return sub === undefined ? 2 : 0;
      default:
        console.error(`xlb vm: unknown subcommand '${sub}'\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    console.error(`xlb vm: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
}
