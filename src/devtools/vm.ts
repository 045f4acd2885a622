// `xlb vm run`: a command under another kernel, in qemu. The guest's root is the host's root
// filesystem shared read-only over virtio-9p with a tmpfs overlay on top; the project folder is
// a second, read-write 9p share mounted at its host path; a third share (the run folder) carries
// the command (run.sh), its environment and its status back. 9p rather than virtiofs: qemu serves
// 9p itself, virtiofs needs a virtiofsd daemon per share and shared-memory guest RAM.
// The command's stdout and stderr come back over two virtio-serial ports (binary clean, no tty
// line discipline), the console (ttyS0) goes to a log file. The status file is written
// "init"/"cmd" by the guest before the command runs and "exit N" after it (see
// scripts/vm/init.sh): a guest that dies, panics or hangs (killed at --timeout) leaves no
// "exit N" and is a failure with the console's tail, never a silent pass.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  accessSync,
  constants,
} from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { cacheDir, resolveKernel } from './vm-kernel.ts';
import type { CachedKernel } from './vm-kernel.ts';
import { ROOT } from '../root.ts';

export const PROJECT_ROOT = ROOT;

/** Exit codes of `xlb vm run` that are not the command's own. */
export const VM_EXIT = { timeout: 124, failure: 125 } as const;

export type Accel = 'kvm' | 'tcg';

/** XLB_SLOW_FACTOR in a TCG guest (the host's XLB_SLOW_FACTOR, when set, wins). */
export const TCG_SLOW_FACTOR = 10;

export interface AccelChoice {
  accel: Accel;
  why: string;
}

/**
 * KVM when it can work: /dev/kvm usable and the CPU exposes vmx or svm. On this kind of machine
 * /dev/kvm exists but the (virtual) CPU has no virtualisation flag, and KVM guests hang right
 * after decompression: the flag check tells that case apart without a boot probe.
 */
export function chooseAccel(want: 'auto' | Accel = 'auto', cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')): AccelChoice {
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
  const virt = flags.has('vmx') ? 'vmx' : flags.has('svm') ? 'svm' : undefined;
  let kvmDev = true;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    kvmDev = false;
  }
  if (want === 'tcg') return { accel: 'tcg', why: 'TCG (software emulation) as asked' };
  if (kvmDev && virt !== undefined) return { accel: 'kvm', why: `KVM (/dev/kvm usable, CPU flag ${virt})` };
  const reason = !kvmDev ? 'no usable /dev/kvm' : '/dev/kvm exists but the CPU has no vmx/svm flag (KVM guests would hang)';
  if (want === 'kvm') throw new Error(`--accel kvm: ${reason}; use --accel tcg or auto`);
  return { accel: 'tcg', why: `TCG (software emulation): ${reason}` };
}

export interface VmRunOptions {
  kernel: string;
  command: string[];
  cpus?: number;
  /** MiB. */
  memMiB?: number;
  timeoutS?: number;
  accel?: 'auto' | Accel;
  /** Folder shared read-write at its own path, where the command runs; default the project root. */
  project?: string;
  /** Console log file; default <cache>/logs/<run id>-<release>.log. */
  log?: string;
  /** Progress lines on stderr (xlb vm: …); default true. */
  verbose?: boolean;
  stdout?: Writable;
  stderr?: Writable;
  /** Extra environment for the command (PATH, HOME, XLB_VM* are always set). */
  env?: Record<string, string>;
}

export interface VmRunResult {
  /** The command's exit code, or VM_EXIT.timeout / VM_EXIT.failure. */
  exitCode: number;
  /** Did the command run to its end (status "exit N")? */
  completed: boolean;
  /** Why the run failed when it did not complete. */
  failure?: string;
  kernel: CachedKernel;
  accel: AccelChoice;
  /** qemu start to the command's start (undefined when it never started). */
  bootMs?: number;
  wallMs: number;
  log: string;
}

/** Quotes a word for sh. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The tail of a log file, at most `lines` lines. */
export function logTail(file: string, lines = 40): string {
  if (!existsSync(file)) return `(no console log at ${file})`;
  const text = readFileSync(file, 'utf8').replace(/\r/g, '');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// One VM at a time on this machine: a lock file holding the owner's pid (a dead owner's lock is
// taken over). The kernel cache is built under the same lock.

const LOCK = (): string => path.join(cacheDir(), 'lock');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function withVmLock<T>(fn: () => Promise<T>, opts: { verbose: boolean; waitS?: number }): Promise<T> {
  mkdirSync(cacheDir(), { recursive: true });
  const deadline = Date.now() + (opts.waitS ?? 1800) * 1000;
  let told = 0;
  for (;;) {
    try {
      const fd = openSync(LOCK(), 'wx');
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number.parseInt(readFileSync(LOCK(), 'utf8'), 10);
      if (!Number.isInteger(owner) || !pidAlive(owner)) {
        rmSync(LOCK(), { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another VM (pid ${owner}) holds ${LOCK()} for too long: wait for it, or end it`);
      if (opts.verbose && Date.now() - told > 30_000) {
        process.stderr.write(`xlb vm: waiting for the VM of pid ${owner} (one VM at a time on this machine)\n`);
        told = Date.now();
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    try {
      if (Number.parseInt(readFileSync(LOCK(), 'utf8'), 10) === process.pid) rmSync(LOCK(), { force: true });
    } catch {
      // already gone
    }
  }
}

/** Keeps the newest `keep` console logs. */
function pruneLogs(dir: string, keep = 20): void {
  const logs = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => ({ f, t: statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of logs.slice(keep)) rmSync(path.join(dir, f), { force: true });
}

export function qemuArgs(o: {
  kernel: CachedKernel;
  accel: Accel;
  cpus: number;
  memMiB: number;
  log: string;
  project: string;
  runDir: string;
}): string[] {
  const share = (id: string, p: string, tag: string, ro: boolean): string[] => [
    '-fsdev',
    `local,id=${id},path=${p},security_model=none,multidevs=remap${ro ? ',readonly=on' : ''}`,
    '-device',
    `virtio-9p-pci,fsdev=${id},mount_tag=${tag}`,
  ];
  // panic=-1: reboot at once on a panic, which -no-reboot turns into qemu's exit.
  const append = ['console=ttyS0', 'panic=-1', 'mitigations=off', 'no_timer_check', 'tsc=reliable', 'random.trust_cpu=on', 'loglevel=6'];
  return [
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-machine',
    'q35',
    // tb-size: a 256 MiB translation cache instead of TCG's default 1 GiB (shared machine).
    '-accel',
    o.accel === 'kvm' ? 'kvm' : `tcg,tb-size=256${o.cpus > 1 ? ',thread=multi' : ''}`,
    '-cpu',
    o.accel === 'kvm' ? 'host' : 'max',
    '-smp',
    String(o.cpus),
    '-m',
    String(o.memMiB),
    '-kernel',
    o.kernel.kernel,
    '-initrd',
    o.kernel.initramfs,
    '-append',
    append.join(' '),
    '-chardev',
    `file,id=con,path=${o.log}`,
    '-serial',
    'chardev:con',
    ...share('root', '/', 'xlbroot', true),
    ...share('proj', o.project, 'xlbproj', false),
    ...share('run', o.runDir, 'xlbrun', false),
    '-device',
    'virtio-serial-pci',
    // fds 3 and 4 of qemu are connected sockets to this process (node's extra stdio pipes).
    '-chardev',
    'socket,id=out,fd=3,server=off',
    '-device',
    'virtserialport,chardev=out,name=xlb.stdout',
    '-chardev',
    'socket,id=err,fd=4,server=off',
    '-device',
    'virtserialport,chardev=err,name=xlb.stderr',
    '-device',
    'virtio-rng-pci',
  ];
}

export function runScript(command: string[], cwd: string, env: Record<string, string>): string {
  const exports = Object.entries(env).map(([k, v]) => `export ${k}=${shQuote(v)}`);
  return [
    '# written by xlb vm run (src/devtools/vm.ts); runs in the guest, chrooted into the overlay root',
    ...exports,
    `cd ${shQuote(cwd)} || exit ${VM_EXIT.failure}`,
    `exec ${command.map(shQuote).join(' ')}`,
    '',
  ].join('\n');
}

export async function vmRun(opts: VmRunOptions): Promise<VmRunResult> {
  const verbose = opts.verbose !== false;
  const say = (m: string): void => {
    if (verbose) process.stderr.write(`xlb vm: ${m}\n`);
  };
  if (opts.command.length === 0) throw new Error('xlb vm run: no command after --');
  const cpus = opts.cpus ?? 1;
  const memMiB = opts.memMiB ?? 1024;
  const timeoutS = opts.timeoutS ?? 600;
  const project = path.resolve(opts.project ?? PROJECT_ROOT);
  if (!/^[A-Za-z0-9_@%+=:,./-]+$/.test(project))
    throw new Error(`project folder ${project}: only plain path characters can be shared (qemu's -fsdev option syntax)`);
  const qemu = '/usr/bin/qemu-system-x86_64';
  if (!existsSync(qemu)) throw new Error(`${qemu} is missing: install Debian's qemu-system-x86 (./xlb setup does)`);
  const accel = chooseAccel(opts.accel ?? 'auto');

  return withVmLock(
    async () => {
      const kernel = await resolveKernel(opts.kernel, { quiet: !verbose });
      const id = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
      const logDir = path.join(cacheDir(), 'logs');
      mkdirSync(logDir, { recursive: true });
      const log = opts.log !== undefined ? path.resolve(opts.log) : path.join(logDir, `${id}-${kernel.release}.log`);
      const runDir = path.join(cacheDir(), 'runs', id);
      mkdirSync(runDir, { recursive: true });
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        HOME: '/root',
        LANG: process.env.LANG ?? 'C.UTF-8',
        XLB_VM: '1',
        XLB_VM_KERNEL: kernel.release,
        // Timeouts that wait on real processes (src/slow.ts) scale by this: TCG runs node and
        // tcpdump 10-50× slower than the host (measured: tcpdump's start > the lab's 10 s).
        XLB_SLOW_FACTOR: process.env.XLB_SLOW_FACTOR ?? (accel.accel === 'tcg' ? String(TCG_SLOW_FACTOR) : '1'),
        ...opts.env,
      };
      // The node running this process is on the shared root: the guest finds it first on PATH.
      env.PATH = `${path.dirname(process.execPath)}:${env.PATH}`;
      writeFileSync(path.join(runDir, 'vm.env'), `XLB_VM_PROJECT=${shQuote(project)}\n`);
      writeFileSync(path.join(runDir, 'run.sh'), runScript(opts.command, project, env));
      say(`${kernel.release}, ${accel.why}, ${cpus} CPU, ${memMiB} MiB, timeout ${timeoutS} s; console: ${log}`);

      const stdout = opts.stdout ?? process.stdout;
      const stderr = opts.stderr ?? process.stderr;
      const t0 = Date.now();
      const child = spawn(qemu, qemuArgs({ kernel, accel: accel.accel, cpus, memMiB, log, project, runDir }), {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      });
      const qemuOut: Buffer[] = [];
      child.stdout?.on('data', (b: Buffer) => qemuOut.push(b));
      child.stderr?.on('data', (b: Buffer) => qemuOut.push(b));
      const fd3 = child.stdio[3];
      const fd4 = child.stdio[4];
      fd3?.on('data', (b: Buffer) => stdout.write(b));
      fd4?.on('data', (b: Buffer) => stderr.write(b));
      const drained = Promise.all(
        [fd3, fd4].map((s) => new Promise<void>((resolve) => (s === null || s === undefined ? resolve() : s.on('close', () => resolve())))),
      );
      let timedOut = false;
      let interrupted: string | undefined;
      const kill = (): void => {
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, timeoutS * 1000);
      const onSignal = (sig: NodeJS.Signals): void => {
        interrupted = sig;
        kill();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let exit: { code: number | null; signal: NodeJS.Signals | null };
      try {
        exit = await new Promise((resolve, reject) => {
          child.on('error', reject);
          child.on('exit', (code, signal) => resolve({ code, signal }));
        });
        await drained;
      } catch (e) {
        rmSync(runDir, { recursive: true, force: true });
        throw new Error(`could not start ${qemu}: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        clearTimeout(timer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const wallMs = Date.now() - t0;

      const statusFile = path.join(runDir, 'status');
      const status = existsSync(statusFile) ? readFileSync(statusFile, 'utf8').trim() : '';
      const started = path.join(runDir, 'cmd-started');
      const bootMs = existsSync(started) ? Math.max(0, statSync(started).mtimeMs - t0) : undefined;
      rmSync(runDir, { recursive: true, force: true });
      pruneLogs(logDir);

      const m = /^exit (\d+)$/.exec(status);
      const base = { kernel, accel, bootMs, wallMs, log };
      if (m?.[1] !== undefined && !timedOut && interrupted === undefined) {
        const code = Number(m[1]);
        say(`command exited ${code} (boot to command ${((bootMs ?? 0) / 1000).toFixed(1)} s, total ${(wallMs / 1000).toFixed(1)} s)`);
        return { ...base, exitCode: code, completed: true };
      }
      const consoleText = existsSync(log) ? readFileSync(log, 'utf8') : '';
      const stage =
        status === ''
          ? 'the guest never reached its init (no status written)'
          : status === 'init'
            ? 'the guest init did not get to the command'
            : status === 'cmd'
              ? 'the command started but never finished'
              : `the guest init failed: ${status}`;
      const panic = /Kernel panic[^\n]*/.exec(consoleText)?.[0];
      const qemuText = Buffer.concat(qemuOut).toString().trim();
      const failure =
        interrupted !== undefined
          ? `interrupted (${interrupted}): ${stage}`
          : timedOut
            ? `timeout: ${timeoutS} s passed and the guest was killed; ${stage}`
            : panic !== undefined
              ? `the guest kernel panicked (${panic.trim()}); ${stage}`
              : `qemu exited (${exit.code ?? exit.signal}) and ${stage}${qemuText !== '' ? `\nqemu said: ${qemuText}` : ''}`;
      stderr.write(`xlb vm: FAILED on ${kernel.release}: ${failure}\nxlb vm: console log ${log}, last lines:\n${logTail(log)}\n`);
      return { ...base, exitCode: timedOut ? VM_EXIT.timeout : VM_EXIT.failure, completed: false, failure };
    },
    { verbose },
  );
}

/** The scenario the guest smoke runs on the prog backend (one hook: TCG makes it ~1 min). */
export const SMOKE_SCENARIO = 'scenarios/lb/rr-tcp-dnat.ts';

/**
 * `xlb run` in a guest: the CLI straight through node, not ./xlb, whose set-up step (dpkg-query
 * per package, the build's staleness check, a rebuild when stale) costs tens of seconds under
 * TCG and is the host's job (the host builds before it boots a guest).
 */
export const GUEST_XLB = ['node', '--enable-source-maps', '--import', 'tsx', 'src/cli.ts'];

/**
 * The guest command of `xlb vm smoke` (and of the test command's smoke): src/devtools/vm-smoke.ts (the
 * datapath check), then one scenario through `xlb run --backend prog --hook tc`, its TAP on stdout. Exit
 * status 0 only when both passed. `quick` (the test command's): vm-smoke.ts on XDP only, since the
 * scenario loads and runs the TC object anyway: one datapath load less (~30 s under TCG).
 */
export function smokeCommand(o: { quick?: boolean } = {}): string[] {
  return [
    'sh',
    '-c',
    [
      `node --import tsx src/devtools/vm-smoke.ts${o.quick === true ? ' --hook xdp' : ''}; s=$?`,
      `${GUEST_XLB.join(' ')} run ${SMOKE_SCENARIO} --backend prog --hook tc --tap --no-html --report /tmp/xlb-vm-smoke; r=$?`,
      'echo "smoke: datapath exit $s, scenario exit $r"',
      '[ $s = 0 ] && [ $r = 0 ]',
    ].join('; '),
  ];
}
