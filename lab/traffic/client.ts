// The lab's traffic client, run as a real process inside a client's namespace. JSON on stdout:
// { options, results: [{ i, sport, backend, backends, latencyMs, totalMs, bytesSent,
//   bytesReceived, error }], summary: { count, ok, errors, byBackend } }.
//
//   node --import tsx lab/traffic/client.ts --proto tcp|http|udp --target ADDR --port N
//     [--count N] [--concurrency C] [--sport BASE] [--payload BYTES] [--rounds R]
//     [--round-gap MS] [--wait-stdin] [--hold MS] [--no-keepalive] [--timeout MS]
//
// Exit status 0 even when connections failed (the report says which); 2 on bad options.
import { createInterface } from 'node:readline';
import { parseClientArgs } from './client-args.ts';
import { runClients } from '../../src/traffic/client-core.ts';
import type { ClientOptions } from '../../src/traffic/client-core.ts';

async function main(): Promise<void> {
  let o: ClientOptions;
  try {
    o = parseClientArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`xlb lab client: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const lines = o.waitStdin ? createInterface({ input: process.stdin })[Symbol.asyncIterator]() : undefined;
  const report = await runClients(o, async () => {
    if (lines !== undefined) await lines.next();
  });
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

void main();
