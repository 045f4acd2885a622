// The real `xlb agent` as a lab process: spawned inside a node's network namespace with
// `nsenter --net` (Lab.spawn), so it sees the bpffs pins (`ip netns exec` would hide them), and
// returned once its REST API listens. Its API address is loopback inside that namespace, so it
// can never collide with another lab's agent nor be reached from outside the lab; callers talk
// to it through the typed client (src/agent/client.ts) over curl run in that namespace
// (namespaceFetch), or through the `xlb` CLI run there (xlb()).
// Used by `xlb demo`, the agent's lab test and the lab World (src/harness/lab-world.ts).
import path from 'node:path';
import { AgentClient } from '../src/agent/client.ts';
import type { ExitInfo, Lab, LabProcess } from './lab.ts';
import { ROOT } from '../src/root.ts';

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

/** curl exit codes → the error codes Node's fetch gives as `cause.code`. */
const CURL_CODES: Record<number, string> = { 6: 'ENOTFOUND', 7: 'ECONNREFUSED', 28: 'ETIMEDOUT', 52: 'ECONNRESET', 56: 'ECONNRESET' };

/**
 * A fetch that runs curl inside the node's network namespace: how a process in the host
 * namespace reaches a loopback address there. Enough of fetch for the typed client (method,
 * headers, a string body; the status and text of the answer); a failed connection rejects with a
 * `cause.code`, as fetch does.
 */
export function namespaceFetch(lab: Lab, node: string): (url: string, init: RequestInit) => Promise<Response> {
  return async (url, init) => {
    // The status goes on a line of its own after the body (-w), so any body parses.
    const args = ['-sS', '-X', init.method ?? 'GET', '-w', '\n%{http_code}', '--max-time', '60'];
    new Headers(init.headers).forEach((v, k) => args.push('-H', `${k}: ${v}`));
    if (init.body !== undefined && init.body !== null) {
      if (typeof init.body !== 'string') throw new TypeError('namespaceFetch: only string bodies');
      args.push('--data-binary', '@-');
    }
    const r = await lab.exec(node, 'curl', [...args, url], {
      timeoutMs: 65_000,
      reject: false,
      ...(typeof init.body === 'string' ? { input: init.body } : {}),
    });
    if (r.exitCode !== 0) {
      throw new TypeError('fetch failed', {
        cause: { code: CURL_CODES[r.exitCode] ?? `curl exit ${r.exitCode}`, message: `${r.stderr.trim()} (curl in ${lab.netns(node)})` },
      });
    }
    const cut = r.stdout.lastIndexOf('\n');
    const text = r.stdout.slice(0, cut);
    return new Response(text === '' ? null : text, { status: Number(r.stdout.slice(cut + 1)) });
  };
}

export interface LabAgent {
  readonly process: LabProcess;
  readonly node: string;
  readonly api: string;
  readonly pinDir: string;
  readonly config: string;
  /** Starts the agent again with the same arguments (after a kill or stop), over the same pins. */
  restart(): Promise<LabAgent>;
  /** The typed REST client, over curl inside the namespace (refusals throw AgentApiError). */
  readonly client: AgentClient;
  /** Runs the `xlb` CLI against this agent inside its namespace; throws with its stderr on failure. */
  xlb(...args: string[]): Promise<string>;
  /** SIGTERM (the agent stops gracefully: programs stay attached, maps pinned), SIGKILL after timeoutMs. */
  stop(timeoutMs?: number): Promise<ExitInfo>;
}

/** Spawns `xlb agent` in the node's namespace and waits until it is ready (datapath attached, config applied, API serving). */
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
  const proc = await lab.spawn(node, XLB, args, { ready: /"msg":"agent ready"/, readyTimeoutMs: opts.readyTimeoutMs ?? 30_000 });
  return {
    process: proc,
    node,
    api,
    pinDir,
    config,
    client: new AgentClient({ api, fetch: namespaceFetch(lab, node) }),
    restart: () => startLabAgent(lab, opts),
    xlb: async (...a: string[]) => {
      const r = await lab.exec(node, XLB, [...a, '--api', api], { timeoutMs: 30_000, reject: false });
      if (r.exitCode !== 0) throw new Error(`xlb ${a.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
      return r.stdout.trimEnd();
    },
    stop: (timeoutMs = 5000) => proc.stop(timeoutMs),
  };
}
