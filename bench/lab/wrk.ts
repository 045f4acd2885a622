// wrk (https://github.com/wg/wrk) as the lab bench's HTTP load: its command line and a parser for
// the text it prints with --latency. wrk is the client every proxy benchmark uses, written in C
// with an epoll loop per thread: on two vCPUs it generates far more load than a Node client could,
// so the figures measure the path under test, not the load generator.

export interface WrkResult {
  requests: number;
  durationS: number;
  requestsPerSec: number;
  /** From the --latency distribution (wrk's HdrHistogram), milliseconds. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Socket errors wrk counted (connect, read, write, timeout). */
  errors: { connect: number; read: number; write: number; timeout: number };
  /** Responses whose status was not 2xx/3xx. */
  non2xx: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function durationMs(text: string, what: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  const unit = m?.[2];
  if (m?.[1] === undefined || unit === undefined) throw new Error(`wrk output: cannot read the ${what} '${text}' (expected e.g. 1.23ms)`);
  return Number(m[1]) * (UNIT_MS[unit] ?? NaN);
}

/** Parses `wrk --latency` output; throws naming what is missing (e.g. wrk failed to connect). */
export function parseWrk(out: string): WrkResult {
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),/m.exec(out);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  if (total?.[1] === undefined || total[2] === undefined || total[3] === undefined || rps?.[1] === undefined) {
    throw new Error(`wrk printed no request count (did it run with --latency, and could it connect?):\n${out.trim().slice(0, 1500)}`);
  }
  const requests = Number(total[1]);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    requests,
    durationS: durationMs(`${total[2]}${total[3]}`, 'duration') / 1000,
    requestsPerSec: Number(rps[1]),
    // No request completed: wrk prints no distribution; there is no latency to report.
    latencyP50Ms: p50?.[1] !== undefined ? durationMs(p50[1], '50% latency') : NaN,
    latencyP99Ms: p99?.[1] !== undefined ? durationMs(p99[1], '99% latency') : NaN,
    errors: {
      connect: Number(errs?.[1] ?? 0),
      read: Number(errs?.[2] ?? 0),
      write: Number(errs?.[3] ?? 0),
      timeout: Number(errs?.[4] ?? 0),
    },
    non2xx: Number(non2xx?.[1] ?? 0),
  };
}

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  durationS: number;
  /** A new connection per request (`Connection: close`): measures connections per second. */
  close: boolean;
  /** One address per thread (thread i connects to addrs[i % n]) instead of the URL's host. */
  threadAddrs?: string[];
  /** Where the Lua script for threadAddrs is written (a file wrk reads). */
  scriptPath?: string;
}

/**
 * The Lua script that points each wrk thread at its own address: `direct` spreads the same load
 * over the backends as the LB would, one backend per thread (wrk has no other way to use
 * several hosts in one run).
 */
export function threadAddrScript(addrs: string[], port: number): string {
  const list = addrs.map((a) => `"${a}"`).join(', ');
  return `-- written by xlb bench: thread i connects to addrs[i]
local addrs = { ${list} }
local n = 0
function setup(thread)
  n = n + 1
  thread.addr = wrk.lookup(addrs[(n - 1) % #addrs + 1], "${port}")[1]
end
`;
}

/** wrk's argv (without the program name). */
export function wrkArgs(o: WrkOptions): string[] {
  const a = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--latency', '--timeout', '2s'];
  if (o.close) a.push('-H', 'Connection: close');
  if (o.threadAddrs !== undefined) {
    if (o.scriptPath === undefined) throw new Error('wrkArgs: threadAddrs needs scriptPath (where the Lua script is written)');
    a.push('-s', o.scriptPath);
  }
  a.push(o.url);
  return a;
}
