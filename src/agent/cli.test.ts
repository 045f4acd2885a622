// `xlb agent` as a process (root, real kernel datapath, no interfaces): start, PUT, SIGTERM;
// the missing-config guard; --reset; an invalid config file refused with field errors.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Run {
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
  kill: (sig: NodeJS.Signals) => void;
}

function agent(args: string[]): Run {
  const child = spawn(path.join(ROOT, 'xlb'), ['agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return { out: () => out, err: () => err, exited: new Promise((r) => child.on('exit', (code) => r(code))), kill: (s) => child.kill(s) };
}

/** The API's port, once the agent says it is ready (datapath open, config applied, API serving). */
async function ready(r: Run): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    const m = /"api":"127\.0\.0\.1:(\d+)"[^\n]*agent ready/.exec(r.out());
    if (m?.[1] !== undefined) return Number(m[1]);
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`the agent did not start: ${r.out()}\n${r.err()}`);
}

test('xlb agent: start, PUT, SIGTERM; a missing config over populated pins is refused; --reset; bad config', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-agent-cli-'));
  const pinDir = `/sys/fs/bpf/xlb/test-agentcli-${Math.random().toString(36).slice(2, 8)}`;
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(pinDir, { recursive: true, force: true });
  });
  const config = path.join(dir, 'agent.yaml');
  const common = ['--config', config, '--pin-dir', pinDir, '--api', '127.0.0.1:0', '--max-services', '16', '--ct-entries', '1024'];

  const a = agent(common);
  t.teardown(() => a.kill('SIGKILL'));
  const port = await ready(a);
  const put = await fetch(`http://127.0.0.1:${port}/v1/services/web`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ vip: '198.18.100.1', port: 80, endpoints: [{ ip: '198.18.2.11', port: 80 }] }),
  });
  t.is(put.status, 201);
  t.true(existsSync(config));
  a.kill('SIGTERM');
  t.is(await a.exited, 0);
  t.regex(a.out(), /"signal":"SIGTERM".*"msg":"stopping"/);
  t.regex(a.out(), /stopped; programs stay attached and maps pinned/);

  // The config file is gone but the pins hold a service: refuse rather than delete it.
  unlinkSync(config);
  const b = agent(common);
  t.is(await b.exited, 1);
  t.regex(b.err(), /hold 1 service\(s\) but the config file .* does not exist: starting would delete them all/);

  // --reset: start from no services (the one in the maps is deleted).
  const c = agent([...common, '--reset']);
  t.teardown(() => c.kill('SIGKILL'));
  const port2 = await ready(c);
  t.regex(c.out(), /"deleted":1/);
  const list = (await (await fetch(`http://127.0.0.1:${port2}/v1/services`)).json()) as { services: unknown[] };
  t.deepEqual(list.services, []);
  c.kill('SIGINT');
  t.is(await c.exited, 0);

  // An invalid config file: every error, exit 1, nothing changed.
  writeFileSync(config, 'services:\n  - name: x\n    vip: 198.18.100.1\n    port: 99999\n    endpoints: [{ ip: nope, port: 80 }]\n');
  const d = agent(common);
  t.is(await d.exited, 1);
  t.regex(
    d.err(),
    /is invalid; nothing was changed:\nservices\[x\]\.port: 99999 is not a port number in 1\.\.65535\nservices\[x\]\.endpoints\[0\]\.ip: 'nope' is not an IPv4 or IPv6 address/,
  );
});
