// Opens the World of a backend, importing its implementation only when it is used: `sim` loads
// no BPF code at all (it runs as any user), `prog` and `lab` need root and the built objects.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { BackendName, World, WorldOptions } from './world.ts';
import { ROOT } from '../root.ts';

/** Why a backend cannot run on this machine now, or undefined when it can. */
export function backendUnavailable(backend: BackendName): string | undefined {
  if (backend === 'sim') return undefined;
  const what = backend === 'prog' ? 'BPF_PROG_TEST_RUN' : 'network namespaces and attaching BPF programs';
  if (process.getuid?.() !== 0) return `${backend} needs root (${what}): run as root, or use --backend sim`;
  for (const obj of ['build/bpf/xlb_tc.bpf.o', 'build/bpf/xlb_xdp.bpf.o', 'src/bpf/native/build/Release/xlb_bpf.node']) {
    if (!existsSync(path.join(ROOT, obj))) return `${backend} needs ${obj}: run ./xlb setup (it builds the BPF objects and the addon)`;
  }
  return undefined;
}

export async function openWorld(opts: WorldOptions): Promise<World> {
  switch (opts.backend) {
    case 'sim': {
      const [{ createVirtualWorld }, { openModelDatapath }] = await Promise.all([
        import('./virtual-world.ts'),
        import('../model/index.ts'),
      ]);
      // The scenario's seed also seeds the model's `random` algorithm.
      return createVirtualWorld(opts, (o) => openModelDatapath({ ...o, seed: opts.seed }));
    }
    case 'prog': {
      const [{ createVirtualWorld }, { openProgDatapath }, { openPooledProgDatapath, progReuseEnabled }] = await Promise.all([
        import('./virtual-world.ts'),
        import('../datapath/prog-datapath.ts'),
        import('./prog-pool.ts'),
      ]);
      // One load per hook, object and map sizes for the whole run, every map put back between results (prog-pool.ts).
      return createVirtualWorld(opts, progReuseEnabled() ? openPooledProgDatapath : openProgDatapath);
    }
    case 'lab': {
      const [{ createLabWorld }, { labReuseEnabled, openPooledLabWorld }] = await Promise.all([
        import('./lab-world.ts'),
        import('./lab-pool.ts'),
      ]);
      // One World per topology and hook for the whole run, reset between results (lab-pool.ts).
      return labReuseEnabled() ? openPooledLabWorld(opts, createLabWorld) : createLabWorld(opts);
    }
  }
}
