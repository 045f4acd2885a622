// The real `xlb agent` as a lab process: spawned inside a node's network namespace with
// `nsenter --net` (Lab.spawn), so it sees the bpffs pins (`ip netns exec` would hide them), and
// returned once its REST API listens. Its API address is loopback inside that namespace, so it
// can never collide with another lab's agent nor be reached from outside the lab; callers talk
// to it through `xlb` or curl run in the same namespace (request(), xlb()).
// Used by `xlb demo`, the agent's lab test and the lab World (src/harness/lab-world.ts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExitInfo, Lab, LabProcess } from './lab.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The `xlb` launcher of this checkout. */
export const XLB = path.join(ROOT, 'xlb');
/** Loopback of the agent's namespace: the same port in every lab, since each has its own. */
export const AGENT_API = '127.0.0.1:9400';

export interface LabAgentOptions {
  /** Node whose namespace runs the agent; default 'lb'. */
  node?: string;
  /** Interfaces to attach to (names inside the node). */
  ifaces: string[];
  hook: 'tc' | 'xdp';
  /** bpffs directory of the maps; default lab.pinDir() (/sys/fs/bpf/xlb/<id>, removed on lab close). */
  pinDir?: string;
  /** The agent's config file; default <runDir>/agent.yaml. */
  config?: string;
  /** HOST:PORT inside the node; default AGENT_API. */
  api?: string;
  snatV4?: string;
  snatV6?: string;
  /** Load xlb_<hook>.bpf.o from this folder (another build) instead of build/bpf. */
  objectDir?: string;
  /** More `xlb agent` arguments (--ct-entries, --max-services, …). */
  extraArgs?: string[];
  readyTimeoutMs?: number;
}

export interface ApiResponse {
  status: number;
  /** The body as JSON, or undefined when empty or not JSON (text has it). */
  json: unknown;
  text: string;
}

export interface LabAgent {
  readonly process: LabProcess;
  readonly node: string;
  readonly api: string;
  readonly pinDir: string;
  readonly config: string;
  /** Starts the agent again with the same arguments (after a kill or stop), over the same pins. */
  restart(): Promise<LabAgent>;
  /** Runs the `xlb` client against this agent inside its namespace; throws with its stderr on failure. */
  xlb(...args: string[]): Promise<string>;
  /** One REST call (curl inside the namespace). Non-2xx statuses are returned, not thrown. */
  request(method: string, urlPath: string, body?: unknown): Promise<ApiResponse>;
  /** SIGTERM (the agent stops gracefully: programs stay attached, maps pinned), SIGKILL after timeoutMs. */
  stop(timeoutMs?: number): Promise<ExitInfo>;
}

/** Spawns `xlb agent` in the node's namespace and waits until its REST API listens. */
export async function startLabAgent(lab: Lab, opts: LabAgentOptions): Promise<LabAgent> {
  const node = opts.node ?? 'lb';
  const pinDir = opts.pinDir ?? lab.pinDir();
  const config = opts.config ?? path.join(lab.runDir, 'agent.yaml');
  const api = opts.api ?? AGENT_API;
  const args = ['agent', '--config', config, '--iface', opts.ifaces.join(','), '--hook', opts.hook, '--api', api, '--pin-dir', pinDir];
  if (opts.snatV4 !== undefined) args.push('--snat-v4', opts.snatV4);
  if (opts.snatV6 !== undefined) args.push('--snat-v6', opts.snatV6);
  if (opts.objectDir !== undefined) args.push('--object-dir', path.resolve(opts.objectDir));
  args.push(...(opts.extraArgs ?? []));
  const proc = await lab.spawn(node, XLB, args, { ready: /REST API listening/, readyTimeoutMs: opts.readyTimeoutMs ?? 30_000 });
  const base = `http://${api}`;
  return {
    process: proc,
    node,
    api,
    pinDir,
    config,
    restart: () => startLabAgent(lab, opts),
    xlb: async (...a: string[]) => {
      const r = await lab.exec(node, XLB, [...a, '--api', api], { timeoutMs: 30_000, reject: false });
      if (r.exitCode !== 0) throw new Error(`xlb ${a.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
      return r.stdout.trimEnd();
    },
    request: async (method, urlPath, body) => {
      // The status goes on a line of its own after the body (-w), so any body parses.
      const curl = ['-sS', '-X', method, '-w', '\n%{http_code}', '--max-time', '30'];
      if (body !== undefined) curl.push('-H', 'content-type: application/json', '--data-binary', '@-');
      const r = await lab.exec(node, 'curl', [...curl, `${base}${urlPath}`], {
        timeoutMs: 35_000,
        reject: false,
        ...(body !== undefined ? { input: JSON.stringify(body) } : {}),
      });
      if (r.exitCode !== 0) throw new Error(`${method} ${urlPath} to the agent at ${api} in ${lab.netns(node)}: curl exited with ${r.exitCode}: ${r.stderr.trim()} (is the agent running? ${proc.stderr().trim().slice(-500)})`);
      const cut = r.stdout.lastIndexOf('\n');
      const text = r.stdout.slice(0, cut);
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: Number(r.stdout.slice(cut + 1)), json, text };
    },
    stop: (timeoutMs = 5000) => proc.stop(timeoutMs),
  };
}
