// Structured JSON logs, one object per line on stdout, in pino's shape (level number, time,
// pid, hostname, msg + fields) so the agent's own lines and fastify's request logs (pino) read
// the same and feed the same log pipeline.
import { hostname } from 'node:os';

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevel = keyof typeof LEVELS;

export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  child(fields: Record<string, unknown>): Logger;
}

function errorFields(v: unknown): unknown {
  if (v instanceof Error) return { type: v.name, message: v.message, stack: v.stack };
  return v;
}

export function createLogger(opts: { level?: LogLevel; write?: (line: string) => void; base?: Record<string, unknown> } = {}): Logger {
  const min = LEVELS[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stdout.write(line));
  const base = { pid: process.pid, hostname: hostname(), ...opts.base };
  const at =
    (level: LogLevel) =>
    (fields: Record<string, unknown>, msg: string): void => {
      if (LEVELS[level] < min) return;
      const f: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(fields)) f[k] = errorFields(v);
      write(`${JSON.stringify({ level: LEVELS[level], time: Date.now(), ...base, ...f, msg })}\n`);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => createLogger({ ...opts, base: { ...opts.base, ...fields } }),
  };
}
