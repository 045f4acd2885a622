// Import boundaries, checked by `xlb test` (step `boundaries`): dependency-cruiser resolves every
// import of src/, lab/, bench/ and scenarios/ to a file and refuses the ones below. Each rule
// says why it exists; `npx depcruise -c .dependency-cruiser.cjs src lab bench scenarios` runs it.
// There is no baseline of known violations: every one fails the step. An exception is written
// into its rule, with the reason.
/** Tests and what only tests may use. */
const TEST = '(\\.test\\.ts|\\.fixture\\.ts|/test-support\\.ts)$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'controller-is-pure',
      comment:
        'The controller computes desired state and programs the Datapath interface; it knows no agent, no kernel datapath, no BPF (src/controller/datapath.ts is the seam).',
      severity: 'error',
      from: { path: '^src/controller/', pathNot: TEST },
      to: { path: '^src/(agent|datapath|bpf)/' },
    },
    {
      name: 'src-needs-no-lab',
      comment:
        'lab/ builds on src/, not the other way round: production code and the harness import nothing from lab/ (tests may). Topology declarations, the traffic client logic and the slow-machine knob, which sim and lab share, live in src/.',
      severity: 'error',
      // Two exceptions. src/cli.ts is the composition root: it dispatches to every command, lab's
      // included. src/harness/lab-world.ts is the harness's lab backend (DESIGN: src/harness
      // holds the three backends), the one place the harness drives real namespaces, agent and
      // captures, so it imports lab/; backends.ts loads it only for --backend lab.
      from: { path: '^src/', pathNot: [TEST, '^src/cli\\.ts$', '^src/harness/lab-world\\.ts$'] },
      to: { path: '^lab/' },
    },
    {
      name: 'no-test-helpers-in-production',
      comment:
        'Test support (a test-support.ts beside the tests that use it) stays out of what ships. A helper that shipping code uses is not test support: it gets a name that says what it is (memory-datapath.ts, scratch-netns.ts, prog-run.ts).',
      severity: 'error',
      from: { path: '^(src|lab|bench)/', pathNot: TEST },
      to: { path: TEST },
    },
    {
      name: 'harness-reaches-kernel-through-datapath',
      comment:
        'The harness drives the kernel only through src/datapath (the packet interface, the loader) and src/bpf; never the addon or its build directly.',
      severity: 'error',
      from: { path: '^src/harness/', pathNot: TEST },
      to: { path: '(^src/bpf/native/|\\.node$)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^node_modules|^dist|^build)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
