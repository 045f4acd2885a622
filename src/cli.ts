// The `xlb` command: a thin dispatcher. Each subcommand lives in its own module, exporting
// `main(argv)`, and is imported only when called so that `xlb doctor` works before anything is
// built and a broken module never breaks an unrelated command.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

export interface CommandModule {
  main(argv: string[]): Promise<number>;
}

interface CommandEntry {
  /** Module path relative to the repository root. */
  module: string;
  summary: string;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every command of the contract in DESIGN.md, and where it is implemented. */
const COMMANDS: Record<string, CommandEntry> = {
  doctor: { module: 'src/doctor.ts', summary: 'kernel features, tools, bpffs, privileges, usable backends' },
  test: { module: 'src/devtools/test-command.ts', summary: 'build, typecheck, lint, unit tests and scenario suites' },
  demo: { module: 'src/demo.ts', summary: 'the main job: the agent balancing real traffic in the default lab' },
  run: { module: 'src/harness/cli.ts', summary: 'run conformance scenarios (TAP; reports in --report DIR)' },
  lab: { module: 'lab/cli.ts', summary: 'lab up|down|ls|exec: network-namespace topologies' },
  agent: { module: 'src/agent/cli.ts', summary: 'the production daemon: datapath, REST API, metrics' },
  lb: { module: 'src/agent/client-cli.ts', summary: 'add, list and remove services through the agent API' },
  ct: { module: 'src/agent/client-cli.ts', summary: 'list the conntrack table through the agent API' },
  stats: { module: 'src/agent/client-cli.ts', summary: 'datapath counters through the agent API' },
  pcap: { module: 'src/packet/cli.ts', summary: 'decode pcaps: per-packet lines, checksum verdicts' },
  bench: { module: 'bench/cli.ts', summary: 'the performance suite' },
  scenario: { module: 'src/harness/from-pcap-cli.ts', summary: 'scenario from-pcap FILE: a field bug to a scenario skeleton' },
  vm: { module: 'src/devtools/vm-cli.ts', summary: 'vm run --kernel SPEC -- CMD: run under another kernel (qemu)' },
};

function available(): [string, CommandEntry][] {
  return Object.entries(COMMANDS).filter(([, e]) => existsSync(path.join(ROOT, e.module)));
}

function usage(): string {
  const lines = ['usage: xlb COMMAND [options]', '', 'commands:'];
  lines.push(`  ${'setup'.padEnd(10)} install packages, mount bpffs, build (root)`);
  for (const [name, e] of available()) lines.push(`  ${name.padEnd(10)} ${e.summary}`);
  lines.push('', "'xlb COMMAND --help' for a command's options.");
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    console.error(`xlb: unknown command '${name}'.\n\n${usage()}`);
    return 2;
  }
  const file = path.join(ROOT, entry.module);
  if (!existsSync(file)) {
    console.error(`xlb: '${name}' is not part of this build yet (${entry.module} does not exist).`);
    return 2;
  }
  const mod = (await import(pathToFileURL(file).href)) as CommandModule;
  // Pass the command name for modules that serve several commands (lb, ct, stats).
  return mod.main(entry.module === 'src/agent/client-cli.ts' ? [name, ...rest] : rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`xlb: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);
