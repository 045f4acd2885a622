// Builds the two entry objects with a deliberate fault switched on (-DXLB_FAULT_<NAME>, see the
// #ifndef XLB_FAULT_… points in bpf/include) into a folder of their own, for the harness's
// self-test: a suite that passes on such an object does not test what it claims to.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../root.ts';

/**
 * `fault` is the name after XLB_FAULT_ ('NAT_L4_PSEUDO'); returns the folder holding xlb_tc.bpf.o
 * and xlb_xdp.bpf.o (only those of `hooks` when given: the mutation run on one hook builds one).
 */
export async function buildFaultyObjects(fault: string, dir: string, hooks: readonly ('tc' | 'xdp')[] = ['tc', 'xdp']): Promise<string> {
  if (!/^[A-Z0-9_]+$/.test(fault)) throw new Error(`fault '${fault}': give the name after XLB_FAULT_ in upper case, e.g. NAT_L4_PSEUDO`);
  mkdirSync(dir, { recursive: true });
  const objs = hooks.map((h) => path.join(dir, `xlb_${h}.bpf.o`));
  const r = await execa('make', ['-s', '-C', path.join(ROOT, 'bpf'), `OUT=${dir}`, `EXTRA_CFLAGS=-DXLB_FAULT_${fault}`, ...objs], {
    reject: false,
    all: true,
  });
  if (r.exitCode !== 0 || !objs.every((o) => existsSync(o)))
    throw new Error(`building the objects with XLB_FAULT_${fault} failed:\n${r.all ?? ''}`);
  return dir;
}
