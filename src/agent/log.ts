// The agent's logs: pino itself (the logger fastify uses), one JSON object per line on stdout
// (level number, time, pid, hostname, msg + fields). The agent's own lines and fastify's
// request logs go through the same logger, so they read the same and feed the same pipeline.
import { hostname } from 'node:os';
import { pino } from 'pino';
import type { Logger as PinoLogger, LevelWithSilent } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = Exclude<LevelWithSilent, 'silent'>;

export function createLogger(opts: { level?: LogLevel; write?: (line: string) => void; base?: Record<string, unknown> } = {}): Logger {
  // pino's own base fields (pid, hostname), plus the caller's.
  const options = { level: opts.level ?? 'info', base: { pid: process.pid, hostname: hostname(), ...opts.base } };
  // Tests and tools collect lines; the agent writes to stdout synchronously (a crash loses no line).
  const stream = opts.write !== undefined ? { write: opts.write } : pino.destination({ fd: 1, sync: true });
  return pino(options, stream);
}
