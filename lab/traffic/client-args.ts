// Command-line options of the traffic client (lab/traffic/client.ts), shared with the TS wrapper.
import { parseArgs } from 'node:util';
import { DEFAULT_CLIENT } from '../../src/traffic/client-core.ts';
import type { ClientOptions, Proto } from '../../src/traffic/client-core.ts';

function int(v: string | undefined, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} ${v}: give an integer ${min}-${max}`);
  return n;
}

export function parseClientArgs(argv: string[]): ClientOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      proto: { type: 'string' },
      target: { type: 'string' },
      port: { type: 'string' },
      count: { type: 'string' },
      concurrency: { type: 'string' },
      sport: { type: 'string' },
      payload: { type: 'string' },
      rounds: { type: 'string' },
      'round-gap': { type: 'string' },
      'wait-stdin': { type: 'boolean' },
      hold: { type: 'string' },
      'no-keepalive': { type: 'boolean' },
      timeout: { type: 'string' },
    },
  });
  const proto = values.proto as Proto | undefined;
  if (proto !== 'tcp' && proto !== 'http' && proto !== 'udp') throw new Error('--proto must be tcp, http or udp');
  if (values.target === undefined) throw new Error('--target ADDR is required (e.g. the VIP 198.18.100.1)');
  const d = DEFAULT_CLIENT;
  const o: ClientOptions = {
    proto,
    target: values.target,
    port: int(values.port, 'port', 1, 65535, 0),
    count: int(values.count, 'count', 1, 100_000, d.count),
    concurrency: int(values.concurrency, 'concurrency', 1, 10_000, d.concurrency),
    sport: int(values.sport, 'sport', 0, 65535, d.sport),
    payload: int(values.payload, 'payload', 0, 16 << 20, d.payload),
    rounds: int(values.rounds, 'rounds', 1, 1_000_000, d.rounds),
    roundGapMs: int(values['round-gap'], 'round-gap', 0, 3_600_000, d.roundGapMs),
    waitStdin: values['wait-stdin'] === true,
    holdMs: int(values.hold, 'hold', 0, 3_600_000, d.holdMs),
    keepAlive: values['no-keepalive'] !== true,
    timeoutMs: int(values.timeout, 'timeout', 1, 600_000, d.timeoutMs),
  };
  if (o.port === 0) throw new Error('--port N is required');
  if (o.sport > 0 && o.sport + o.count - 1 > 65535) throw new Error(`--sport ${o.sport} + --count ${o.count} runs past port 65535`);
  return o;
}

/** The command line for options (the inverse of parseClientArgs). */
export function clientArgs(o: ClientOptions): string[] {
  const a = ['--proto', o.proto, '--target', o.target, '--port', String(o.port), '--count', String(o.count)];
  a.push('--concurrency', String(o.concurrency), '--sport', String(o.sport), '--payload', String(o.payload));
  a.push('--rounds', String(o.rounds), '--round-gap', String(o.roundGapMs), '--hold', String(o.holdMs), '--timeout', String(o.timeoutMs));
  if (o.waitStdin) a.push('--wait-stdin');
  if (!o.keepAlive) a.push('--no-keepalive');
  return a;
}
