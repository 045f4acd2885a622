// BpfObject: open + load a compiled BPF ELF object, with a pin directory for map reuse.
import { existsSync, mkdirSync } from 'node:fs';
import { BpfError, fromNative } from './errors.ts';
import type { BpfErrorInit } from './errors.ts';
import { BpfMap } from './map.ts';
import { native } from './native.ts';
import type { NativeHandle } from './native.ts';
import { BpfProgram } from './program.ts';

export interface OpenOptions {
  /**
   * libbpf pin_root_path: maps declared with __uint(pinning, LIBBPF_PIN_BY_NAME) are reused if
   * pinned there (so a restarted agent keeps every flow), else pinned there on load. Created
   * when missing. Without pinDir nothing is pinned or reused.
   */
  pinDir?: string;
  /** bpf_map__set_max_entries before load. */
  maxEntries?: Record<string, number>;
  /** Program type overrides before load. */
  programTypes?: Record<string, 'xdp' | 'sched_cls'>;
  /** Kernel verifier log level for every program (1 = basic, 2 = verbose); 0 by default. */
  logLevel?: number;
  /**
   * Values of the object's `__kconfig` externs (libbpf's kconfig option), e.g.
   * `{ CONFIG_XLB_KERN_CTX: true }`; libbpf reads the system's Kconfig only for those not given.
   */
  kconfig?: Record<string, boolean>;
}

/** libbpf's kconfig text: one CONFIG_NAME=y|n line per value; a name not of that form is refused. */
export function kconfigText(values: Record<string, boolean>): string {
  return Object.entries(values)
    .map(([k, v]) => {
      if (!/^CONFIG_[A-Z0-9_]+$/.test(k)) throw new Error(`BpfObject.open: kconfig name '${k}' is not CONFIG_ followed by A-Z, 0-9, _`);
      return `${k}=${v ? 'y' : 'n'}\n`;
    })
    .join('');
}

export class BpfObject {
  readonly path: string;
  readonly #handle: NativeHandle;
  readonly #maps: Map<string, BpfMap>;
  readonly #programs: Map<string, BpfProgram>;
  #closed = false;

  private constructor(objPath: string, handle: NativeHandle, maps: BpfMap[], programs: BpfProgram[]) {
    this.path = objPath;
    this.#handle = handle;
    this.#maps = new Map(maps.map((m) => [m.name, m]));
    this.#programs = new Map(programs.map((p) => [p.name, p]));
  }

  /** Opens and loads the object. A verifier rejection is a BpfError with verifierLog. */
  static open(objPath: string, opts: OpenOptions = {}): BpfObject {
    if (!existsSync(objPath)) {
      throw new BpfError({
        op: 'open',
        target: objPath,
        errno: 'ENOENT',
        detail: 'no such file',
        hint: 'build the BPF objects first: ./xlb setup, or make -C bpf (objects land in build/bpf/)',
      });
    }
    if (opts.pinDir !== undefined) {
      try {
        mkdirSync(opts.pinDir, { recursive: true });
      } catch (e) {
        throw new BpfError({
          op: 'open',
          target: objPath,
          errno: (e as NodeJS.ErrnoException).code ?? 'EIO',
          detail: `cannot create pin directory ${opts.pinDir}`,
          hint: 'pin directories must be inside a mounted bpffs (mount -t bpf bpf /sys/fs/bpf)',
        });
      }
    }
    const me = Object.entries(opts.maxEntries ?? {});
    const pt = Object.entries(opts.programTypes ?? {});
    let r: ReturnType<ReturnType<typeof native>['objOpen']>;
    try {
      r = native().objOpen(
        objPath,
        opts.pinDir ?? null,
        opts.logLevel ?? 0,
        me.map(([k]) => k),
        me.map(([, v]) => v),
        pt.map(([k]) => k),
        pt.map(([, v]) => v),
        opts.kconfig === undefined ? null : kconfigText(opts.kconfig),
      );
    } catch (e) {
      throw nameFailingMap(fromNative(e, (errno) => openHint(errno, opts)));
    }
    // Maps and programs keep the native handle alive: a caller may keep only a map.
    const maps = r.maps.map((d) => new BpfMap(d, false, r.handle));
    const programs = r.programs.map((d) => new BpfProgram(d, r.handle));
    return new BpfObject(objPath, r.handle, maps, programs);
  }

  #live(op: string, target: string): void {
    if (this.#closed) throw new BpfError({ op, target, errno: 'EBADF', detail: `object ${this.path} is closed` });
  }

  map(name: string): BpfMap {
    this.#live('find map', name);
    const m = this.#maps.get(name);
    if (m === undefined) {
      throw new BpfError({
        op: 'find map',
        target: name,
        errno: 'ENOENT',
        detail: `${this.path} has no map '${name}'; its maps are: ${[...this.#maps.keys()].join(', ')}`,
      });
    }
    return m;
  }

  program(name: string): BpfProgram {
    this.#live('find program', name);
    const p = this.#programs.get(name);
    if (p === undefined) {
      throw new BpfError({
        op: 'find program',
        target: name,
        errno: 'ENOENT',
        detail: `${this.path} has no program '${name}'; its programs are: ${[...this.#programs.keys()].join(', ')}`,
      });
    }
    return p;
  }

  /**
   * Fills a prog_array for tail calls: slot → program name (of this object). Slots mapped to
   * null are cleared. Equivalent to map.update(u32(slot), u32(program.fd)) for each slot.
   */
  setTailCalls(progArray: string, slots: Record<number, string | null>): void {
    const m = this.map(progArray);
    if (m.type !== 'prog_array') {
      throw new BpfError({
        op: 'set tail calls',
        target: progArray,
        errno: 'EINVAL',
        detail: `map '${progArray}' is a ${m.type} map, not a prog_array`,
      });
    }
    for (const [slotText, progName] of Object.entries(slots)) {
      const slot = Number(slotText);
      if (!Number.isInteger(slot) || slot < 0 || slot >= m.maxEntries) {
        throw new BpfError({
          op: 'set tail calls',
          target: progArray,
          errno: 'EINVAL',
          detail: `slot ${slotText} is outside 0..${m.maxEntries - 1}`,
        });
      }
      const key = Buffer.alloc(4);
      key.writeUInt32LE(slot);
      if (progName === null) {
        m.delete(key);
        continue;
      }
      const fd = Buffer.alloc(4);
      fd.writeUInt32LE(this.program(progName).fd);
      m.update(key, fd);
    }
  }

  maps(): BpfMap[] {
    return [...this.#maps.values()];
  }

  programs(): BpfProgram[] {
    return [...this.#programs.values()];
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes every fd of the object (maps, programs). Attached programs stay attached; pinned maps stay pinned. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.#maps.values()) m.markClosed();
    for (const p of this.#programs.values()) p.markClosed();
    native().objClose(this.#handle);
  }
}

/** A load that failed on a map (not a program) names the map in the error's target. */
function nameFailingMap(e: unknown): unknown {
  if (!(e instanceof BpfError) || e.op !== 'load' || e.target.includes('(program ')) return e;
  const m = /map '([^']+)': (?:error reusing pinned map|failed to create|failed to pin)/.exec(e.detail ?? '');
  if (m === null) return e;
  const init: BpfErrorInit = { op: e.op, target: `${e.target} (map ${m[1]})`, errno: e.errno };
  if (e.detail !== undefined) init.detail = e.detail;
  if (e.hint !== undefined) init.hint = e.hint;
  return new BpfError(init);
}

function openHint(errno: string, opts: OpenOptions): string | undefined {
  switch (errno) {
    case 'EACCES':
    case 'EPERM':
      return 'the verifier rejected a program (see verifierLog), or the process lacks CAP_BPF/root';
    case 'EINVAL':
      return opts.pinDir !== undefined
        ? `a map pinned in ${opts.pinDir} may not match the object's definition (type, key/value size, max_entries): unpin it or use another pin directory`
        : undefined;
    case 'ENOENT':
      return undefined;
    default:
      return undefined;
  }
}
