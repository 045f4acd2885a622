// BpfError: every failure of the binding, with the operation, the object/map/program name and
// the errno name, plus a hint saying what to do.
import { constants } from 'node:os';

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) {
  if (!errnoNames.has(num)) errnoNames.set(num, name);
}
// Kernel-internal codes that leak out of bpf() and are not in Node's table.
errnoNames.set(524, 'ENOTSUPP');
// libbpf's own codes (enum libbpf_errno).
const LIBBPF_ERRNOS = [
  'LIBELF',
  'FORMAT',
  'KVERSION',
  'ENDIAN',
  'INTERNAL',
  'RELOC',
  'LOAD',
  'VERIFY',
  'PROG2BIG',
  'KVER',
  'PROGTYPE',
  'WRNGPID',
  'INVSEQ',
  'NLPARSE',
];
LIBBPF_ERRNOS.forEach((n, i) => errnoNames.set(4000 + i, `LIBBPF_ERRNO__${n}`));

/** Errno number → name ("EPERM"); "E<number>" for unknown codes. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return errnoNames.get(n) ?? `E${n}`;
}

const descriptions: Record<string, string> = {
  EPERM: 'operation not permitted',
  EACCES: 'permission denied',
  ENOENT: 'no such entry',
  EEXIST: 'already exists',
  EINVAL: 'invalid argument',
  E2BIG: 'too big / map full',
  ENOSPC: 'no space left',
  EBUSY: 'busy',
  EBADF: 'bad file descriptor',
  ENODEV: 'no such device',
  ENOMEM: 'out of memory',
  EOPNOTSUPP: 'not supported',
  ENOTSUPP: 'not supported',
  ENOTDIR: 'not a directory',
  LIBBPF_ERRNO__LIBELF: 'libelf failure',
  LIBBPF_ERRNO__FORMAT: 'not a valid BPF object',
  LIBBPF_ERRNO__RELOC: 'relocation failed',
  LIBBPF_ERRNO__INTERNAL: 'libbpf internal error',
};

function defaultHint(op: string, errno: string): string | undefined {
  switch (errno) {
    case 'EPERM':
      return 'run as root (CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN for some operations)';
    case 'EBADF':
      return 'the fd is closed: was close() called on this object, map or program?';
    case 'E2BIG':
      return op.startsWith('update') ? 'the map is full: raise max_entries (open option maxEntries) or delete entries' : undefined;
    case 'LIBBPF_ERRNO__FORMAT':
    case 'LIBBPF_ERRNO__LIBELF':
      return 'pass a BPF ELF object built by bpf/Makefile (clang -target bpf -g)';
    case 'ENOTSUPP':
    case 'EOPNOTSUPP':
      return 'this kernel or map type does not support the operation';
    default:
      return undefined;
  }
}

export interface BpfErrorInit {
  op: string;
  target: string;
  errno: number | string;
  detail?: string;
  hint?: string;
  verifierLog?: string;
}

export class BpfError extends Error {
  /** What was attempted: "open", "load", "lookup", "attach xdp", … */
  readonly op: string;
  /** The object path, map or program name, interface, or pin path concerned. */
  readonly target: string;
  /** Errno name: "EPERM", "ENOENT", … */
  readonly errno: string;
  readonly errnoNumber: number;
  readonly detail?: string;
  /** What to do about it (also the last line of the message). */
  readonly hint?: string;
  /** For a failed load: the end of the verifier log (the useful part). */
  readonly verifierLog?: string;

  constructor(init: BpfErrorInit) {
    const errno = typeof init.errno === 'string' ? init.errno : errnoName(init.errno);
    const num = typeof init.errno === 'number' ? Math.abs(init.errno) : ((constants.errno as Record<string, number>)[errno] ?? 0);
    const hint = init.hint ?? defaultHint(init.op, errno);
    const parts = [`${init.op} ${init.target}: ${errno} (${descriptions[errno] ?? 'error'})`];
    if (init.detail !== undefined && init.detail !== '') parts.push(`: ${init.detail}`);
    if (init.verifierLog !== undefined) {
      const tail = init.verifierLog.trimEnd().split('\n').slice(-3).join('\n    ');
      parts.push(`\n  verifier log ends with:\n    ${tail}`);
    }
    if (hint !== undefined) parts.push(`\n  → ${hint}`);
    super(parts.join(''));
    this.name = 'BpfError';
    this.op = init.op;
    this.target = init.target;
    this.errno = errno;
    this.errnoNumber = num;
    if (init.detail !== undefined) this.detail = init.detail;
    if (hint !== undefined) this.hint = hint;
    if (init.verifierLog !== undefined) this.verifierLog = init.verifierLog;
  }
}

interface NativeErrorShape {
  op: string;
  target: string;
  errnoNumber: number;
  detail?: string;
  verifierLog?: string;
}

function isNativeError(e: unknown): e is Error & NativeErrorShape {
  return (
    e instanceof Error &&
    typeof (e as Partial<NativeErrorShape>).errnoNumber === 'number' &&
    typeof (e as Partial<NativeErrorShape>).op === 'string'
  );
}

/** Converts an error thrown by the addon into a BpfError (other errors pass through). */
export function fromNative(e: unknown, hint?: (errno: string) => string | undefined): unknown {
  if (!isNativeError(e)) return e;
  const name = errnoName(e.errnoNumber);
  const init: BpfErrorInit = { op: e.op, target: e.target, errno: e.errnoNumber };
  if (e.detail !== undefined) init.detail = tidyLibbpfLines(e.detail);
  if (e.verifierLog !== undefined) init.verifierLog = e.verifierLog;
  const h = hint?.(name);
  if (h !== undefined) init.hint = h;
  return new BpfError(init);
}

/** Throws a BpfError for a negative native return code; returns the code otherwise. */
export function check(rc: number, op: string, target: string, detail?: string, hint?: string): number {
  if (rc >= 0) return rc;
  const init: BpfErrorInit = { op, target, errno: rc };
  if (detail !== undefined) init.detail = detail;
  if (hint !== undefined) init.hint = hint;
  throw new BpfError(init);
}

/** libbpf's captured lines → one line: prefixes dropped, repeats removed. */
function tidyLibbpfLines(text: string): string {
  const lines = text
    .split('\n')
    .map((l) =>
      l
        .replace(/^(libbpf: )+/, '')
        .replace(/(prog '[^']+': )(libbpf: )?\1/, '$1')
        .trim(),
    )
    .filter((l) => l !== '');
  return [...new Set(lines)].join('; ');
}
