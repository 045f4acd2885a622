// `xlb agent`: the production daemon. Loads (or re-opens the pinned) kernel datapath, attaches
// it, applies the config file, serves the REST API. SIGHUP reloads the config file; SIGTERM and
// SIGINT stop gracefully (programs stay attached and maps pinned unless --detach-on-exit).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { canonicalIp } from '../controller/ip.ts';
import { openKernelDatapath } from '../datapath/kernel-datapath.ts';
import { ValidationError } from '../controller/validate.ts';
import { parseListen, startAgent } from './agent.ts';
import { ConfigError, readConfigFile } from './config-file.ts';
import { createLogger } from './log.ts';
import type { LogLevel } from './log.ts';

const USAGE = `usage: xlb agent [--config FILE] [--iface IF]... [--hook tc|xdp] [--api HOST:PORT]
                 [--pin-dir DIR] [--instance NAME] [--token-file FILE] [--detach-on-exit]
                 [--ct-entries N] [--max-services N] [--log-level debug|info|warn|error]
                 [--snat-v4 ADDR] [--snat-v6 ADDR] [--xdp-mode native|generic] [--reset]
                 [--request-logs] [--object-dir DIR]

  --config FILE     YAML config (agent settings + services); default /var/lib/xlb/INSTANCE.yaml.
                    Written atomically on every API change; SIGHUP reloads it.
  --iface IF        interface to attach to (repeat, or comma-separated)
  --hook tc|xdp     attach point (default tc: clsact ingress)
  --api HOST:PORT   REST API address (default 127.0.0.1:9400); a non-loopback address needs a token
  --pin-dir DIR     bpffs directory of the maps (default /sys/fs/bpf/xlb/INSTANCE)
  --token-file FILE bearer token for the API (or env XLB_TOKEN)
  --detach-on-exit  detach the programs on SIGTERM (default: they stay attached, flows go on)
  --ct-entries N    conntrack entries (2 per flow) when the maps are created (default 262144)
  --max-services N  service-id space when the maps are created (default 1024)
  --snat-v4 ADDR    full-NAT source address for IPv4 services (an address of this host)
  --snat-v6 ADDR    full-NAT source address for IPv6 services
  --xdp-mode M      with --hook xdp: native (default) or generic
  --object-dir DIR  load xlb_<hook>.bpf.o from DIR instead of build/bpf (another build: a mutation, a test)
  --reset           start even when the config file is missing but the pinned maps hold
                    services (they are deleted: the empty config is the desired state)`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        iface: { type: 'string', multiple: true },
        hook: { type: 'string' },
        api: { type: 'string' },
        'pin-dir': { type: 'string' },
        instance: { type: 'string' },
        'token-file': { type: 'string' },
        'detach-on-exit': { type: 'boolean' },
        'ct-entries': { type: 'string' },
        'max-services': { type: 'string' },
        'log-level': { type: 'string' },
        'request-logs': { type: 'boolean' },
        'snat-v4': { type: 'string' },
        'snat-v6': { type: 'string' },
        'xdp-mode': { type: 'string' },
        reset: { type: 'boolean' },
        'object-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`xlb agent: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    console.error(`xlb agent: --log-level '${level}' is not one of debug, info, warn, error`);
    return 2;
  }
  const log = createLogger({ level, base: { name: 'xlb-agent' } });
  const fail = (msg: string, fields: Record<string, unknown> = {}): number => {
    log.error(fields, msg);
    console.error(`xlb agent: ${msg}`);
    return 1;
  };
  const instance0 = values.instance ?? 'default';
  const configFile = values.config ?? `/var/lib/xlb/${instance0}.yaml`;
  let settings;
  try {
    settings = readConfigFile(configFile).agent;
  } catch (err) {
    return fail((err as Error).message);
  }
  const instance = values.instance ?? settings.instance ?? 'default';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(instance)) return fail(`--instance '${instance}' is not a name (letters, digits, '.', '_', '-')`);
  const hook = values.hook ?? settings.hook ?? 'tc';
  if (hook !== 'tc' && hook !== 'xdp') return fail(`--hook '${hook}' is not tc or xdp`);
  const ifaces = (values.iface ?? settings.ifaces ?? []).flatMap((i) => i.split(',')).filter((i) => i !== '');
  const pinDir = values['pin-dir'] ?? settings.pinDir ?? `/sys/fs/bpf/xlb/${instance}`;
  let api;
  try {
    api = parseListen(values.api ?? settings.api ?? '127.0.0.1:9400');
  } catch (err) {
    return fail((err as Error).message);
  }
  let token = process.env.XLB_TOKEN;
  const tokenFile = values['token-file'] ?? settings.tokenFile;
  if (tokenFile !== undefined) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      return fail(`cannot read the token file ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (token === '') return fail(`the token file ${tokenFile} is empty: put the bearer token in it`);
  }
  const num = (v: string | undefined, dflt: number): number | undefined => {
    if (v === undefined) return dflt;
    return /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : undefined;
  };
  const ctEntries = num(values['ct-entries'], 1 << 18);
  const maxServices = num(values['max-services'], 1024);
  if (ctEntries === undefined) return fail(`--ct-entries '${values['ct-entries']}' is not a positive integer`);
  if (maxServices === undefined) return fail(`--max-services '${values['max-services']}' is not a positive integer`);

  const snatV4 = values['snat-v4'];
  const snatV6 = values['snat-v6'];
  if (snatV4 !== undefined && canonicalIp(snatV4)?.family !== 4) return fail(`--snat-v4 '${snatV4}' is not an IPv4 address`);
  if (snatV6 !== undefined && canonicalIp(snatV6)?.family !== 6) return fail(`--snat-v6 '${snatV6}' is not an IPv6 address`);
  const xdpMode = values['xdp-mode'] ?? 'native';
  if (xdpMode !== 'native' && xdpMode !== 'generic') return fail(`--xdp-mode '${xdpMode}' is not native or generic`);

  const objectDir = values['object-dir'];
  const objectPath = objectDir === undefined ? undefined : path.join(objectDir, `xlb_${hook}.bpf.o`);
  if (objectPath !== undefined && !existsSync(objectPath)) return fail(`--object-dir ${objectDir}: there is no ${path.basename(objectPath)} in it (build one with ./scripts/build.sh, or give the folder that holds it)`);

  let dph;
  try {
    dph = openKernelDatapath({ hook, pinDir, onWarning: (f, m) => log.warn(f, m), ctEntries, maxServices, xdpMode, ...(objectPath !== undefined ? { objectPath } : {}), ...(snatV4 !== undefined ? { snatV4 } : {}), ...(snatV6 !== undefined ? { snatV6 } : {}) });
  } catch (err) {
    return fail(`cannot load the datapath: ${(err as Error).message}`, { err });
  }
  const held = dph.reusedPins ? dph.datapath.listServices().length : 0;
  if (held > 0 && !existsSync(configFile) && values.reset !== true) {
    dph.close();
    return fail(
      `the maps pinned in ${pinDir} hold ${held} service(s) but the config file ${configFile} does not exist: starting would delete them all. ` +
        'Start with the config file that created them (--config), or pass --reset to start from no services.',
    );
  }
  log.info({ instance, hook, pinDir, reused: dph.reusedPins, config: configFile }, dph.reusedPins ? 're-opened the pinned datapath maps' : 'loaded the datapath');
  let agent;
  try {
    agent = await startAgent(dph, { configFile, ifaces, api, detachOnExit: values['detach-on-exit'] === true, log, requestLogs: values['request-logs'] === true, ...(token !== undefined ? { token } : {}) });
  } catch (err) {
    dph.close();
    if (err instanceof ValidationError) return fail(`${configFile} is invalid; nothing was changed:\n${err.message}`);
    if (err instanceof ConfigError) return fail(err.message);
    return fail((err as Error).message, { err });
  }
  const running = agent;
  process.on('SIGHUP', () => {
    running.reload();
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'stopping');
      running.stop().then(resolve, (err: unknown) => {
        log.error({ err }, 'stop failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
