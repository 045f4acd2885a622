// Shared by the binding's tests: test object paths, unique run ids, pin directories that are
// removed afterwards.
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../root.ts';

export { ROOT };

/** build/bpf/test/NAME.bpf.o; throws a clear error when it was not built. */
export function testObject(name: string): string {
  const p = path.join(ROOT, 'build', 'bpf', 'test', `${name}.bpf.o`);
  if (!existsSync(p)) throw new Error(`${p} is missing: build it with 'make -C bpf' (or ./xlb test, which builds first)`);
  return p;
}

export function runId(): string {
  return randomBytes(4).toString('hex');
}

/** A fresh pin directory /sys/fs/bpf/xlb/test-<id> and its remover (recursive, idempotent). */
export function testPinDir(): { dir: string; remove(): void } {
  const dir = `/sys/fs/bpf/xlb/test-${runId()}`;
  return {
    dir,
    remove(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
