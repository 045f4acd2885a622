// Kernels for `xlb vm run`: a SPEC (a version such as 6.1 or 6.12, a full release, a .deb or a
// vmlinuz) resolved to a cached kernel + initramfs under one folder (default /var/cache/xlb/vm,
// XLB_VM_CACHE overrides). Debian packages are fetched with apt-get download and unpacked with
// dpkg-deb; the initramfs holds busybox-static as the init's shell, scripts/vm/init.sh as /init
// and the package's own modules the guest needs (with their dependencies, read from each
// module's .modinfo, so no kmod/depmod is needed on the host), decompressed, in load order.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../root.ts';

export const INIT_SCRIPT = path.join(ROOT, 'scripts', 'vm', 'init.sh');
const BUSYBOX = '/bin/busybox';

export function cacheDir(): string {
  return process.env.XLB_VM_CACHE ?? '/var/cache/xlb/vm';
}

/**
 * Modules the guest loads at boot, when the kernel has them as modules (built-in ones are
 * skipped; dependencies and softdeps are added). virtio + 9p + overlay: the root filesystem;
 * virtio_console: the command's stdout/stderr; virtio-rng: entropy; then what the datapath and
 * the lab use: TC clsact + cls_bpf/act_bpf, veth, bridge, dummy. Each insmod costs ~0.1 s under
 * TCG (the kernel parses the module's BTF), so the list holds what is used, not what might be:
 * nftables (15 modules with its dependencies) is left out until the lab uses it.
 */
export const GUEST_MODULES = [
  'virtio',
  'virtio_ring',
  'virtio_pci',
  'virtio_console',
  'virtio_rng',
  'netfs',
  '9pnet',
  '9pnet_virtio',
  '9p',
  'overlay',
  'veth',
  'bridge',
  'dummy',
  'sch_ingress',
  'cls_bpf',
  'act_bpf',
];

export interface KernelEntry {
  /** uname -r of the kernel. */
  release: string;
  /** Where it came from: 'apt:<package>=<version>', 'deb:<file>', 'vmlinuz:<file>'. */
  source: string;
  /** Module files in the initramfs, in load order (relative to lib/modules/<release>). */
  modules: string[];
  /** How it boots: 'pvh' (the uncompressed vmlinux, see pvhVmlinux) or 'bzimage'. */
  boots: 'pvh' | 'bzimage';
  /** Names asked for that this kernel has built in. */
  builtin: string[];
  /** Names asked for that this kernel has neither as a module nor built in. */
  absent: string[];
  /** Hash of init.sh, busybox and the module list: a change rebuilds the initramfs. */
  initramfsKey: string;
  builtAt: string;
}

export interface CachedKernel extends KernelEntry {
  dir: string;
  /** The file qemu's -kernel gets. */
  kernel: string;
  initramfs: string;
  bytes: number;
}

const KERNELS = (): string => path.join(cacheDir(), 'kernels');

function say(quiet: boolean, msg: string): void {
  if (!quiet) process.stderr.write(`xlb vm: ${msg}\n`);
}

function dirBytes(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const f of readdirSync(p)) n += dirBytes(path.join(p, f));
  return n;
}

/** Compares kernel releases numerically segment by segment (6.1.0-57 > 6.1.0-9). */
export function compareRelease(a: string, b: string): number {
  const seg = (s: string): number[] => (s.match(/\d+/g) ?? []).map(Number);
  const x = seg(a);
  const y = seg(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

export function listCached(): CachedKernel[] {
  if (!existsSync(KERNELS())) return [];
  const out: CachedKernel[] = [];
  for (const release of readdirSync(KERNELS())) {
    const dir = path.join(KERNELS(), release);
    const meta = path.join(dir, 'kernel.json');
    if (!existsSync(meta)) continue;
    const e = JSON.parse(readFileSync(meta, 'utf8')) as KernelEntry;
    out.push({ ...e, dir, kernel: kernelFile(dir, e), initramfs: path.join(dir, 'initramfs.cpio'), bytes: dirBytes(dir) });
  }
  return out.sort((a, b) => compareRelease(a.release, b.release));
}

/** A version prefix (6.1, 6.12) matches releases 6.1.*, not 6.12.*. */
export function releaseMatches(release: string, version: string): boolean {
  return release === version || release.startsWith(`${version}.`) || release.startsWith(`${version}-`);
}

/** Debian's plain amd64 unsigned image packages (not cloud, not rt) of a version, newest first. */
export function debianPackagesFor(version: string, pkgnames: string[]): { pkg: string; release: string }[] {
  const re = /^linux-image-([0-9]+\.[0-9]+\.[0-9]+(?:-[0-9]+)?(?:\+deb[0-9]+)?-amd64)-unsigned$/;
  const out: { pkg: string; release: string }[] = [];
  for (const pkg of pkgnames) {
    const m = re.exec(pkg.trim());
    if (m?.[1] !== undefined && releaseMatches(m[1], version)) out.push({ pkg: pkg.trim(), release: m[1] });
  }
  return out.sort((a, b) => compareRelease(b.release, a.release));
}

/** The release string in a bzImage's header (setup header field kernel_version, boot protocol ≥ 2.00). */
export function bzImageRelease(file: string): string {
  const buf = readFileSync(file);
  if (buf.length < 0x300 || buf.toString('latin1', 0x202, 0x206) !== 'HdrS') {
    throw new Error(`${file} is not an x86 bzImage (no 'HdrS' boot header): give a vmlinuz, a .deb or a version such as 6.1`);
  }
  const off = buf.readUInt16LE(0x20e) + 0x200;
  const end = buf.indexOf(0, off);
  const text = buf.toString('latin1', off, end);
  const release = text.split(' ')[0];
  if (release === undefined || release === '') throw new Error(`${file}: empty kernel_version string in the bzImage header`);
  return release;
}

/**
 * The uncompressed vmlinux inside a bzImage when it can boot through PVH (its ELF has the
 * XEN_ELFNOTE_PHYS32_ENTRY note; Debian's kernels do: CONFIG_PVH=y). qemu starts such an ELF
 * straight in 32-bit mode: no real-mode setup and, above all, no in-guest decompression, which
 * takes ~10 s of TCG time for Debian's xz-compressed 6.1 (measured: first kernel line after
 * 13 s as a bzImage, after 1.3 s as PVH).
 */
export async function pvhVmlinux(bzImage: string): Promise<Buffer | undefined> {
  const buf = readFileSync(bzImage);
  if (buf.toString('latin1', 0x202, 0x206) !== 'HdrS' || buf.readUInt16LE(0x206) < 0x208) return undefined;
  const setupSects = buf[0x1f1] === 0 ? 4 : (buf[0x1f1] ?? 4);
  const start = (setupSects + 1) * 512 + buf.readUInt32LE(0x248);
  const payload = buf.subarray(start, start + buf.readUInt32LE(0x24c));
  const magic = payload.subarray(0, 6);
  const tool = magic.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
    ? ['xz', '-dc', '--single-stream']
    : magic.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))
      ? ['zstd', '-dcq']
      : magic.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))
        ? ['gzip', '-dcq']
        : undefined;
  if (tool === undefined) return undefined;
  // Exit code ignored: the payload ends with the uncompressed size, which zstd and gzip call
  // trailing garbage after a complete stream. The result is checked instead.
  const [cmd = 'xz', ...args] = tool;
  const r = await execa(cmd, args, { input: payload, encoding: 'buffer', reject: false, stripFinalNewline: false, maxBuffer: 1 << 30 });
  const elf = Buffer.from(r.stdout);
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  // Elf note: namesz 4, descsz 8 (an _ASM_PTR), type 18 (XEN_ELFNOTE_PHYS32_ENTRY), name "Xen\0".
  const note = Buffer.from([4, 0, 0, 0, 8, 0, 0, 0, 18, 0, 0, 0, 0x58, 0x65, 0x6e, 0]);
  return elf.includes(note) ? elf : undefined;
}

// ---------------------------------------------------------------------------------------------
// Modules: names, dependencies (.modinfo), load order.

/** The module name of a file: basename without .ko[.xz|.zst|.gz], '-' read as '_'. */
export function moduleName(file: string): string {
  return path
    .basename(file)
    .replace(/\.ko(\.(xz|zst|gz))?$/, '')
    .replace(/-/g, '_');
}

/** key=value strings of an ELF64 module's .modinfo section. */
export function modinfo(elf: Buffer): Map<string, string[]> {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new Error('not an ELF64 file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const sec = (i: number): { name: number; off: number; size: number } => {
    const b = shoff + i * shentsize;
    return { name: elf.readUInt32LE(b), off: Number(elf.readBigUInt64LE(b + 24)), size: Number(elf.readBigUInt64LE(b + 32)) };
  };
  const strtab = sec(shstrndx);
  const out = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    const nameEnd = elf.indexOf(0, strtab.off + s.name);
    if (elf.toString('latin1', strtab.off + s.name, nameEnd) !== '.modinfo') continue;
    for (const kv of elf.toString('latin1', s.off, s.off + s.size).split('\0')) {
      const eq = kv.indexOf('=');
      if (eq <= 0) continue;
      const k = kv.slice(0, eq);
      out.set(k, [...(out.get(k) ?? []), kv.slice(eq + 1)]);
    }
  }
  return out;
}

async function readModule(file: string): Promise<Buffer> {
  if (file.endsWith('.ko')) return readFileSync(file);
  const tool = file.endsWith('.xz') ? 'xz' : file.endsWith('.zst') ? 'zstd' : 'gzip';
  const r = await execa(tool, ['-dc', file], { encoding: 'buffer', reject: false, stripFinalNewline: false });
  if (r.exitCode !== 0) throw new Error(`${tool} -dc ${file} failed: ${Buffer.from(r.stderr).toString().trim()}`);
  return Buffer.from(r.stdout);
}

function walk(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, f.name);
    if (f.isDirectory()) walk(p, out);
    else if (/\.ko(\.(xz|zst|gz))?$/.test(f.name)) out.push(p);
  }
  return out;
}

interface ModulePlan {
  /** In load order: dependencies first. */
  files: { rel: string; data: Buffer }[];
  builtin: string[];
  absent: string[];
}

/** The wanted modules of a kernel's module tree and their dependencies, in load order. */
export async function planModules(modDir: string, wanted: string[]): Promise<ModulePlan> {
  const byName = new Map<string, string>();
  for (const f of walk(modDir)) byName.set(moduleName(f), f);
  const builtinFile = path.join(modDir, 'modules.builtin');
  const builtinSet = new Set(existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8').split('\n').filter(Boolean).map(moduleName) : []);
  const files: { rel: string; data: Buffer }[] = [];
  const done = new Set<string>();
  const builtin: string[] = [];
  const absent: string[] = [];
  const resolveAlias = async (alias: string): Promise<string | undefined> => {
    if (byName.has(alias) || builtinSet.has(alias)) return alias;
    // Only modules named like the alias are read (crc32c -> crc32c_generic, crc32c_intel):
    // reading every module of a kernel for its aliases would take minutes on xz modules.
    // The generic C implementation first: it loads on any CPU the guest emulates.
    const candidates = [...byName]
      .filter(([n]) => n.startsWith(alias))
      .sort(([a], [b]) => Number(b.endsWith('_generic')) - Number(a.endsWith('_generic')));
    for (const [n, f] of candidates) {
      if ((modinfo(await readModule(f)).get('alias') ?? []).includes(alias)) return n;
    }
    return undefined;
  };
  const visit = async (name: string, chain: string[]): Promise<void> => {
    if (done.has(name)) return;
    const file = byName.get(name);
    if (file === undefined) {
      if (builtinSet.has(name)) builtin.push(name);
      else if (chain.length > 0) throw new Error(`module ${chain.join(' -> ')} depends on ${name}, which ${modDir} does not have`);
      else absent.push(name);
      done.add(name);
      return;
    }
    if (chain.includes(name)) throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const data = await readModule(file);
    const info = modinfo(data);
    const deps = (info.get('depends')?.[0] ?? '').split(',').filter(Boolean);
    for (const d of deps) await visit(d.replace(/-/g, '_'), [...chain, name]);
    // softdep pre: modules modprobe loads first (libcrc32c needs the crc32c algorithm, which
    // is the alias of crc32c_generic); names resolved through the candidates' alias= lines.
    for (const sd of info.get('softdep') ?? []) {
      const pre = /(?:^|\s)pre:\s*([^:]*?)(?:\s+post:|$)/.exec(sd)?.[1] ?? '';
      for (const want of pre.split(/\s+/).filter(Boolean)) {
        const target = await resolveAlias(want.replace(/-/g, '_'));
        if (target !== undefined) await visit(target, [...chain, name]);
      }
    }
    done.add(name);
    files.push({ rel: path.relative(modDir, file).replace(/\.(xz|zst|gz)$/, ''), data });
  };
  for (const w of wanted) await visit(w, []);
  return { files, builtin, absent };
}

// ---------------------------------------------------------------------------------------------
// cpio (newc), the initramfs format.

interface CpioEntry {
  name: string;
  /** File type and permission bits (S_IFREG 0o100000, S_IFDIR 0o040000, S_IFCHR 0o020000). */
  mode: number;
  data?: Buffer;
  rdevMajor?: number;
  rdevMinor?: number;
}

export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let len = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    len += b.length;
  };
  const pad = (): void => {
    if (len % 4 !== 0) push(Buffer.alloc(4 - (len % 4)));
  };
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }]) {
    const data = e.data ?? Buffer.alloc(0);
    const isDir = (e.mode & 0o170000) === 0o040000;
    const f = [
      ino++,
      e.mode,
      0,
      0,
      isDir ? 2 : 1,
      0,
      data.length,
      0,
      0,
      e.rdevMajor ?? 0,
      e.rdevMinor ?? 0,
      Buffer.byteLength(e.name) + 1,
      0,
    ];
    push(Buffer.from(`070701${f.map((n) => n.toString(16).padStart(8, '0')).join('')}${e.name}\0`, 'latin1'));
    pad();
    push(data);
    pad();
  }
  return Buffer.concat(parts, len);
}

function initramfsKey(modules: string[]): string {
  const h = createHash('sha256');
  h.update(readFileSync(INIT_SCRIPT));
  h.update(readFileSync(BUSYBOX));
  h.update('cache layout 2'); // bump when the cached files change shape
  h.update(GUEST_MODULES.join(','));
  h.update(modules.join(','));
  return h.digest('hex').slice(0, 16);
}

/** Builds <dir>/initramfs.cpio from a kernel's module tree; returns the plan's summary. */
async function buildInitramfs(
  dir: string,
  release: string,
  modDir: string | undefined,
): Promise<Pick<KernelEntry, 'modules' | 'builtin' | 'absent' | 'initramfsKey'>> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (./xlb setup does)`);
  const plan =
    modDir !== undefined && existsSync(modDir)
      ? await planModules(modDir, GUEST_MODULES)
      : { files: [], builtin: [], absent: [...GUEST_MODULES] };
  const dirs = new Set<string>(['bin', 'dev', 'etc', 'proc', 'sys', 'lib', 'lib/modules', `lib/modules/${release}`]);
  for (const f of plan.files) {
    for (let d = path.dirname(f.rel); d !== '.'; d = path.dirname(d)) dirs.add(`lib/modules/${release}/${d}`);
  }
  const entries: CpioEntry[] = [...dirs].sort().map((name) => ({ name, mode: 0o040755 }));
  entries.push({ name: 'dev/console', mode: 0o020600, rdevMajor: 5, rdevMinor: 1 });
  entries.push({ name: 'bin/busybox', mode: 0o100755, data: readFileSync(BUSYBOX) });
  entries.push({ name: 'init', mode: 0o100755, data: readFileSync(INIT_SCRIPT) });
  const order = plan.files.map((f) => f.rel);
  entries.push({ name: 'etc/xlb-modules', mode: 0o100644, data: Buffer.from(order.map((r) => `${r}\n`).join('')) });
  // modules.dep for busybox modprobe (the kernel's request_module runs /sbin/modprobe of the initramfs).
  const depLines = plan.files.map((f) => {
    const deps = (modinfo(f.data).get('depends')?.[0] ?? '').split(',').filter(Boolean);
    const depFiles = deps
      .map((d) => plan.files.find((x) => moduleName(x.rel) === d.replace(/-/g, '_'))?.rel)
      .filter((x): x is string => x !== undefined);
    return `${f.rel}: ${depFiles.join(' ')}\n`;
  });
  entries.push({ name: `lib/modules/${release}/modules.dep`, mode: 0o100644, data: Buffer.from(depLines.join('')) });
  for (const f of plan.files) entries.push({ name: `lib/modules/${release}/${f.rel}`, mode: 0o100644, data: f.data });
  // The chosen modules (decompressed) stay in the cache too: a change of init.sh or busybox
  // rebuilds the initramfs from them without fetching the package again.
  const saved = path.join(dir, 'modules');
  if (modDir !== undefined && path.resolve(modDir) !== saved) {
    rmSync(saved, { recursive: true, force: true });
    for (const f of plan.files) {
      mkdirSync(path.dirname(path.join(saved, f.rel)), { recursive: true });
      writeFileSync(path.join(saved, f.rel), f.data);
    }
    mkdirSync(saved, { recursive: true });
    if (existsSync(path.join(modDir, 'modules.builtin')))
      copyFileSync(path.join(modDir, 'modules.builtin'), path.join(saved, 'modules.builtin'));
  }
  const tmp = path.join(dir, `initramfs.cpio.tmp-${process.pid}`);
  writeFileSync(tmp, cpioNewc(entries));
  renameSync(tmp, path.join(dir, 'initramfs.cpio'));
  return { modules: order, builtin: plan.builtin, absent: plan.absent, initramfsKey: initramfsKey(order) };
}

/** Puts the kernel qemu boots in dir: the PVH vmlinux when there is one, else the bzImage. */
async function placeKernel(bzImage: string, dir: string): Promise<'pvh' | 'bzimage'> {
  const elf = await pvhVmlinux(bzImage);
  if (elf !== undefined) {
    writeFileSync(path.join(dir, 'vmlinux'), elf);
    return 'pvh';
  }
  copyFileSync(bzImage, path.join(dir, 'vmlinuz'));
  return 'bzimage';
}

function kernelFile(dir: string, e: KernelEntry): string {
  return path.join(dir, e.boots === 'pvh' ? 'vmlinux' : 'vmlinuz');
}

function writeEntry(dir: string, e: KernelEntry): CachedKernel {
  writeFileSync(path.join(dir, 'kernel.json'), `${JSON.stringify(e, null, 2)}\n`);
  return { ...e, dir, kernel: kernelFile(dir, e), initramfs: path.join(dir, 'initramfs.cpio'), bytes: dirBytes(dir) };
}

/** Installs an unpacked package tree (boot/vmlinuz-R, lib/modules/R) into the cache. */
async function installTree(tree: string, source: string, quiet: boolean): Promise<CachedKernel> {
  const boot = path.join(tree, 'boot');
  const vmlinuz = existsSync(boot) ? readdirSync(boot).find((f) => f.startsWith('vmlinuz-')) : undefined;
  if (vmlinuz === undefined) throw new Error(`${source}: the package has no boot/vmlinuz-*: is it a linux-image package?`);
  const release = vmlinuz.slice('vmlinuz-'.length);
  const dir = path.join(KERNELS(), release);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const boots = await placeKernel(path.join(boot, vmlinuz), dir);
  if (existsSync(path.join(boot, `config-${release}`))) copyFileSync(path.join(boot, `config-${release}`), path.join(dir, 'config'));
  say(quiet, `building the initramfs of ${release} (busybox + modules)`);
  const built = await buildInitramfs(dir, release, path.join(tree, 'lib', 'modules', release));
  return writeEntry(dir, { release, source, boots, ...built, builtAt: new Date().toISOString() });
}

async function installDeb(deb: string, source: string, quiet: boolean): Promise<CachedKernel> {
  const tree = path.join(cacheDir(), `unpack-${process.pid}`);
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  try {
    say(quiet, `unpacking ${path.basename(deb)}`);
    const r = await execa('dpkg-deb', ['-x', deb, tree], { reject: false });
    if (r.exitCode !== 0) throw new Error(`dpkg-deb -x ${deb} failed: ${r.stderr.trim()}`);
    return await installTree(tree, source, quiet);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

/** apt-get download of a package into the cache; returns the .deb path. */
async function aptDownload(pkg: string, quiet: boolean): Promise<{ deb: string; version: string }> {
  const dl = path.join(cacheDir(), 'downloads');
  mkdirSync(dl, { recursive: true });
  say(quiet, `apt-get download ${pkg}`);
  // The download runs as root: apt's _apt sandbox user cannot write into a root-owned folder.
  const r = await execa('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', pkg], { cwd: dl, reject: false });
  if (r.exitCode !== 0) throw new Error(`apt-get download ${pkg} failed (${r.stderr.trim()}): check the network and 'apt-get update'`);
  const deb = readdirSync(dl).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (deb === undefined) throw new Error(`apt-get download ${pkg} left no ${pkg}_*.deb in ${dl}`);
  return { deb: path.join(dl, deb), version: deb.split('_')[1] ?? '?' };
}

/** The kernel a SPEC names, fetched and built into the cache when it is not there yet. */
export async function resolveKernel(spec: string, opts: { quiet?: boolean } = {}): Promise<CachedKernel> {
  const quiet = opts.quiet === true;
  mkdirSync(KERNELS(), { recursive: true });
  const fresh = (k: CachedKernel): boolean => existsSync(k.kernel) && existsSync(k.initramfs) && k.initramfsKey === initramfsKey(k.modules);
  const rebuild = async (k: CachedKernel): Promise<CachedKernel> => {
    // init.sh or busybox changed: rebuild the initramfs from the saved modules; a module list
    // that asks for modules not saved installs the kernel again from its source.
    say(quiet, `the initramfs of ${k.release} is out of date (init.sh, busybox or the module list changed)`);
    const known = new Set([...k.modules.map(moduleName), ...k.builtin, ...k.absent]);
    if (existsSync(path.join(k.dir, 'modules')) && GUEST_MODULES.every((m) => known.has(m))) {
      const built = await buildInitramfs(k.dir, k.release, path.join(k.dir, 'modules'));
      const { dir: _dir, kernel: _kernel, initramfs: _initramfs, bytes: _bytes, ...entry } = k;
      return writeEntry(k.dir, { ...entry, ...built, builtAt: new Date().toISOString() });
    }
    const [kind, ...rest] = k.source.split(':');
    const what = rest.join(':');
    if (kind === 'apt') return installApt(what.split('=')[0] ?? what, quiet);
    if (kind === 'deb' && existsSync(what)) return installDeb(what, k.source, quiet);
    if (kind === 'vmlinuz' && existsSync(what)) return installVmlinuz(what, quiet);
    throw new Error(`cannot rebuild ${k.release}: its source ${k.source} is gone; remove ${k.dir} and run again with a SPEC that names it`);
  };

  if (spec.endsWith('.deb')) {
    if (!existsSync(spec)) throw new Error(`${spec} does not exist`);
    return installDeb(path.resolve(spec), `deb:${path.resolve(spec)}`, quiet);
  }
  if (spec.includes('/') || existsSync(spec)) {
    if (!existsSync(spec)) throw new Error(`${spec} does not exist (SPEC: a version such as 6.1 or 6.12, a .deb, or a vmlinuz file)`);
    const release = bzImageRelease(spec);
    const k = listCached().find((c) => c.release === release && c.source === `vmlinuz:${path.resolve(spec)}`);
    if (k !== undefined && fresh(k) && statSync(k.dir).mtimeMs >= statSync(spec).mtimeMs) return k;
    return installVmlinuz(path.resolve(spec), quiet);
  }
  if (!/^[0-9]+\.[0-9]+([.+-][0-9A-Za-z.+~-]*)?$/.test(spec)) {
    throw new Error(`kernel SPEC '${spec}' is not a version (6.1, 6.12, 6.1.0-57-amd64), a .deb or a vmlinuz file`);
  }
  const cached = listCached()
    .filter((k) => releaseMatches(k.release, spec))
    .sort((a, b) => compareRelease(b.release, a.release))[0];
  if (cached !== undefined) return fresh(cached) ? cached : rebuild(cached);
  const names = await execa('apt-cache', ['pkgnames', 'linux-image-'], { reject: false });
  const candidates = debianPackagesFor(spec, names.stdout.split('\n'));
  const best = candidates[0];
  if (best === undefined) {
    throw new Error(
      `no Debian package linux-image-${spec}*-amd64-unsigned in the apt lists: run 'apt-get update', or check 'apt-cache search linux-image-${spec}'`,
    );
  }
  return installApt(best.pkg, quiet);
}

async function installApt(pkg: string, quiet: boolean): Promise<CachedKernel> {
  const { deb, version } = await aptDownload(pkg, quiet);
  try {
    return await installDeb(deb, `apt:${pkg}=${version}`, quiet);
  } finally {
    rmSync(deb, { force: true });
  }
}

/** A bare vmlinuz: modules from <dir>/../lib/modules/<release> when that tree is there (an unpacked package). */
async function installVmlinuz(file: string, quiet: boolean): Promise<CachedKernel> {
  const release = bzImageRelease(file);
  const dir = path.join(KERNELS(), release);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const boots = await placeKernel(file, dir);
  const modDir = [path.join(path.dirname(file), '..', 'lib', 'modules', release), path.join('/lib/modules', release)].find((d) =>
    existsSync(d),
  );
  if (modDir === undefined)
    say(
      quiet,
      `no lib/modules/${release} next to ${file}: the guest gets no modules (the kernel must have virtio, 9p and overlayfs built in)`,
    );
  const built = await buildInitramfs(dir, release, modDir);
  return writeEntry(dir, { release, source: `vmlinuz:${file}`, boots, ...built, builtAt: new Date().toISOString() });
}

export function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`;
}
