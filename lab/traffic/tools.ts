// TypeScript handles on the lab's traffic tools: servers on backends, clients and raw frame
// injection on any node. The tools are real processes inside the nodes' namespaces (node + tsx
// for the TCP/HTTP/UDP ones, python3 AF_PACKET for injection), started through Lab.exec/spawn.
import path from 'node:path';
import type { Lab, LabProcess } from '../lab.ts';
import { VIP } from '../../src/topology/builtins.ts';
import { clientArgs } from './client-args.ts';
import { SERVER_PORTS, clientOptions } from '../../src/traffic/types.ts';
import type { ClientReport, ClientRequest } from '../../src/traffic/types.ts';
import { ROOT } from '../../src/root.ts';

// The tools run from their TypeScript sources (tsx), also when this module runs compiled.
const HERE = path.join(ROOT, 'lab', 'traffic');
const TSX_LOADER = `file://${path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')}`;

/** argv to run one of the TypeScript tools: node --import tsx FILE. */
export function toolCommand(file: 'server.ts' | 'client.ts', args: string[]): [string, string[]] {
  return [process.execPath, ['--import', TSX_LOADER, path.join(HERE, file), ...args]];
}

export interface ServerOptions {
  http?: number | false;
  tcp?: number | false;
  udp?: number | false;
  /** Extra UDP bind addresses; default: the first VIPs on nodes that hold VIPs on lo (DSR). */
  udpBind?: string[];
}

/** Starts the lab server (HTTP, TCP, UDP answering with the node name) on each given node. */
export async function startServers(lab: Lab, nodes: string[], opts: ServerOptions = {}): Promise<LabProcess[]> {
  return Promise.all(
    nodes.map((node) => {
      const args = ['--name', node];
      const http = opts.http ?? SERVER_PORTS.http;
      const tcp = opts.tcp ?? SERVER_PORTS.tcp;
      const udp = opts.udp ?? SERVER_PORTS.udp;
      if (http !== false) args.push('--http', String(http));
      if (tcp !== false) args.push('--tcp', String(tcp));
      if (udp !== false) args.push('--udp', String(udp));
      const n = lab.node(node);
      const udpBind =
        opts.udpBind ?? (n.localPrefixes.length > 0 ? n.localPrefixes.map((p) => (p.includes(':') ? VIP.ipv6 : VIP.ipv4)) : []);
      for (const a of udpBind) args.push('--udp-bind', a);
      const [cmd, argv] = toolCommand('server.ts', args);
      return lab.spawn(node, cmd, argv, { ready: /"event":"listening"/, readyTimeoutMs: 20_000 });
    }),
  );
}

/** The backend nodes of a lab (role 'backend'). */
export function backendNodes(lab: Lab): string[] {
  return lab.topology.nodes.filter((n) => n.role === 'backend').map((n) => n.name);
}

export type { ClientRequest } from '../../src/traffic/types.ts';
const fullOptions = clientOptions;

export interface ClientRunOptions {
  /**
   * Run the client on this CPU only (taskset). Its packets then enter the LB on that CPU, so
   * per-CPU datapath state (the rr/wrr cursor of xlb_rr) sees one sequence, as on one CPU.
   */
  cpu?: number;
}

function clientCommand(o: ReturnType<typeof fullOptions>, run: ClientRunOptions): [string, string[]] {
  const [cmd, argv] = toolCommand('client.ts', clientArgs(o));
  return run.cpu === undefined ? [cmd, argv] : ['taskset', ['-c', String(run.cpu), cmd, ...argv]];
}

/** Runs the client to completion inside `node` and returns its report. */
export async function runClient(lab: Lab, node: string, req: ClientRequest, run: ClientRunOptions = {}): Promise<ClientReport> {
  const o = fullOptions(req);
  if (o.waitStdin) throw new Error('runClient cannot drive --wait-stdin rounds: use startClient() and next()');
  const [cmd, argv] = clientCommand(o, run);
  const budget = o.count * (o.rounds * (o.timeoutMs + o.roundGapMs) + o.timeoutMs) + o.holdMs + 30_000;
  const r = await lab.exec(node, cmd, argv, { timeoutMs: budget });
  try {
    return JSON.parse(r.stdout) as ClientReport;
  } catch {
    throw new Error(`${lab.name}/${node}: the client printed no JSON report: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
  }
}

/** A client whose rounds a scenario triggers (e.g. change endpoints between rounds). */
export interface SteppedClient {
  process: LabProcess;
  /** Lets the next round start and resolves once it has finished. */
  next(): Promise<void>;
  /** Waits for the client to finish (after its last round and hold) and returns the report. */
  report(): Promise<ClientReport>;
}

export async function startClient(lab: Lab, node: string, req: ClientRequest, run: ClientRunOptions = {}): Promise<SteppedClient> {
  const o = fullOptions({ ...req, waitStdin: true });
  const [cmd, argv] = clientCommand(o, run);
  const proc = await lab.spawn(node, cmd, argv, { stdin: true });
  let round = 1;
  return {
    process: proc,
    next: async () => {
      round++;
      const want = `"round":${round}}`;
      proc.write('\n');
      const deadline = Date.now() + o.count * o.timeoutMs + 10_000;
      while (!proc.stderr().includes(want)) {
        if (Date.now() > deadline)
          throw new Error(`${lab.name}/${node}: client round ${round} did not finish: ${proc.stderr().slice(-1000)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    report: async () => {
      const exit = await proc.exited;
      try {
        return JSON.parse(proc.stdout()) as ClientReport;
      } catch {
        throw new Error(
          `${lab.name}/${node}: the client exited (${JSON.stringify(exit)}) without a JSON report: ${proc.stderr().slice(-2000)}`,
        );
      }
    },
  };
}

export interface InjectResult {
  sent: number;
  bytes: number;
}

/** Sends raw Ethernet frames out of `ifname` inside `node` (AF_PACKET). */
export async function injectFrames(
  lab: Lab,
  node: string,
  ifname: string,
  frames: Uint8Array[],
  opts: { intervalMs?: number } = {},
): Promise<InjectResult> {
  const args = [path.join(HERE, 'inject.py'), ifname];
  if (opts.intervalMs !== undefined) args.push('--interval-ms', String(opts.intervalMs));
  const input = frames.map((f) => Buffer.from(f).toString('hex')).join('\n') + '\n';
  // On CPU 0: a frame sent into a veth is received (and met by the LB's XDP/TC program) on the
  // sender's CPU, and the datapath keeps per-CPU state (round-robin cursors, flood windows). The
  // virtual backends run one CPU; pinning keeps a scenario's injected frames on one CPU here too,
  // so "the next endpoint" means the same on lab as on sim and prog.
  const r = await lab.exec(node, 'taskset', ['-c', '0', 'python3', ...args], {
    input,
    timeoutMs: 10_000 + frames.length * (opts.intervalMs ?? 0),
  });
  return JSON.parse(r.stdout) as InjectResult;
}
