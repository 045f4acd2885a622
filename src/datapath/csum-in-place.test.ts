// The TC object's in-place L4 checksum (bpf/include/hook.h, hook_csum_in_place) is switched by
// the libbpf kconfig value CONFIG_XLB_KERN_CTX: with it off the verifier prunes the
// bpf_cast_to_kern_ctx branch (what a 6.1 kernel gets), with it on the branch is loaded, and the
// loader turns it on exactly when the kernel's BTF has the kfunc. Root: it loads BPF programs.
// (That the in-place update gives the right bytes is the prog suite's checksum checks and
// scenarios/checksum/offload-off.ts on the lab; CHECKSUM_COMPLETE keeping the helpers is
// csum-complete.test.ts.)
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { execa } from 'execa';
import { BpfObject } from '../bpf/index.ts';
import type { BpfProgram } from '../bpf/index.ts';
import { probeKernelFeatures } from './kernel-features.ts';
import { loadDatapath, objectPathFor } from './loader.ts';

async function xlated(prog: BpfProgram): Promise<number> {
  const { stdout } = await execa('bpftool', ['prog', 'show', 'id', String(prog.info().id), '--json']);
  return (JSON.parse(stdout) as { bytes_xlated: number }).bytes_xlated / 8;
}

async function sizesWith(kernCtx: boolean): Promise<number> {
  const obj = BpfObject.open(objectPathFor('tc'), { kconfig: { CONFIG_XLB_KERN_CTX: kernCtx } });
  try {
    return await xlated(obj.program('xlb_tc_main'));
  } finally {
    obj.close();
  }
}

test('tc: CONFIG_XLB_KERN_CTX loads the in-place checksum branch, and the loader sets it from the kernel BTF', async (t) => {
  const have = probeKernelFeatures().have.cast_to_kern_ctx;
  const off = await sizesWith(false);
  if (!have) {
    t.throws(
      () => BpfObject.open(objectPathFor('tc'), { kconfig: { CONFIG_XLB_KERN_CTX: true } }),
      undefined,
      'no kfunc: the branch cannot load',
    );
    return;
  }
  const on = await sizesWith(true);
  t.true(on > off, `the branch is loaded with the value on (${on} xlated insns) and pruned with it off (${off})`);
  const pinDir = `/sys/fs/bpf/xlb/test-${randomBytes(4).toString('hex')}`;
  try {
    const dp = loadDatapath({ hook: 'tc', pinDir, ctEntries: 1024, maxServices: 8 });
    try {
      t.is(await xlated(dp.main), on, 'the loader turned it on on this kernel (it has bpf_cast_to_kern_ctx)');
    } finally {
      dp.close();
    }
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
  }
});
