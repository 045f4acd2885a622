// The `xlb` command: a thin dispatcher. Each subcommand lives in its own module, exporting
// `main(argv)` (argv: the arguments after the command's name), and is imported only when called:
// `xlb --help` loads this file and commander, nothing else, and a broken module never breaks an
// unrelated command. Each module parses its own arguments with the same kit (src/cli-kit.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXIT, command, reportError, runProgram } from './cli-kit.ts';
import { ROOT } from './root.ts';

export interface CommandModule {
  main(argv: string[]): Promise<number>;
}

interface CommandEntry {
  load: () => Promise<CommandModule>;
  summary: string;
  /** The module serves several commands and takes the command's name as argv[0] (lb, ct, stats). */
  withName?: boolean;
}

// The import() specifiers are literals so that the build rewrites them to dist/'s .js files.
const COMMANDS: Record<string, CommandEntry> = {
  doctor: { load: () => import('./doctor.ts'), summary: 'kernel features, tools, bpffs, privileges, usable backends' },
  test: {
    load: () => import('./devtools/test-command.ts'),
    summary: 'build, typecheck, lint, format, boundaries, unit tests and scenario suites',
  },
  demo: { load: () => import('../lab/demo.ts'), summary: 'the main job: the agent balancing real traffic in the default lab' },
  run: { load: () => import('./harness/cli.ts'), summary: 'run conformance scenarios (TAP; reports in --report DIR)' },
  lab: { load: () => import('../lab/cli.ts'), summary: 'lab up|down|ls|exec|show|capture: network-namespace topologies' },
  agent: { load: () => import('./agent/cli.ts'), summary: 'the production daemon: datapath, REST API, metrics' },
  lb: { load: () => import('./agent/client-cli.ts'), summary: 'add, list and remove services through the agent API', withName: true },
  ct: { load: () => import('./agent/client-cli.ts'), summary: 'list the conntrack table through the agent API', withName: true },
  stats: { load: () => import('./agent/client-cli.ts'), summary: 'datapath counters through the agent API', withName: true },
  pcap: { load: () => import('./packet/cli.ts'), summary: 'decode pcaps: per-packet lines, checksum verdicts' },
  bench: { load: () => import('../bench/cli.ts'), summary: 'the performance suites (start-up, binding, datapath, control, lab)' },
  scenario: { load: () => import('./harness/from-pcap-cli.ts'), summary: 'scenario from-pcap|shrink: a field capture to a scenario' },
  vm: { load: () => import('./devtools/vm-cli.ts'), summary: 'vm run --kernel SPEC -- CMD: run under another kernel (qemu)' },
};

function version(): string {
  return (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // `xlb help CMD` is `xlb CMD --help`.
  if (name === 'help' && rest[0] !== undefined && COMMANDS[rest[0]] !== undefined) return main([rest[0], '--help']);
  const entry = name === undefined ? undefined : COMMANDS[name];
  if (name !== undefined && entry !== undefined) {
    let mod: CommandModule;
    try {
      mod = await entry.load();
    } catch (e) {
      return reportError(`xlb ${name}`, e);
    }
    return mod.main(entry.withName === true ? [name, ...rest] : rest);
  }
  const program = command('xlb', 'eBPF (TC + XDP) L4 load balancer, its agent, and a conformance lab.')
    .usage('COMMAND [options]')
    .version(`xlb ${version()}`, '-V, --version', 'print the version and do nothing else')
    .addHelpText('after', "\n'xlb COMMAND --help' for a command's options. Exit codes: 0 ok, 1 failure, 2 usage error.");
  program.command('setup').description('install packages, mount bpffs, build (root)');
  for (const [n, e] of Object.entries(COMMANDS)) program.command(n).description(e.summary);
  program.command('help [COMMAND]').description("a command's help (xlb COMMAND --help)");
  try {
    // Only reached without a known command: --help, --version, nothing, or an unknown command.
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version') return EXIT.ok;
    if (code?.startsWith('commander.') === true) return EXIT.usage;
    return reportError('xlb', e);
  }
  // `xlb help` alone, or `xlb setup` reaching here (the launcher runs setup itself).
  program.outputHelp();
  return name === 'help' ? EXIT.ok : EXIT.usage;
}

// Run only as the program (src/cli.ts under tsx, dist/src/cli.js compiled), not when a test imports main().
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runProgram('xlb', main);
}
