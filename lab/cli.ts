// `xlb lab …`: bring topologies up and down from the shell.
//
//   xlb lab up [TOPOLOGY|FILE] [--name N] [--clients N] [--backends N] [--no-ipv6]
//              [--offload on|off] [--static-neighbours] [--mtu N] [--servers] [--json]
//   xlb lab down (--name N… | --id ID… | --stale | --all) [--dry-run]
//   xlb lab ls [--json]
//   xlb lab exec [--name N] NODE -- CMD [ARGS…]
//   xlb lab show [TOPOLOGY|FILE] [same parameters as up]     (diagram only, creates nothing)
//   xlb lab topologies
//   xlb lab bench [TOPOLOGY|FILE] [parameters as for up] [--runs N]   (up/down times, median)
//   xlb lab capture [--name N] [--seconds S] [--dir DIR] [--filter EXPR] [NODE[:SEGMENT]]…
import { spawnSync } from 'node:child_process';
import {
  act,
  command,
  InvalidArgumentError,
  integer,
  jsonOption,
  Option,
  printJson,
  repeat,
  runCommand,
  sub,
  UsageError,
} from '../src/cli-kit.ts';
import type { Command } from '../src/cli-kit.ts';
import { describe } from '../src/packet/index.ts';
import { BUILTINS } from '../src/topology/builtins.ts';
import { Capture } from './capture.ts';
import type { CapturePoint } from './capture.ts';
import type { BuiltinParams } from '../src/topology/builtins.ts';
import { renderDiagram } from './diagram.ts';
import { Lab } from './lab.ts';
import { topologyFromArg } from './load.ts';
import { listStates, ownerIsDead } from './state.ts';
import { labNetnsNames, sweep } from './sweep.ts';
import { backendNodes, startServers } from './traffic/tools.ts';
import { SERVER_PORTS } from './traffic/ports.ts';
import { resolveTopology } from '../src/topology/topology.ts';
import { timeUpDown } from './updown-bench.ts';

const TOPOLOGY_HELP = `TOPOLOGY is a built-in (${Object.keys(BUILTINS).join(', ')}; default two-arm) or a .yaml/.json file.`;

interface TopoOpts {
  name?: string;
  clients?: number;
  backends?: number;
  mtu?: number;
  ipv6?: boolean;
  staticNeighbours?: boolean;
  offload?: 'on' | 'off';
  servers?: boolean;
  json?: boolean;
}

/** The topology parameters `up`, `show` and `bench` take. */
function topoOptions(c: Command): Command {
  return c
    .argument('[topology]', TOPOLOGY_HELP, 'two-arm')
    .option('--name <name>', 'the lab name (default: generated)')
    .option('--clients <n>', 'client nodes', integer(0, 64))
    .option('--backends <n>', 'backend nodes', integer(0, 64))
    .option('--mtu <n>', 'MTU of every link', integer(68, 65535))
    .option('--no-ipv6', 'IPv4 only')
    .option('--static-neighbours', 'static neighbour entries instead of ARP/ND')
    .addOption(new Option('--offload <on|off>', 'tx checksum offload on the veths').choices(['on', 'off']))
    .addOption(jsonOption());
}

function params(o: TopoOpts): Partial<BuiltinParams> {
  const p: Partial<BuiltinParams> = {};
  if (o.clients !== undefined) p.clients = o.clients;
  if (o.backends !== undefined) p.backends = o.backends;
  if (o.mtu !== undefined) p.mtu = o.mtu;
  if (o.ipv6 === false) p.ipv6 = false;
  if (o.staticNeighbours === true) p.staticNeighbours = true;
  if (o.offload !== undefined) p.offload = o.offload === 'on';
  return p;
}

async function up(topology: string, o: TopoOpts): Promise<number> {
  const spec = topologyFromArg(topology, params(o));
  const t0 = performance.now();
  const lab = await Lab.up(spec, { detached: true, ...(o.name !== undefined ? { name: o.name } : {}) });
  const ms = performance.now() - t0;
  try {
    if (o.servers === true) for (const p of await startServers(lab, backendNodes(lab))) p.detach();
  } catch (e) {
    await lab.close();
    throw e;
  }
  if (o.json === true) {
    printJson({ name: lab.name, id: lab.id, runDir: lab.runDir, pinDir: lab.pinDir(), upMs: Math.round(ms), topology: lab.topology });
  } else {
    console.log(lab.diagram());
    console.log(`\nup in ${ms.toFixed(0)} ms. Try: xlb lab exec --name ${lab.name} c1 -- ping -c1 198.18.1.1`);
    console.log(`remove with: xlb lab down --name ${lab.name}`);
  }
  return 0;
}

interface DownOpts {
  name?: string[];
  id?: string[];
  all?: boolean;
  stale?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

async function down(o: DownOpts): Promise<number> {
  if (o.all !== true && o.stale !== true && o.name === undefined && o.id === undefined) {
    throw new UsageError('say which labs: --name N, --id ID, --stale (owner process dead) or --all');
  }
  const r = await sweep({
    all: o.all === true,
    stale: o.stale === true,
    ...(o.name !== undefined ? { names: o.name } : {}),
    ...(o.id !== undefined ? { ids: o.id } : {}),
    dryRun: o.dryRun === true,
  });
  if (o.json === true) printJson(r);
  else if (o.dryRun === true) {
    console.log(
      `would remove: labs ${r.labs.join(' ') || '-'}; namespaces ${r.namespaces.join(' ') || '-'}; host links ${r.links.join(' ') || '-'}; processes ${r.processes.join(' ') || '-'}`,
    );
  } else {
    console.log(
      `removed ${r.labs.length} lab(s)${r.labs.length > 0 ? ` (${r.labs.join(', ')})` : ''}, ${r.namespaces.length} namespace(s), ${r.links.length} host link(s), ${r.processes.length} process(es)`,
    );
  }
  if (r.survivors.length > 0) {
    console.error(
      `xlb lab down: processes ${r.survivors.join(', ')} survived SIGKILL (uninterruptible?); check 'ps -o pid,stat,cmd -p ${r.survivors.join(',')}'`,
    );
    return 1;
  }
  return 0;
}

function ls(json: boolean): number {
  const { states, broken } = listStates();
  const known = new Set(states.map((s) => s.id));
  const orphans = [
    ...new Set(
      labNetnsNames()
        .map((n) => n.split('-')[1] ?? '')
        .filter((id) => !known.has(id)),
    ),
  ];
  if (json) {
    printJson({ labs: states.map((s) => ({ ...s, stale: ownerIsDead(s) })), orphanIds: orphans, broken });
    return 0;
  }
  if (states.length === 0) console.log('no labs');
  for (const s of states) {
    const owner = s.owner === null ? 'detached' : `pid ${s.owner.pid}${ownerIsDead(s) ? ' (dead: xlb lab down --stale)' : ''}`;
    console.log(
      `${s.name.padEnd(20)} id ${s.id}  ${s.topology.spec.name.padEnd(8)} ${String(s.topology.nodes.length).padStart(3)} nodes  ${s.status.padEnd(8)} ${String(s.processes.length).padStart(3)} procs  owner ${owner}  since ${s.createdAt}`,
    );
  }
  if (orphans.length > 0)
    console.log(`namespaces without a state file (crashed runs?): ids ${orphans.join(', ')} — xlb lab down --id ID or --all`);
  for (const b of broken) console.log(`unreadable state file: ${b}`);
  return 0;
}

function onlyLab(name: string | undefined): string {
  if (name !== undefined) return name;
  const { states } = listStates();
  if (states.length !== 1)
    throw new UsageError(`${states.length} labs exist: say which with --name (${states.map((s) => s.name).join(', ') || 'none'})`);
  return states[0]?.name ?? '';
}

interface CaptureOpts {
  name?: string;
  seconds?: number;
  dir?: string;
  filter?: string;
  quiet?: boolean;
}

/** Captures a running lab's links until --seconds pass or Ctrl-C, then lists what it saw. */
async function capture(pointArgs: string[], o: CaptureOpts): Promise<number> {
  const lab = Lab.attach(onlyLab(o.name));
  const points: CapturePoint[] = pointArgs.map((p) => {
    const [node = '', segment] = p.split(':');
    return segment === undefined ? { node } : { node, segment };
  });
  const seconds = o.seconds;
  const cap = await Capture.start(lab, {
    ...(points.length > 0 ? { points } : {}),
    ...(o.dir !== undefined ? { dir: o.dir } : {}),
    ...(o.filter !== undefined ? { filter: o.filter } : {}),
  });
  console.error(
    `capturing ${cap.files.map((f) => `${f.node}:${f.segment}`).join(' ')} into ${cap.dir} — ${seconds !== undefined ? `${seconds} s` : 'Ctrl-C to stop'}`,
  );
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (seconds !== undefined) setTimeout(done, seconds * 1000).unref();
  });
  const stats = await cap.stop(50);
  for (const s of stats) {
    console.log(`${s.path}  ${s.captured} packets${s.droppedByKernel > 0 ? `, ${s.droppedByKernel} DROPPED by the kernel` : ''}`);
    if (o.quiet === true) continue;
    for (const p of await cap.packets(s.node, s.segment)) console.log(`  ${describe(p.frame, { link: true })}`);
  }
  return 0;
}

function exec(node: string, argv: string[], name: string | undefined): number {
  // After NODE every argument is passed through, the `--` that may separate the command too.
  const cmd = argv[0] === '--' ? argv.slice(1) : argv;
  if (cmd.length === 0) throw new UsageError('no command: xlb lab exec [--name N] NODE -- CMD [ARGS…]');
  const lab = Lab.attach(onlyLab(name));
  // Interactive: inherit the terminal (a shell in a node works).
  const r = spawnSync('nsenter', [...lab.nsenterArgs(node), ...cmd], { stdio: 'inherit', env: { ...process.env, XLB_LAB_ID: lab.id } });
  if (r.error !== undefined) throw new Error(`could not run nsenter: ${r.error.message}`);
  return r.status ?? 1;
}

function show(topology: string, o: TopoOpts): number {
  const spec = topologyFromArg(topology, params(o));
  const t = resolveTopology(spec, 'xxxxx');
  if (o.json === true) printJson(spec);
  else console.log(renderDiagram(t, o.name ?? '(not up)'));
  return 0;
}

async function bench(topology: string, o: TopoOpts & { runs: number }): Promise<number> {
  const spec = topologyFromArg(topology, params(o));
  const r = await timeUpDown(spec, o.runs);
  if (o.json === true) printJson(r);
  else {
    const f = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(' ');
    console.log(`${spec.name} (${spec.nodes.length} nodes), ${o.runs} runs`);
    console.log(`up   median ${r.upMedianMs.toFixed(1)} ms   [${f(r.upMs)}]`);
    console.log(`down median ${r.downMedianMs.toFixed(1)} ms   [${f(r.downMs)}]`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const lab = command('lab', 'Network-namespace topologies: bring them up and down, look inside, capture.').enablePositionalOptions();
  const upCmd = topoOptions(sub(lab, 'up', 'Brings a topology up, detached (it outlives the command; xlb lab down removes it).')).option(
    '--servers',
    `start the lab server on every backend (HTTP ${SERVER_PORTS.http}, TCP ${SERVER_PORTS.tcp}, UDP ${SERVER_PORTS.udp})`,
  );
  act(upCmd, () => up(upCmd.processedArgs[0] as string, upCmd.opts<TopoOpts>()));
  const downCmd = sub(lab, 'down', 'Removes labs: their namespaces, host links, processes and pins.')
    .option('--name <name>', 'the lab of this name; repeatable', repeat)
    .option('--id <id>', 'the lab of this run id; repeatable', repeat)
    .option('--stale', 'labs whose owning process died')
    .option('--all', 'every lab and every xlb-* leftover')
    .option('--dry-run', 'say what would be removed, remove nothing')
    .addOption(jsonOption());
  act(downCmd, () => down(downCmd.opts<DownOpts>()));
  const lsCmd = sub(lab, 'ls', 'Lists the labs (and namespaces left without a state file).').addOption(jsonOption());
  act(lsCmd, () => ls(lsCmd.opts<{ json?: boolean }>().json === true));
  const execCmd = sub(lab, 'exec', "Runs CMD in NODE's namespaces (interactive; exit code: CMD's).")
    .option('--name <name>', 'the lab (default: the only one)')
    .argument('<node>', 'the node')
    .argument('[cmd...]', 'the command and its arguments (after --)')
    .passThroughOptions();
  act(execCmd, () =>
    exec(
      execCmd.processedArgs[0] as string,
      (execCmd.processedArgs[1] as string[] | undefined) ?? [],
      execCmd.opts<{ name?: string }>().name,
    ),
  );
  const showCmd = topoOptions(sub(lab, 'show', 'Prints the diagram of a topology; creates nothing.'));
  act(showCmd, () => show(showCmd.processedArgs[0] as string, showCmd.opts<TopoOpts>()));
  const topoCmd = sub(lab, 'topologies', 'Lists the built-in topologies.').addOption(jsonOption());
  act(topoCmd, () => {
    if (topoCmd.opts<{ json?: boolean }>().json === true)
      printJson(Object.values(BUILTINS).map((b) => ({ name: b.name, summary: b.summary })));
    else for (const b of Object.values(BUILTINS)) console.log(`${b.name.padEnd(8)} ${b.summary}`);
    return 0;
  });
  const benchCmd = topoOptions(sub(lab, 'bench', 'Times bring-up and teardown of a topology (median of --runs).')).addOption(
    new Option('--runs <n>', 'runs').argParser(integer(1, 1000)).default(10),
  );
  act(benchCmd, () => bench(benchCmd.processedArgs[0] as string, benchCmd.opts<TopoOpts & { runs: number }>()));
  const capCmd = sub(
    lab,
    'capture',
    "Captures a running lab's links (default: all) until --seconds pass or Ctrl-C, then lists the packets.",
  )
    .argument('[points...]', 'NODE or NODE:SEGMENT')
    .option('--name <name>', 'the lab (default: the only one)')
    .option('--seconds <s>', 'stop after S seconds (up to 86400)', (v: string) => {
      const n = Number(v);
      if (!(n > 0 && n <= 86_400)) throw new InvalidArgumentError(`'${v}' is not a number of seconds up to 86400.`);
      return n;
    })
    .option('--dir <dir>', 'where the pcaps go')
    .option('--filter <expr>', 'a tcpdump filter')
    .option('--quiet', 'the counts only, not every packet');
  act(capCmd, () => capture((capCmd.processedArgs[0] as string[] | undefined) ?? [], capCmd.opts<CaptureOpts>()));
  return runCommand(lab, argv);
}
