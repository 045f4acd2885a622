// Start-up benchmark: how long `xlb --help` takes to return and `xlb agent` takes to listen on
// its REST API (its "REST API listening" line: the socket accepts, /healthz answers "starting")
// and to be ready (its "agent ready" line: datapath open, config applied, API serving), each
// beside a bare `node -e 0` measured in the same run, rounds interleaved (so a busy machine
// slows all of them alike). Median of N rounds. The agent runs as in production
// (default map sizes, a fresh pin directory each round: the cost of a first start), with no
// interface and its API on a free loopback port; it is stopped with SIGTERM and its pins removed.
// Needs root for the agent (BPF).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../src/root.ts';

export interface StartupOptions {
  /** Rounds (each: node -e 0, xlb --help, xlb agent). Default 10. */
  rounds?: number;
  /** The launcher to measure; default this checkout's `xlb`. */
  xlb?: string;
}

export interface StartupResult {
  xlb: string;
  /** How the launcher ran the CLI: 'dist' (compiled) or why it ran the sources. */
  mode: string;
  rounds: number;
  nodeMs: number[];
  helpMs: number[];
  /** To the "REST API listening" line. */
  agentMs: number[];
  /** To the "agent ready" line (absent from a launcher whose agent does not print it). */
  readyMs: number[];
  nodeMedianMs: number;
  helpMedianMs: number;
  agentMedianMs: number;
  readyMedianMs: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** Wall time of a process from spawn to exit, in ms; throws when it fails. */
function timeExit(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${String(code)}: ${err.trim()}`));
    });
  });
}

/**
 * Wall time from spawning `xlb agent` to its "REST API listening" and "agent ready" log lines,
 * in ms. An agent from before the "agent ready" line listened when it was ready: both are that.
 */
async function timeAgent(xlb: string): Promise<{ listening: number; ready: number }> {
  const id = randomBytes(4).toString('hex');
  const dir = mkdtempSync(path.join(tmpdir(), `xlb-bench-startup-${id}-`));
  const pinDir = `/sys/fs/bpf/xlb/bench-startup-${id}`;
  try {
    return await new Promise((resolve, reject) => {
      const t0 = performance.now();
      const child = spawn(
        xlb,
        ['agent', '--config', path.join(dir, 'agent.yaml'), '--pin-dir', pinDir, '--api', '127.0.0.1:0', '--log-level', 'info'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      let listening: number | undefined;
      let ready: number | undefined;
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (listening === undefined && out.includes('REST API listening')) {
          listening = performance.now() - t0;
          // Waits for the ready line only from an agent that listens before it is ready.
          if (!out.includes('"ready":false')) ready = listening;
        }
        if (ready === undefined && out.includes('"msg":"agent ready"')) ready = performance.now() - t0;
        if (listening !== undefined && ready !== undefined && !child.killed) child.kill('SIGTERM');
      });
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (listening !== undefined && ready !== undefined) resolve({ listening, ready });
        else reject(new Error(`xlb agent exited ${String(code)} before it was ready:\n${out}${err}`));
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(pinDir, { recursive: true, force: true });
  }
}

/** What the launcher will run: asks it with XLB_DEBUG=1 (it says when it runs the sources). */
function launcherMode(xlb: string): string {
  const r = spawnSync(xlb, ['--version'], { env: { ...process.env, XLB_DEBUG: '1' }, encoding: 'utf8' });
  const m = /running the TypeScript sources: (.*)/.exec(r.stderr);
  if (m?.[1] !== undefined) return `sources through tsx (${m[1]})`;
  // A launcher from before dist/ existed says nothing: it always ran the sources.
  return existsSync(path.join(path.dirname(xlb), 'dist', 'src', 'cli.js')) ? 'dist' : 'sources through tsx (a launcher without dist/)';
}

export async function runStartupBench(o: StartupOptions = {}): Promise<StartupResult> {
  const rounds = o.rounds ?? 10;
  const xlb = o.xlb ?? path.join(ROOT, 'xlb');
  const mode = launcherMode(xlb);
  const nodeMs: number[] = [];
  const helpMs: number[] = [];
  const agentMs: number[] = [];
  const readyMs: number[] = [];
  // One warm-up round (page cache, the first BPF load), not counted.
  for (let i = -1; i < rounds; i++) {
    const n = await timeExit(process.execPath, ['-e', '0']);
    const h = await timeExit(xlb, ['--help']);
    const a = await timeAgent(xlb);
    if (i < 0) continue;
    nodeMs.push(n);
    helpMs.push(h);
    agentMs.push(a.listening);
    readyMs.push(a.ready);
  }
  return {
    xlb,
    mode,
    rounds,
    nodeMs,
    helpMs,
    agentMs,
    readyMs,
    nodeMedianMs: median(nodeMs),
    helpMedianMs: median(helpMs),
    agentMedianMs: median(agentMs),
    readyMedianMs: median(readyMs),
  };
}

export function formatStartup(r: StartupResult): string {
  const f = (x: number): string => `${x.toFixed(0)} ms`;
  const over = (x: number): string => `${f(x)}  (node -e 0 + ${f(x - r.nodeMedianMs)})`;
  return [
    `${r.xlb} (${r.mode}), median of ${r.rounds} rounds`,
    `  node -e 0                      ${f(r.nodeMedianMs)}`,
    `  xlb --help                     ${over(r.helpMedianMs)}   target <= 150 ms`,
    `  xlb agent to a listening API   ${over(r.agentMedianMs)}   target <= 300 ms`,
    `  xlb agent to ready             ${over(r.readyMedianMs)}   (datapath open, config applied, API serving)`,
  ].join('\n');
}
