// `xlb lb add|ls|rm`, `xlb ct ls`, `xlb stats`: clients of the agent's REST API, through the
// typed client (client.ts). Human tables by default, `--json` for the API's JSON. src/cli.ts
// passes the command name as argv[0].
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { AgentApiError, AgentClient } from './client.ts';
import type { ServiceBody } from './client.ts';
import type { ServiceView } from './views.ts';

const COMMON = {
  api: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const USAGE: Record<string, string> = {
  lb: `usage:
  xlb lb add NAME --vip IP --port PORT [--port-end PORT] [--protocol tcp|udp]
                  [--algorithm rr|wrr|hash|maglev|lc|random] [--mode dnat|fullnat|dsr]
                  [--endpoint IP:PORT[:WEIGHT]]... [--persistence SECONDS]
                  [--health tcp|http|udp] [--health-path PATH] [--health-port PORT]
                  [--health-interval MS] [--health-timeout MS]
                  [--dead-flows keep|purge]
  xlb lb add NAME --file SERVICE.(json|yaml)     # the whole service body, as PUT takes it
  xlb lb ls [NAME]
  xlb lb rm NAME
common: --api HOST:PORT (default $XLB_API or 127.0.0.1:9400)  --token TOKEN (default $XLB_TOKEN)  --json
'add' creates the service or replaces it whole.`,
  ct: `usage: xlb ct ls [--service NAME] [--state S[,S…]] [--limit N] [--api HOST:PORT] [--token TOKEN] [--json]`,
  stats: `usage: xlb stats [--api HOST:PORT] [--token TOKEN] [--json]`,
};

export class ClientError extends Error {}

/** Renders rows as an aligned text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

/** `IP:PORT[:WEIGHT]`, IPv6 in brackets: `[fd00::1]:80:2`. */
export function parseEndpointArg(text: string): { ip: string; port: number; weight?: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)(?::(\d+))?$/.exec(text);
  if (m === null) throw new ClientError(`--endpoint '${text}' is not IP:PORT[:WEIGHT] (IPv6 in brackets: [fd00::1]:80:2)`);
  const ep: { ip: string; port: number; weight?: number } = { ip: (m[1] ?? m[2]) as string, port: Number(m[3]) };
  if (m[4] !== undefined) ep.weight = Number(m[4]);
  return ep;
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function human(n: number): string {
  if (n < 10_000) return String(n);
  const units = ['k', 'M', 'G', 'T'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(1)}${units[u]}`;
}

function serviceRows(list: ServiceView[]): string {
  return table(
    ['NAME', 'VIP', 'PORT', 'PROTO', 'ALGO', 'MODE', 'ENDPOINTS', 'ID'],
    list.map((s) => [
      s.name,
      s.vip,
      s.portEnd !== undefined ? `${s.port}-${s.portEnd}` : s.port,
      s.protocol,
      s.algorithm,
      s.mode,
      `${s.status.endpoints.filter((e) => e.active).length}/${s.endpoints.length} active`,
      s.status.id,
    ]),
  );
}

function endpointRows(s: ServiceView): string {
  return table(
    ['ENDPOINT', 'WEIGHT', 'SLOT', 'ACTIVE', 'HEALTH'],
    s.endpoints.map((e, i) => {
      const st = s.status.endpoints[i];
      return [hostPort(e.ip, e.port), e.weight, st?.slot ?? -1, st?.active === true ? 'yes' : 'no', st === undefined ? '' : st.lastCheck ?? (st.healthy ? 'up' : 'down')];
    }),
  );
}

async function lb(client: AgentClient, argv: string[], json: boolean): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...COMMON,
      vip: { type: 'string' },
      port: { type: 'string' },
      'port-end': { type: 'string' },
      protocol: { type: 'string' },
      algorithm: { type: 'string' },
      mode: { type: 'string' },
      endpoint: { type: 'string', multiple: true },
      persistence: { type: 'string' },
      health: { type: 'string' },
      'health-path': { type: 'string' },
      'health-interval': { type: 'string' },
      'health-timeout': { type: 'string' },
      'health-port': { type: 'string' },
      'dead-flows': { type: 'string' },
      file: { type: 'string' },
    },
  });
  const [sub, name] = positionals;
  const num = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new ClientError(`--${flag} '${v}' is not a whole number`);
    return Number(v);
  };
  if (sub === 'add') {
    if (name === undefined) throw new ClientError(`lb add: give the service NAME.\n${USAGE.lb}`);
    let body: Record<string, unknown>;
    if (values.file !== undefined) {
      const text = readFileSync(values.file, 'utf8');
      body = (values.file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) as Record<string, unknown>;
    } else {
      if (values.vip === undefined || values.port === undefined) throw new ClientError(`lb add: --vip and --port are required (or --file).\n${USAGE.lb}`);
      body = { vip: values.vip, port: num('port', values.port), endpoints: (values.endpoint ?? []).map(parseEndpointArg) };
      if (values['port-end'] !== undefined) body.portEnd = num('port-end', values['port-end']);
      if (values.protocol !== undefined) body.protocol = values.protocol;
      if (values.algorithm !== undefined) body.algorithm = values.algorithm;
      if (values.mode !== undefined) body.mode = values.mode;
      if (values.persistence !== undefined) body.persistence = { timeoutS: num('persistence', values.persistence) };
      if (values['dead-flows'] !== undefined) body.deadFlowPolicy = values['dead-flows'];
      if (values.health !== undefined) {
        const hc: Record<string, unknown> = { type: values.health };
        if (values['health-path'] !== undefined) hc.path = values['health-path'];
        if (values['health-interval'] !== undefined) hc.intervalMs = num('health-interval', values['health-interval']);
        if (values['health-timeout'] !== undefined) hc.timeoutMs = num('health-timeout', values['health-timeout']);
        if (values['health-port'] !== undefined) hc.port = num('health-port', values['health-port']);
        body.healthCheck = hc;
      }
    }
    // The agent validates the body whole and names every bad field.
    const d = await client.putService(name, body as ServiceBody);
    if (json) console.log(JSON.stringify(d, null, 2));
    else console.log(`${name}: ${d.action}\n${serviceRows([d.service])}\n\n${endpointRows(d.service)}`);
    return 0;
  }
  if (sub === 'ls') {
    if (name !== undefined) {
      const d = await client.getService(name);
      if (json) console.log(JSON.stringify(d, null, 2));
      else console.log(`${serviceRows([d])}\n\n${endpointRows(d)}`);
      return 0;
    }
    const services = await client.listServices();
    if (json) console.log(JSON.stringify({ services }, null, 2));
    else console.log(services.length === 0 ? 'no services (add one with: xlb lb add NAME --vip IP --port PORT --endpoint IP:PORT)' : serviceRows(services));
    return 0;
  }
  if (sub === 'rm') {
    if (name === undefined) throw new ClientError(`lb rm: give the service NAME.\n${USAGE.lb}`);
    await client.deleteService(name);
    if (json) console.log(JSON.stringify({ deleted: name }));
    else console.log(`${name}: deleted`);
    return 0;
  }
  throw new ClientError(`lb: unknown subcommand '${sub ?? ''}'; use add, ls or rm.\n${USAGE.lb}`);
}

async function ct(client: AgentClient, argv: string[], json: boolean): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON, service: { type: 'string' }, state: { type: 'string' }, limit: { type: 'string' } } });
  if (positionals[0] !== 'ls') throw new ClientError(`ct: unknown subcommand '${positionals[0] ?? ''}'.\n${USAGE.ct}`);
  if (values.limit !== undefined && !/^\d+$/.test(values.limit)) throw new ClientError(`--limit '${values.limit}' is not a whole number`);
  const d = await client.conntrack({
    ...(values.service !== undefined ? { service: values.service } : {}),
    ...(values.state !== undefined ? { state: values.state } : {}),
    ...(values.limit !== undefined ? { limit: Number(values.limit) } : {}),
  });
  if (json) {
    console.log(JSON.stringify(d, null, 2));
    return 0;
  }
  console.log(
    table(
      ['SERVICE', 'PROTO', 'CLIENT', 'VIP', 'ENDPOINT', 'STATE', 'PKTS', 'BYTES', 'AGE'],
      d.entries.map((f) => [f.service, f.protocol, hostPort(f.client.ip, f.client.port), hostPort(f.vip.ip, f.vip.port), hostPort(f.endpoint.ip, f.endpoint.port), f.state, human(f.packets), human(f.bytes), `${(f.ageMs / 1000).toFixed(1)}s`]),
    ),
  );
  console.log(`${d.entries.length} of ${d.total} flows`);
  return 0;
}

async function stats(client: AgentClient, argv: string[], json: boolean): Promise<number> {
  parseArgs({ args: argv, options: COMMON });
  const d = await client.stats();
  if (json) {
    console.log(JSON.stringify(d, null, 2));
    return 0;
  }
  const rows: (string | number)[][] = [];
  for (const s of d.services) {
    rows.push([s.name, '', human(s.packets), human(s.bytes), '']);
    for (const e of s.endpoints) rows.push(['', hostPort(e.ip, e.port), human(e.packets), human(e.bytes), e.active ? 'active' : e.healthy ? 'inactive' : 'unhealthy']);
  }
  console.log(table(['SERVICE', 'ENDPOINT', 'PACKETS', 'BYTES', 'STATE'], rows));
  const kv = (o: Record<string, number>): string => Object.entries(o).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${human(n)}`).join('  ') || '-';
  console.log(`\nverdicts: ${kv(d.verdicts)}\ndrops:    ${kv(d.drops)}\nflows:    ${kv(d.conntrack)}`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const usage = USAGE[command ?? ''] ?? USAGE.lb;
  if (rest.includes('--help') || rest.includes('-h') || (rest.length === 0 && command !== 'stats')) {
    console.log(usage);
    return rest.length === 0 ? 2 : 0;
  }
  try {
    const { values } = parseArgs({ args: rest, options: COMMON, strict: false, allowPositionals: true });
    const api = (typeof values.api === 'string' ? values.api : undefined) ?? process.env.XLB_API ?? '127.0.0.1:9400';
    const token = (typeof values.token === 'string' ? values.token : undefined) ?? process.env.XLB_TOKEN;
    const client = new AgentClient({ api, ...(token !== undefined ? { token } : {}) });
    const json = values.json === true;
    if (command === 'lb') return await lb(client, rest, json);
    if (command === 'ct') return await ct(client, rest, json);
    if (command === 'stats') return await stats(client, rest, json);
    console.error(`xlb: '${command ?? ''}' is not a client command (lb, ct, stats)`);
    return 2;
  } catch (err) {
    if (err instanceof ClientError || err instanceof AgentApiError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      console.error(`xlb ${command ?? ''}: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  }
}
