// A running lab: bring-up, one-shot commands and long-running processes inside nodes, and a
// cleanup that runs on close(), on SIGINT/SIGTERM and (best effort, synchronously) on exit.
//
//   const lab = await Lab.up('two-arm', { params: { backends: 3 } });
//   try {
//     await lab.exec('c1', 'ping', ['-c1', '198.18.2.11']);
//     const agent = await lab.spawn('lb', 'node', [...], { ready: /listening/ });
//   } finally {
//     await lab.close();
//   }
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../src/root.ts';
import { builtinTopology } from '../src/topology/builtins.ts';
import type { BuiltinParams } from '../src/topology/builtins.ts';
import { renderDiagram } from './diagram.ts';
import { LAB_ENV, NETNS_DIR, PIN_ROOT, newRunId, pinPrefix } from '../src/topology/naming.ts';
import { planUp, stepScript } from './plan.ts';
import { isAlive, processStartTime } from './procs.ts';
import { slow } from '../src/slow.ts';
import { checkLabName, listStates, readState, removeState, writeState } from './state.ts';
import type { LabState, TrackedProcess } from './state.ts';
import { allNetns, findIface, findNode, resolveTopology } from '../src/topology/topology.ts';
import type { ResolvedIface, ResolvedNode, ResolvedTopology, TopologySpec } from '../src/topology/topology.ts';

export interface LabUpOptions {
  /** Lab name (state file name); default `xlb-<id>`. */
  name?: string;
  /** Parameters of a built-in topology. */
  params?: Partial<BuiltinParams>;
  /** Where captures and logs go; default $TMPDIR/xlb-<id>. */
  runDir?: string;
  /** Leave the lab up when this process exits (`xlb lab up`): no owner, no exit hooks. */
  detached?: boolean;
  /**
   * Install SIGINT/SIGTERM/SIGHUP handlers that close every open lab and exit (default true).
   * A program with its own signal handling passes false and calls closeAllLabs() itself; the
   * synchronous cleanup on process exit stays in place either way.
   */
  signalHooks?: boolean;
}

export interface ExecOptions {
  input?: string | Uint8Array;
  /** Throw on a non-zero exit (default true). */
  reject?: boolean;
  timeoutMs?: number;
  env?: Record<string, string>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  /** Resolve only once stdout or stderr matches (e.g. /listening/). */
  ready?: RegExp;
  readyTimeoutMs?: number;
  env?: Record<string, string>;
  /** Keep stdin open as a pipe (default: ignored). */
  stdin?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

/** A long-running process inside a node, killed (with its process group) on lab close. */
export interface LabProcess {
  readonly pid: number;
  readonly node: string;
  readonly command: string;
  readonly exited: Promise<ExitInfo>;
  /** stdout and stderr so far (the last 1 MiB of each). */
  stdout(): string;
  stderr(): string;
  /** Write to stdin (when spawned with stdin: true). */
  write(data: string | Uint8Array): void;
  /** A signal to the process group (default SIGINT). */
  signal(sig?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after timeoutMs; resolves when it has exited. */
  stop(timeoutMs?: number): Promise<ExitInfo>;
  /** Lets this process (xlb) exit while the child runs on (`xlb lab up --servers`). */
  detach(): void;
}

const OUTPUT_CAP = 1 << 20;

const openLabs = new Set<Lab>();
let hooksInstalled = false;

function onSignal(sig: NodeJS.Signals): void {
  const code = sig === 'SIGINT' ? 130 : 143;
  process.stderr.write(`\nxlb lab: ${sig}: removing ${openLabs.size} lab(s)…\n`);
  void Promise.allSettled([...openLabs].map((l) => l.close())).finally(() => process.exit(code));
}

function onExit(): void {
  for (const lab of openLabs) lab.closeSync();
}

let signalsInstalled = false;

function installHooks(signals: boolean): void {
  if (!hooksInstalled) {
    hooksInstalled = true;
    process.on('exit', onExit);
  }
  if (signals && !signalsInstalled) {
    signalsInstalled = true;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
  }
}

function removeHooks(): void {
  if (openLabs.size > 0) return;
  if (hooksInstalled) process.off('exit', onExit);
  if (signalsInstalled) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
  hooksInstalled = false;
  signalsInstalled = false;
}

/** Closes every lab this process owns (for programs that handle signals themselves). */
export async function closeAllLabs(): Promise<void> {
  await Promise.allSettled([...openLabs].map((l) => l.close()));
}

function netnsFile(netns: string): string {
  return path.join(NETNS_DIR, netns);
}

/** Removes the bpffs pins of a run (`/sys/fs/bpf/xlb/<id>*`). */
export function removePins(id: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(PIN_ROOT);
  } catch {
    return;
  }
  for (const e of entries) if (e.startsWith(id)) rmSync(path.join(PIN_ROOT, e), { recursive: true, force: true });
}

function idInUse(id: string): boolean {
  let names: string[] = [];
  try {
    names = readdirSync(NETNS_DIR);
  } catch {
    // no /run/netns yet: no namespace at all
  }
  return names.some((n) => n.startsWith(`xlb-${id}-`)) || listStates().states.some((s) => s.id === id);
}

/** Deletes namespaces with one `ip -batch` (missing ones are ignored). */
export async function deleteNetns(names: string[]): Promise<void> {
  if (names.length === 0) return;
  const r = await execa('ip', ['-force', '-batch', '-'], { input: names.map((n) => `netns del ${n}`).join('\n'), reject: false });
  const missing = /No such file|Cannot remove namespace file/;
  const bad = (r.stderr ?? '').split('\n').filter((l) => l.trim() !== '' && !missing.test(l) && !/^Command failed/.test(l));
  if (bad.length > 0) throw new Error(`could not delete namespaces: ${bad.join('; ')}`);
}

export class Lab {
  readonly id: string;
  readonly name: string;
  readonly topology: ResolvedTopology;
  readonly runDir: string;
  readonly detached: boolean;
  #state: LabState;
  #procs = new Map<number, { proc: LabProcess; tracked: TrackedProcess }>();
  #closing: Promise<void> | undefined;
  #closed = false;
  #released = false;

  private constructor(state: LabState, detached: boolean) {
    this.id = state.id;
    this.name = state.name;
    this.topology = state.topology;
    this.runDir = state.runDir;
    this.detached = detached;
    this.#state = state;
  }

  /** Builds a lab from a built-in name or a declaration, and brings it up. */
  static async up(topology: string | TopologySpec, opts: LabUpOptions = {}): Promise<Lab> {
    const spec = typeof topology === 'string' ? builtinTopology(topology, opts.params) : topology;
    // Never reuse an id that names something on this machine (close() deletes by name).
    let id = newRunId();
    while (idInUse(id)) id = newRunId();
    const name = opts.name ?? `xlb-${id}`;
    checkLabName(name);
    const existing = readState(name);
    if (existing !== undefined) {
      throw new Error(
        `a lab named '${name}' already exists (id ${existing.id}): take it down first with 'xlb lab down --name ${name}', or pick another --name`,
      );
    }
    const resolved = resolveTopology(spec, id);
    const runDir = opts.runDir ?? path.join(os.tmpdir(), `xlb-${id}`);
    mkdirSync(runDir, { recursive: true });
    const detached = opts.detached === true;
    const start = processStartTime(process.pid) ?? '';
    const state: LabState = {
      version: 1,
      name,
      id,
      topology: resolved,
      owner: detached ? null : { pid: process.pid, start },
      createdAt: new Date().toISOString(),
      status: 'creating',
      processes: [],
      runDir,
    };
    // The state file exists before anything else, so a crash at any point leaves a trace.
    writeState(state);
    const lab = new Lab(state, detached);
    // Cleaned up on Ctrl-C even while coming up; a detached lab is let go once it is up.
    openLabs.add(lab);
    installHooks(opts.signalHooks !== false);
    try {
      await lab.#bringUp();
    } catch (e) {
      await lab.close().catch(() => undefined);
      throw new Error(`lab '${name}' (${spec.name}) failed to come up and was removed: ${(e as Error).message}`);
    }
    state.status = 'up';
    writeState(state);
    if (detached) {
      openLabs.delete(lab);
      removeHooks();
    }
    return lab;
  }

  /** A handle on a lab created by another process (for exec/spawn/ls); it does not own it. */
  static attach(name: string): Lab {
    const s = readState(name);
    if (s === undefined) throw new Error(`no lab named '${name}' (see 'xlb lab ls')`);
    return new Lab(s, true);
  }

  async #bringUp(): Promise<void> {
    const plan = planUp(this.topology);
    const host = await execa('ip', ['-batch', '-'], { input: plan.hostBatch.join('\n'), reject: false });
    if (host.exitCode !== 0) throw new Error(`ip -batch (namespaces, veth pairs): ${host.stderr.trim()}`);
    await Promise.all(
      plan.steps.map(async (step) => {
        const r = await execa('nsenter', [`--net=${netnsFile(step.netns)}`, '--', 'sh', '-ec', stepScript(step)], {
          input: step.ipBatch.join('\n'),
          reject: false,
        });
        if (r.exitCode !== 0) throw new Error(`setting up ${step.netns}: ${(r.stderr || r.stdout).trim()}`);
      }),
    );
    await this.#waitOperUp();
  }

  /**
   * Waits until every veth end is operationally up and every bridge port forwards. The kernel
   * activates a device's qdisc and enables a bridge port from its linkwatch work, shortly after
   * the peer's carrier comes on; until then the first frames (an ARP request, a SYN) are lost.
   * (A bridge device's own operstate lags up to a second behind and does not matter: forwarding
   * does not pass through its queue.)
   */
  async #waitOperUp(timeoutMs = slow(5000)): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const veths = new Map<string, Set<string>>();
    for (const l of this.topology.links) {
      for (const end of [l.a, l.b]) {
        const set = veths.get(end.netns) ?? new Set<string>();
        set.add(end.ifname);
        veths.set(end.netns, set);
      }
    }
    const switches = new Set(this.topology.switches.map((s) => s.netns));
    let pending = [...veths.keys()];
    let last: string[] = [];
    while (pending.length > 0) {
      const notReady = await Promise.all(
        pending.map(async (ns) => {
          const want = veths.get(ns) ?? new Set<string>();
          const r = await execa('ip', ['-n', ns, '-j', 'link', 'show'], { reject: false });
          const links = JSON.parse(r.stdout || '[]') as { ifname: string; operstate: string }[];
          const bad = links.filter((l) => want.has(l.ifname) && l.operstate !== 'UP').map((l) => `${ns}/${l.ifname} ${l.operstate}`);
          if (switches.has(ns)) {
            const b = await execa('bridge', ['-n', ns, '-j', 'link', 'show'], { reject: false });
            const ports = JSON.parse(b.stdout || '[]') as { ifname: string; state?: string }[];
            for (const p of ports) if (want.has(p.ifname) && p.state !== 'forwarding') bad.push(`${ns}/${p.ifname} port ${p.state ?? '?'}`);
          }
          return bad;
        }),
      );
      last = notReady.flat();
      pending = pending.filter((_, i) => (notReady[i] ?? []).length > 0);
      if (pending.length === 0) return;
      if (Date.now() > deadline) throw new Error(`interfaces still not ready after ${timeoutMs} ms: ${last.join(', ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The bpffs directory for pins of this run (`/sys/fs/bpf/xlb/<id>`); removed on close. */
  pinDir(suffix?: string): string {
    return suffix === undefined ? pinPrefix(this.id) : `${pinPrefix(this.id)}-${suffix}`;
  }

  node(name: string): ResolvedNode {
    return findNode(this.topology, name);
  }

  /** The interface of a node on a segment ("clients", "backends", "lan"), or its first one. */
  iface(node: string, segment?: string): ResolvedIface {
    return findIface(this.topology, node, segment);
  }

  /** Namespace of a node or switch (s1, s2…). */
  netns(node: string): string {
    const sw = this.topology.switches.find((s) => s.name === node);
    if (sw !== undefined && !this.topology.nodes.some((n) => n.name === node)) return sw.netns;
    return this.node(node).netns;
  }

  /** `nsenter` arguments that enter only the node's network namespace (bpffs pins stay visible). */
  nsenterArgs(node: string): string[] {
    return [`--net=${netnsFile(this.netns(node))}`, '--'];
  }

  diagram(): string {
    return renderDiagram(this.topology, this.name);
  }

  /** Runs a command to completion inside a node's network namespace. */
  async exec(node: string, cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs === undefined ? undefined : slow(opts.timeoutMs);
    const r = await execa('nsenter', [...this.nsenterArgs(node), cmd, ...args], {
      reject: false,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}),
      env: { [LAB_ENV]: this.id, ...opts.env },
      stripFinalNewline: false,
    });
    const res: ExecResult = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
    if (r.timedOut) throw new Error(`${this.name}/${node}: '${cmd} ${args.join(' ')}' did not finish within ${timeoutMs} ms`);
    if (opts.reject !== false && res.exitCode !== 0) {
      throw new Error(
        `${this.name}/${node}: '${cmd} ${args.join(' ')}' exited with ${res.exitCode}: ${(res.stderr || res.stdout).trim() || '(no output)'}`,
      );
    }
    return res;
  }

  /** Starts a long-running process inside a node's network namespace, tracked until close. */
  async spawn(node: string, cmd: string, args: string[] = [], opts: SpawnOptions = {}): Promise<LabProcess> {
    if (this.#closed || this.#closing !== undefined) throw new Error(`lab ${this.name} is closed: cannot start '${cmd}'`);
    const command = [cmd, ...args].join(' ');
    const child = execa('nsenter', [...this.nsenterArgs(node), cmd, ...args], {
      buffer: false,
      reject: false,
      stdin: opts.stdin === true ? 'pipe' : 'ignore',
      // Its own process group: killed as a group, and a terminal's Ctrl-C reaches only us.
      detached: true,
      env: { [LAB_ENV]: this.id, ...opts.env },
    });
    const pid = child.pid;
    if (pid === undefined) {
      const r = await child;
      throw new Error(`${this.name}/${node}: could not start '${command}': ${String(r.message ?? 'spawn failed')}`);
    }
    let out = '';
    let err = '';
    const waiters: (() => void)[] = [];
    const append = (which: 'out' | 'err', chunk: Buffer): void => {
      if (which === 'out') out = (out + chunk.toString()).slice(-OUTPUT_CAP);
      else err = (err + chunk.toString()).slice(-OUTPUT_CAP);
      for (const w of waiters.splice(0)) w();
    };
    child.stdout?.on('data', (c: Buffer) => append('out', c));
    child.stderr?.on('data', (c: Buffer) => append('err', c));
    const exited: Promise<ExitInfo> = child.then((r) => ({ code: r.exitCode ?? null, signal: r.signal ?? null }));
    let done = false;
    void exited.then(() => {
      done = true;
      for (const w of waiters.splice(0)) w();
    });
    const signalGroup = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-pid, sig);
      } catch {
        // already gone
      }
    };
    const proc: LabProcess = {
      pid,
      node,
      command,
      exited,
      stdout: () => out,
      stderr: () => err,
      write: (data) => {
        if (child.stdin === null) throw new Error(`'${command}' was spawned without stdin: pass { stdin: true }`);
        child.stdin.write(data);
      },
      signal: (sig = 'SIGINT') => signalGroup(sig),
      stop: async (timeoutMs = 2000) => {
        if (!done) {
          signalGroup('SIGTERM');
          const t = setTimeout(() => signalGroup('SIGKILL'), timeoutMs);
          await exited;
          clearTimeout(t);
        }
        // Anything left in the group (children that ignored SIGTERM).
        signalGroup('SIGKILL');
        return exited;
      },
      detach: () => {
        child.unref();
        (child.stdout as { unref?: () => void } | null)?.unref?.();
        (child.stderr as { unref?: () => void } | null)?.unref?.();
      },
    };
    const tracked: TrackedProcess = { pid, start: processStartTime(pid) ?? '', node, command };
    this.#procs.set(pid, { proc, tracked });
    this.#state.processes.push(tracked);
    writeState(this.#state);
    void exited.then(() => {
      this.#procs.delete(pid);
      // A released lab's state file belongs to whoever removes it (`xlb lab down` kills these
      // processes, and writing the file then would bring it back).
      if (!this.#closed && this.#closing === undefined && !this.#released) {
        this.#state.processes = this.#state.processes.filter((p) => p.pid !== pid);
        writeState(this.#state);
      }
    });
    if (opts.ready !== undefined) {
      const re = opts.ready;
      const timeoutMs = slow(opts.readyTimeoutMs ?? 10_000);
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out) && !re.test(err)) {
        if (done) {
          throw new Error(
            `${this.name}/${node}: '${command}' exited before it was ready: ${(err || out).trim().slice(-2000) || '(no output)'}`,
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          await proc.stop(500);
          throw new Error(
            `${this.name}/${node}: '${command}' did not print ${String(re)} within ${timeoutMs} ms; output: ${(err + out).trim().slice(-2000) || '(none)'}`,
          );
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    }
    return proc;
  }

  /** Checksum offload (tx) of a node's interface, switched at run time (`ethtool -K IF tx on|off`). */
  async setOffload(node: string, segment: string | undefined, on: boolean): Promise<void> {
    const i = this.iface(node, segment);
    await this.exec(node, 'ethtool', ['-K', i.ifname, 'tx', on ? 'on' : 'off']);
    i.offload = on;
  }

  /**
   * Turns GRO on (or off) on every veth of the lab: node interfaces and switch ports. An
   * XDP_REDIRECT into a veth is delivered only when the receiving peer runs an XDP program or
   * has GRO on (the veth's NAPI path); without either the frame is dropped. Lab runs of the
   * XDP hook call this, since the LB's peers (nodes, or switch ports when a segment has more
   * than two members) run no XDP program. A real NIC needs neither.
   */
  async setGro(on: boolean): Promise<void> {
    const value = on ? 'on' : 'off';
    const jobs: Promise<unknown>[] = [];
    for (const n of this.topology.nodes) {
      for (const i of n.ifaces) jobs.push(this.exec(n.name, 'ethtool', ['-K', i.ifname, 'gro', value]));
    }
    for (const sw of this.topology.switches) {
      for (const port of sw.ports) {
        jobs.push(execa('nsenter', [`--net=${netnsFile(sw.netns)}`, '--', 'ethtool', '-K', port, 'gro', value]));
      }
    }
    await Promise.all(jobs);
  }

  /**
   * Runs the lab's pass-through XDP program (build/bpf/lab_peer.bpf.o) on the far end of every
   * veth of `node` (a switch port, or the other node's interface on a two-member segment). A
   * frame the datapath returns XDP_TX for on a veth is delivered only when the peer runs XDP
   * itself: the veth driver kicks the peer's NAPI for XDP_TX only then (GRO, which setGro turns
   * on, is enough for XDP_REDIRECT but not for XDP_TX). See bpf/lab_peer.bpf.c. Removed with
   * the namespaces; idempotent (`ip link set … xdp` replaces the program).
   */
  async attachPeerXdp(node: string): Promise<void> {
    const n = findNode(this.topology, node);
    const obj = path.join(ROOT, 'build', 'bpf', 'lab_peer.bpf.o');
    const jobs: Promise<unknown>[] = [];
    for (const i of n.ifaces) {
      const link = this.topology.links.find(
        (l) => (l.a.netns === n.netns && l.a.ifname === i.ifname) || (l.b.netns === n.netns && l.b.ifname === i.ifname),
      );
      if (link === undefined) throw new Error(`lab ${this.name}: no veth pair holds ${node}'s ${i.ifname}`);
      const peer = link.a.netns === n.netns && link.a.ifname === i.ifname ? link.b : link.a;
      jobs.push(
        execa('nsenter', [
          `--net=${netnsFile(peer.netns)}`,
          '--',
          'ip',
          'link',
          'set',
          'dev',
          peer.ifname,
          'xdp',
          'obj',
          obj,
          'sec',
          'xdp',
        ]).catch((e: unknown) => {
          throw new Error(
            `lab ${this.name}: could not attach ${obj} to ${peer.ifname} (the peer of ${node}'s ${i.ifname}): ${e instanceof Error ? e.message : String(e)}. Build it with ./scripts/build.sh bpf`,
          );
        }),
      );
    }
    await Promise.all(jobs);
  }

  /**
   * Lets the lab outlive this process (a run kept for a person to look at): its processes are
   * let go (they run on), the state file gets no owner, and neither close-on-exit nor the signal
   * handlers touch it any more. `xlb lab down --name NAME` removes it, processes included.
   */
  release(): void {
    if (this.#closed || this.#closing !== undefined) throw new Error(`lab ${this.name} is closed: nothing to keep`);
    for (const { proc } of this.#procs.values()) proc.detach();
    this.#released = true;
    this.#state.owner = null;
    writeState(this.#state);
    openLabs.delete(this);
    removeHooks();
  }

  /** Processes started by this handle that are still running. */
  processes(): LabProcess[] {
    return [...this.#procs.values()].map((p) => p.proc);
  }

  /** Stops every process, deletes every namespace, the pins and the state file. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state.status = 'closing';
    try {
      writeState(this.#state);
    } catch {
      // state dir gone: keep cleaning
    }
    // Processes this handle started, then any other tracked ones (from the state file).
    await Promise.all([...this.#procs.values()].map(({ proc }) => proc.stop(1000)));
    for (const p of this.#state.processes) {
      if (isAlive(p.pid, p.start)) {
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          try {
            process.kill(p.pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
    }
    await deleteNetns(allNetns(this.topology));
    removePins(this.id);
    removeState(this.name);
    this.#closed = true;
    openLabs.delete(this);
    removeHooks();
  }

  /** Synchronous best-effort cleanup for process exit (no awaiting possible there). */
  closeSync(): void {
    if (this.#closed) return;
    for (const p of [...this.#procs.values()].map((x) => x.tracked).concat(this.#state.processes)) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      execFileSync('ip', ['-force', '-batch', '-'], {
        input: allNetns(this.topology)
          .map((n) => `netns del ${n}`)
          .join('\n'),
        stdio: ['pipe', 'ignore', 'ignore'],
      });
    } catch {
      // best effort; `xlb lab down --stale` finishes the job
    }
    removePins(this.id);
    removeState(this.name);
    this.#closed = true;
    openLabs.delete(this);
  }
}
