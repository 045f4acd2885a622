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
import { parseArgs } from 'node:util';
import { describe } from '../src/packet/index.ts';
import { BUILTINS } from './builtins.ts';
import { Capture } from './capture.ts';
import type { CapturePoint } from './capture.ts';
import type { BuiltinParams } from './builtins.ts';
import { renderDiagram } from './diagram.ts';
import { Lab } from './lab.ts';
import { topologyFromArg } from './load.ts';
import { listStates, ownerIsDead } from './state.ts';
import { labNetnsNames, sweep } from './sweep.ts';
import { backendNodes, startServers } from './traffic/tools.ts';
import { SERVER_PORTS } from './traffic/ports.ts';
import { resolveTopology } from './topology.ts';
import { timeUpDown } from './updown-bench.ts';

const USAGE = `usage:
  xlb lab up [TOPOLOGY|FILE] [--name N] [--clients N] [--backends N] [--no-ipv6]
             [--offload on|off] [--static-neighbours] [--mtu N] [--servers] [--json]
  xlb lab down (--name N… | --id ID… | --stale | --all) [--dry-run]
  xlb lab ls [--json]
  xlb lab exec [--name N] NODE -- CMD [ARGS…]
  xlb lab show [TOPOLOGY|FILE] [parameters as for up]
  xlb lab topologies
  xlb lab bench [TOPOLOGY|FILE] [parameters as for up] [--runs N]
  xlb lab capture [--name N] [--seconds S] [--dir DIR] [--filter EXPR] [NODE[:SEGMENT]]…

TOPOLOGY is a built-in (${Object.keys(BUILTINS).join(', ')}; default two-arm) or a .yaml/.json file.
--servers starts the lab server on every backend (HTTP ${SERVER_PORTS.http}, TCP ${SERVER_PORTS.tcp}, UDP ${SERVER_PORTS.udp}).
down --stale removes labs whose owning process died; --all removes every lab and xlb-* leftover.`;

class UsageError extends Error {}

function params(values: Record<string, string | boolean | (string | boolean)[] | undefined>): Partial<BuiltinParams> {
  const p: Partial<BuiltinParams> = {};
  const int = (k: string): number | undefined => {
    const v = values[k];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new UsageError(`--${k} ${String(v)}: give an integer`);
    return n;
  };
  const c = int('clients');
  if (c !== undefined) p.clients = c;
  const b = int('backends');
  if (b !== undefined) p.backends = b;
  const m = int('mtu');
  if (m !== undefined) p.mtu = m;
  if (values['no-ipv6'] === true) p.ipv6 = false;
  if (values['static-neighbours'] === true) p.staticNeighbours = true;
  const off = values.offload;
  if (off !== undefined) {
    if (off !== 'on' && off !== 'off') throw new UsageError(`--offload ${String(off)}: give on or off`);
    p.offload = off === 'on';
  }
  return p;
}

const TOPO_OPTIONS = {
  name: { type: 'string' },
  clients: { type: 'string' },
  backends: { type: 'string' },
  mtu: { type: 'string' },
  'no-ipv6': { type: 'boolean' },
  'static-neighbours': { type: 'boolean' },
  offload: { type: 'string' },
  servers: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

async function up(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: TOPO_OPTIONS, allowPositionals: true });
  if (positionals.length > 1) throw new UsageError(`one topology at a time (got ${positionals.join(' ')})`);
  const spec = topologyFromArg(positionals[0] ?? 'two-arm', params(values));
  const t0 = performance.now();
  const lab = await Lab.up(spec, { detached: true, ...(values.name !== undefined ? { name: values.name } : {}) });
  const ms = performance.now() - t0;
  try {
    if (values.servers === true) for (const p of await startServers(lab, backendNodes(lab))) p.detach();
  } catch (e) {
    await lab.close();
    throw e;
  }
  if (values.json === true) {
    console.log(JSON.stringify({ name: lab.name, id: lab.id, runDir: lab.runDir, pinDir: lab.pinDir(), upMs: Math.round(ms), topology: lab.topology }));
  } else {
    console.log(lab.diagram());
    console.log(`\nup in ${ms.toFixed(0)} ms. Try: xlb lab exec --name ${lab.name} c1 -- ping -c1 198.18.1.1`);
    console.log(`remove with: xlb lab down --name ${lab.name}`);
  }
  return 0;
}

async function down(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string', multiple: true },
      id: { type: 'string', multiple: true },
      all: { type: 'boolean' },
      stale: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (values.all !== true && values.stale !== true && values.name === undefined && values.id === undefined) {
    throw new UsageError('say which labs: --name N, --id ID, --stale (owner process dead) or --all');
  }
  const r = await sweep({
    all: values.all === true,
    stale: values.stale === true,
    ...(values.name !== undefined ? { names: values.name } : {}),
    ...(values.id !== undefined ? { ids: values.id } : {}),
    dryRun: values['dry-run'] === true,
  });
  if (values.json === true) console.log(JSON.stringify(r));
  else if (values['dry-run'] === true) {
    console.log(`would remove: labs ${r.labs.join(' ') || '-'}; namespaces ${r.namespaces.join(' ') || '-'}; host links ${r.links.join(' ') || '-'}; processes ${r.processes.join(' ') || '-'}`);
  } else {
    console.log(`removed ${r.labs.length} lab(s)${r.labs.length > 0 ? ` (${r.labs.join(', ')})` : ''}, ${r.namespaces.length} namespace(s), ${r.links.length} host link(s), ${r.processes.length} process(es)`);
  }
  if (r.survivors.length > 0) {
    console.error(`xlb lab down: processes ${r.survivors.join(', ')} survived SIGKILL (uninterruptible?); check 'ps -o pid,stat,cmd -p ${r.survivors.join(',')}'`);
    return 1;
  }
  return 0;
}

function ls(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } } });
  const { states, broken } = listStates();
  const known = new Set(states.map((s) => s.id));
  const orphans = [...new Set(labNetnsNames().map((n) => n.split('-')[1] ?? '').filter((id) => !known.has(id)))];
  if (values.json === true) {
    console.log(JSON.stringify({ labs: states.map((s) => ({ ...s, stale: ownerIsDead(s) })), orphanIds: orphans, broken }));
    return 0;
  }
  if (states.length === 0) console.log('no labs');
  for (const s of states) {
    const owner = s.owner === null ? 'detached' : `pid ${s.owner.pid}${ownerIsDead(s) ? ' (dead: xlb lab down --stale)' : ''}`;
    console.log(`${s.name.padEnd(20)} id ${s.id}  ${s.topology.spec.name.padEnd(8)} ${String(s.topology.nodes.length).padStart(3)} nodes  ${s.status.padEnd(8)} ${String(s.processes.length).padStart(3)} procs  owner ${owner}  since ${s.createdAt}`);
  }
  if (orphans.length > 0) console.log(`namespaces without a state file (crashed runs?): ids ${orphans.join(', ')} — xlb lab down --id ID or --all`);
  for (const b of broken) console.log(`unreadable state file: ${b}`);
  return 0;
}

function onlyLab(name: string | undefined): string {
  if (name !== undefined) return name;
  const { states } = listStates();
  if (states.length !== 1) throw new UsageError(`${states.length} labs exist: say which with --name (${states.map((s) => s.name).join(', ') || 'none'})`);
  return states[0]?.name ?? '';
}

/** Captures a running lab's links until --seconds pass or Ctrl-C, then lists what it saw. */
async function capture(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { name: { type: 'string' }, seconds: { type: 'string' }, dir: { type: 'string' }, filter: { type: 'string' }, quiet: { type: 'boolean' } },
    allowPositionals: true,
  });
  const lab = Lab.attach(onlyLab(values.name));
  const points: CapturePoint[] = positionals.map((p) => {
    const [node = '', segment] = p.split(':');
    return segment === undefined ? { node } : { node, segment };
  });
  const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
  if (seconds !== undefined && !(seconds > 0 && seconds <= 86_400)) throw new UsageError(`--seconds ${values.seconds ?? ''}: give a number of seconds up to 86400`);
  const cap = await Capture.start(lab, {
    ...(points.length > 0 ? { points } : {}),
    ...(values.dir !== undefined ? { dir: values.dir } : {}),
    ...(values.filter !== undefined ? { filter: values.filter } : {}),
  });
  console.error(`capturing ${cap.files.map((f) => `${f.node}:${f.segment}`).join(' ')} into ${cap.dir} — ${seconds !== undefined ? `${seconds} s` : 'Ctrl-C to stop'}`);
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
    if (values.quiet === true) continue;
    for (const p of await cap.packets(s.node, s.segment)) console.log(`  ${describe(p.frame, { link: true })}`);
  }
  return 0;
}

function exec(argv: string[]): number {
  const dash = argv.indexOf('--');
  if (dash < 0) throw new UsageError('exec needs -- before the command: xlb lab exec [--name N] NODE -- CMD [ARGS…]');
  const { values, positionals } = parseArgs({ args: argv.slice(0, dash), options: { name: { type: 'string' } }, allowPositionals: true });
  const cmd = argv.slice(dash + 1);
  const node = positionals[0];
  if (node === undefined || positionals.length > 1 || cmd.length === 0) throw new UsageError('xlb lab exec [--name N] NODE -- CMD [ARGS…]');
  const lab = Lab.attach(onlyLab(values.name));
  // Interactive: inherit the terminal (a shell in a node works).
  const r = spawnSync('nsenter', [...lab.nsenterArgs(node), ...cmd], { stdio: 'inherit', env: { ...process.env, XLB_LAB_ID: lab.id } });
  if (r.error !== undefined) throw new Error(`could not run nsenter: ${r.error.message}`);
  return r.status ?? 1;
}

function show(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, options: TOPO_OPTIONS, allowPositionals: true });
  const spec = topologyFromArg(positionals[0] ?? 'two-arm', params(values));
  const t = resolveTopology(spec, 'xxxxx');
  console.log(values.json === true ? JSON.stringify(spec, null, 2) : renderDiagram(t, values.name ?? '(not up)'));
  return 0;
}

async function bench(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { ...TOPO_OPTIONS, runs: { type: 'string' } }, allowPositionals: true });
  const runs = Number(values.runs ?? 10);
  if (!Number.isInteger(runs) || runs < 1 || runs > 1000) throw new UsageError(`--runs ${values.runs ?? ''}: give an integer 1-1000`);
  const spec = topologyFromArg(positionals[0] ?? 'two-arm', params(values));
  const r = await timeUpDown(spec, runs);
  if (values.json === true) console.log(JSON.stringify(r));
  else {
    const f = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(' ');
    console.log(`${spec.name} (${spec.nodes.length} nodes), ${runs} runs`);
    console.log(`up   median ${r.upMedianMs.toFixed(1)} ms   [${f(r.upMs)}]`);
    console.log(`down median ${r.downMedianMs.toFixed(1)} ms   [${f(r.downMs)}]`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'up':
        return await up(rest);
      case 'down':
        return await down(rest);
      case 'ls':
        return ls(rest);
      case 'exec':
        return exec(rest);
      case 'show':
        return show(rest);
      case 'bench':
        return await bench(rest);
      case 'capture':
        return await capture(rest);
      case 'topologies':
        for (const b of Object.values(BUILTINS)) console.log(`${b.name.padEnd(8)} ${b.summary}`);
        return 0;
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        console.log(USAGE);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown subcommand '${sub}'`);
    }
  } catch (e) {
    const usage = e instanceof UsageError || (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true;
    console.error(`xlb lab: ${(e as Error).message}${usage ? `\n\n${USAGE}` : ''}`);
    return usage ? 2 : 1;
  }
}
