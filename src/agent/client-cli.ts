// `xlb lb add|ls|rm`, `xlb ct ls`, `xlb stats`: clients of the agent's REST API, through the
// typed client (client.ts). Human tables by default, `--json` for the API's JSON. src/cli.ts
// passes the command name as argv[0].
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import {
  act,
  CliError,
  command,
  integer,
  jsonOption,
  Option,
  printJson,
  readTokenFile,
  repeat,
  runCommand,
  sub,
  UsageError,
} from '../cli-kit.ts';
import type { Command } from '../cli-kit.ts';
import { AgentClient } from './client.ts';
import type { ServiceBody } from './client.ts';
import type { ServiceView } from './views.ts';

/** An expected error of a client command (exit 1, no stack). */
export class ClientError extends CliError {}

interface CommonOpts {
  api: string;
  tokenFile?: string;
  json?: boolean;
}

/** --api, --token-file, -j/--json: the options every client command takes, read the same way. */
function common(cmd: Command): Command {
  return cmd
    .addOption(new Option('--api <host:port>', "the agent's REST API").env('XLB_API').default('127.0.0.1:9400'))
    .addOption(
      new Option(
        '--token-file <file>',
        'file holding the bearer token (or the token itself in XLB_TOKEN; never on the command line, where ps shows it)',
      ).env('XLB_TOKEN_FILE'),
    )
    .addOption(jsonOption());
}

function clientOf(o: CommonOpts): AgentClient {
  const token = o.tokenFile !== undefined ? readTokenFile(o.tokenFile) : process.env.XLB_TOKEN;
  return new AgentClient({ api: o.api, ...(token !== undefined && token !== '' ? { token } : {}) });
}

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
      return [
        hostPort(e.ip, e.port),
        e.weight,
        st?.slot ?? -1,
        st?.active === true ? 'yes' : 'no',
        st === undefined ? '' : (st.lastCheck ?? (st.healthy ? 'up' : 'down')),
      ];
    }),
  );
}

interface AddOpts extends CommonOpts {
  vip?: string;
  port?: number;
  portEnd?: number;
  protocol?: string;
  algorithm?: string;
  mode?: string;
  endpoint?: string[];
  persistence?: number;
  health?: string;
  healthPath?: string;
  healthInterval?: number;
  healthTimeout?: number;
  healthPort?: number;
  deadFlows?: string;
  file?: string;
}

/** The service body of `lb add`: from --file, or from the flags. */
function serviceBody(o: AddOpts): Record<string, unknown> {
  if (o.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.file, 'utf8');
    } catch (err) {
      throw new ClientError(
        `cannot read ${o.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): --file takes the path of a service body in JSON or YAML, as PUT /v1/services/NAME takes it`,
      );
    }
    try {
      return (o.file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) as Record<string, unknown>;
    } catch (err) {
      throw new ClientError(`${o.file} is not valid ${o.file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
    }
  }
  if (o.vip === undefined || o.port === undefined) throw new UsageError('--vip and --port are required (or --file with the whole service)');
  const body: Record<string, unknown> = { vip: o.vip, port: o.port, endpoints: (o.endpoint ?? []).map(parseEndpointArg) };
  if (o.portEnd !== undefined) body.portEnd = o.portEnd;
  if (o.protocol !== undefined) body.protocol = o.protocol;
  if (o.algorithm !== undefined) body.algorithm = o.algorithm;
  if (o.mode !== undefined) body.mode = o.mode;
  if (o.persistence !== undefined) body.persistence = { timeoutS: o.persistence };
  if (o.deadFlows !== undefined) body.deadFlowPolicy = o.deadFlows;
  if (o.health !== undefined) {
    const hc: Record<string, unknown> = { type: o.health };
    if (o.healthPath !== undefined) hc.path = o.healthPath;
    if (o.healthInterval !== undefined) hc.intervalMs = o.healthInterval;
    if (o.healthTimeout !== undefined) hc.timeoutMs = o.healthTimeout;
    if (o.healthPort !== undefined) hc.port = o.healthPort;
    body.healthCheck = hc;
  }
  return body;
}

function lbCommand(): Command {
  const lb = command('lb', 'Add, list and remove services through the agent API.');
  const add = common(
    sub(lb, 'add', 'Creates the service NAME or replaces it whole. The agent validates the body and names every bad field.').argument(
      '<name>',
      'service name',
    ),
  )
    .option('--vip <ip>', 'the virtual IP')
    .option('--port <port>', 'the service port', integer(1, 65535))
    .option('--port-end <port>', 'the last port of a port range', integer(1, 65535))
    .option('--protocol <proto>', 'tcp or udp (the agent checks it)')
    .option('--algorithm <algo>', 'rr, wrr, hash, maglev, lc or random (the agent checks it)')
    .option('--mode <mode>', 'dnat, fullnat or dsr (the agent checks it)')
    .option('--endpoint <ip:port[:weight]>', 'an endpoint, IPv6 in brackets ([fd00::1]:80:2); repeatable', repeat)
    .option('--persistence <seconds>', 'client persistence timeout', integer(1))
    .option('--health <type>', 'health check: tcp, http or udp')
    .option('--health-path <path>', 'the http health check path')
    .option('--health-port <port>', 'the health check port (default: the endpoint port)', integer(1, 65535))
    .option('--health-interval <ms>', 'health check interval', integer(1))
    .option('--health-timeout <ms>', 'health check timeout', integer(1))
    .option('--dead-flows <policy>', 'keep or purge the flows of a removed endpoint')
    .option('--file <file>', 'the whole service body (JSON or YAML), as PUT /v1/services/NAME takes it');
  act(add, async () => {
    const o = add.opts<AddOpts>();
    const name = add.processedArgs[0] as string;
    const d = await clientOf(o).putService(name, serviceBody(o) as ServiceBody);
    if (o.json === true) printJson(d);
    else console.log(`${name}: ${d.action}\n${serviceRows([d.service])}\n\n${endpointRows(d.service)}`);
    return 0;
  });
  const ls = common(sub(lb, 'ls', 'Lists the services, or one service with its endpoints.').argument('[name]', 'one service'));
  act(ls, async () => {
    const o = ls.opts<CommonOpts>();
    const name = ls.processedArgs[0] as string | undefined;
    const client = clientOf(o);
    if (name !== undefined) {
      const d = await client.getService(name);
      if (o.json === true) printJson(d);
      else console.log(`${serviceRows([d])}\n\n${endpointRows(d)}`);
      return 0;
    }
    const services = await client.listServices();
    if (o.json === true) printJson({ services });
    else
      console.log(
        services.length === 0
          ? 'no services (add one with: xlb lb add NAME --vip IP --port PORT --endpoint IP:PORT)'
          : serviceRows(services),
      );
    return 0;
  });
  const rm = common(sub(lb, 'rm', 'Removes the service NAME.').argument('<name>', 'service name'));
  act(rm, async () => {
    const o = rm.opts<CommonOpts>();
    const name = rm.processedArgs[0] as string;
    await clientOf(o).deleteService(name);
    if (o.json === true) printJson({ deleted: name });
    else console.log(`${name}: deleted`);
    return 0;
  });
  return lb;
}

interface CtOpts extends CommonOpts {
  service?: string;
  state?: string;
  limit?: number;
}

function ctCommand(): Command {
  const ct = command('ct', 'The conntrack table through the agent API.');
  const ls = common(sub(ct, 'ls', 'Lists tracked flows (the two directions of a flow are one line).'))
    .option('--service <name>', 'only the flows of this service')
    .option('--state <states>', 'only flows in these states, comma-separated (SYN_SENT, ESTABLISHED, UDP_NEW, …)')
    .option('--limit <n>', 'at most N flows', integer(0));
  act(ls, async () => {
    const o = ls.opts<CtOpts>();
    const d = await clientOf(o).conntrack({
      ...(o.service !== undefined ? { service: o.service } : {}),
      ...(o.state !== undefined ? { state: o.state } : {}),
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
    });
    if (o.json === true) {
      printJson(d);
      return 0;
    }
    console.log(
      table(
        ['SERVICE', 'PROTO', 'CLIENT', 'VIP', 'ENDPOINT', 'STATE', 'PKTS', 'BYTES', 'AGE'],
        d.entries.map((f) => [
          f.service,
          f.protocol,
          hostPort(f.client.ip, f.client.port),
          hostPort(f.vip.ip, f.vip.port),
          hostPort(f.endpoint.ip, f.endpoint.port),
          f.state,
          human(f.packets),
          human(f.bytes),
          `${(f.ageMs / 1000).toFixed(1)}s`,
        ]),
      ),
    );
    console.log(`${d.entries.length} of ${d.total} flows`);
    return 0;
  });
  return ct;
}

function statsCommand(): Command {
  const stats = common(
    command('stats', 'Datapath counters through the agent API: per service and endpoint, verdicts, drops, flows by state.'),
  );
  act(stats, async () => {
    const o = stats.opts<CommonOpts>();
    const d = await clientOf(o).stats();
    if (o.json === true) {
      printJson(d);
      return 0;
    }
    const rows: (string | number)[][] = [];
    for (const s of d.services) {
      rows.push([s.name, '', human(s.packets), human(s.bytes), '']);
      for (const e of s.endpoints)
        rows.push([
          '',
          hostPort(e.ip, e.port),
          human(e.packets),
          human(e.bytes),
          e.active ? 'active' : e.healthy ? 'inactive' : 'unhealthy',
        ]);
    }
    console.log(table(['SERVICE', 'ENDPOINT', 'PACKETS', 'BYTES', 'STATE'], rows));
    const kv = (c: Record<string, number>): string =>
      Object.entries(c)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k}=${human(n)}`)
        .join('  ') || '-';
    console.log(`\nverdicts: ${kv(d.verdicts)}\ndrops:    ${kv(d.drops)}\nflows:    ${kv(d.conntrack)}`);
    return 0;
  });
  return stats;
}

const COMMANDS: Record<string, () => Command> = { lb: lbCommand, ct: ctCommand, stats: statsCommand };

/** `xlb lb|ct|stats …`: argv[0] is the command's name (src/cli.ts passes it). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const make = COMMANDS[name ?? ''];
  if (make === undefined) {
    console.error(`xlb: '${name ?? ''}' is not a client command (lb, ct, stats)`);
    return 2;
  }
  return runCommand(make(), rest);
}
