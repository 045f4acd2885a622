// `xlb agent`: the production daemon. Loads (or re-opens the pinned) kernel datapath, attaches
// it, applies the config file, serves the REST API. SIGHUP reloads the config file; SIGTERM and
// SIGINT stop gracefully (programs stay attached and maps pinned unless --detach-on-exit).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { act, command, integer, Option, readTokenFile, runCommand, UsageError } from '../cli-kit.ts';
import type { LogLevel } from './log.ts';

interface Opts {
  config?: string;
  iface?: string[];
  hook?: 'tc' | 'xdp';
  api?: string;
  pinDir?: string;
  instance?: string;
  tokenFile?: string;
  detachOnExit?: boolean;
  ctEntries?: number;
  maxServices?: number;
  logLevel: LogLevel;
  requestLogs?: boolean;
  snatV4?: string;
  snatV6?: string;
  xdpMode: 'native' | 'generic';
  reset?: boolean;
  objectDir?: string;
}

function collectIfaces(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), ...v.split(',').filter((i) => i !== '')];
}

export async function main(argv: string[]): Promise<number> {
  const cmd = command(
    'agent',
    'The production daemon: loads (or re-opens the pinned) kernel datapath, attaches it, applies the config file and serves the REST API. SIGHUP reloads the config file; SIGTERM and SIGINT stop (the programs stay attached and the maps pinned unless --detach-on-exit).',
  )
    .option(
      '--config <file>',
      'YAML config (agent settings + services), written atomically on every API change; SIGHUP reloads it (default /var/lib/xlb/INSTANCE.yaml)',
    )
    .option('--iface <if>', 'interface to attach to (repeat, or comma-separated)', collectIfaces)
    .addOption(new Option('--hook <hook>', 'attach point: tc (clsact ingress) or xdp (default tc)').choices(['tc', 'xdp']))
    .addOption(
      new Option('--api <host:port>', 'REST API address; a non-loopback address needs a token (default 127.0.0.1:9400)').env('XLB_API'),
    )
    .option('--pin-dir <dir>', 'bpffs directory of the maps (default /sys/fs/bpf/xlb/INSTANCE)')
    .option('--instance <name>', 'instance name: the default config file and pin directory (default default)')
    .addOption(
      new Option('--token-file <file>', 'file holding the API bearer token (or the token itself in XLB_TOKEN)').env('XLB_TOKEN_FILE'),
    )
    .option('--detach-on-exit', 'detach the programs on SIGTERM (default: they stay attached, flows go on)')
    .option('--ct-entries <n>', 'conntrack entries (2 per flow) when the maps are created (default 262144)', integer(1))
    .option('--max-services <n>', 'service-id space when the maps are created (default 1024)', integer(1))
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .option('--request-logs', 'log every API request')
    .option('--snat-v4 <addr>', 'full-NAT source address for IPv4 services (an address of this host)')
    .option('--snat-v6 <addr>', 'full-NAT source address for IPv6 services')
    .addOption(new Option('--xdp-mode <mode>', 'with --hook xdp: native or generic').choices(['native', 'generic']).default('native'))
    .option('--object-dir <dir>', 'load xlb_<hook>.bpf.o from DIR instead of build/bpf (another build: a mutation, a test)')
    .option(
      '--reset',
      'start even when the config file is missing but the pinned maps hold services (they are deleted: the empty config is the desired state)',
    );
  act(cmd, () => run(cmd.opts<Opts>()));
  return runCommand(cmd, argv);
}

async function run(values: Opts): Promise<number> {
  const t0 = performance.now();
  // Imported here, not at the top, so that `xlb agent --help` loads none of the daemon. First
  // what the API socket needs (the settings, the logger); the daemon's modules (fastify, the
  // datapath and the addon, the controller) once it listens: loading them is work on this
  // thread (compiling, evaluating), which would only delay the socket.
  const [
    { canonicalIp },
    { ConfigError, readConfigFile },
    { createLogger },
    { isLoopback, listenApi, nonLoopbackWithoutToken, parseListen },
  ] = await Promise.all([import('../controller/ip.ts'), import('./config-file.ts'), import('./log.ts'), import('./listener.ts')]);
  const level = values.logLevel;
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
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(instance))
    return fail(`--instance '${instance}' is not a name (letters, digits, '.', '_', '-')`);
  const hook = values.hook ?? settings.hook ?? 'tc';
  if (hook !== 'tc' && hook !== 'xdp') return fail(`--hook '${hook}' is not tc or xdp`);
  const ifaces = (values.iface ?? settings.ifaces ?? []).flatMap((i) => i.split(',')).filter((i) => i !== '');
  const pinDir = values.pinDir ?? settings.pinDir ?? `/sys/fs/bpf/xlb/${instance}`;
  let api;
  try {
    api = parseListen(values.api ?? settings.api ?? '127.0.0.1:9400');
  } catch (err) {
    return fail((err as Error).message);
  }
  let token = process.env.XLB_TOKEN;
  const tokenFile = values.tokenFile ?? settings.tokenFile;
  if (tokenFile !== undefined) {
    try {
      token = readTokenFile(tokenFile);
    } catch (err) {
      return fail((err as Error).message);
    }
  }
  if (!isLoopback(api.host) && token === undefined) return fail(nonLoopbackWithoutToken(api.host));
  const ctEntries = values.ctEntries ?? 1 << 18;
  const maxServices = values.maxServices ?? 1024;

  const snatV4 = values.snatV4;
  const snatV6 = values.snatV6;
  if (snatV4 !== undefined && canonicalIp(snatV4)?.family !== 4) throw new UsageError(`--snat-v4 '${snatV4}' is not an IPv4 address`);
  if (snatV6 !== undefined && canonicalIp(snatV6)?.family !== 6) throw new UsageError(`--snat-v6 '${snatV6}' is not an IPv6 address`);
  const xdpMode = values.xdpMode;

  const objectDir = values.objectDir;
  const objectPath = objectDir === undefined ? undefined : path.join(objectDir, `xlb_${hook}.bpf.o`);
  if (objectPath !== undefined && !existsSync(objectPath))
    return fail(
      `--object-dir ${objectDir}: there is no ${path.basename(objectPath)} in it (build one with ./scripts/build.sh, or give the folder that holds it)`,
    );

  // Listen now (see listener.ts): /healthz says "starting" until the agent is ready.
  let listener;
  try {
    listener = await listenApi(api);
  } catch (err) {
    return fail(`cannot listen on ${values.api ?? settings.api ?? '127.0.0.1:9400'}: ${(err as Error).message}`);
  }
  const apiText = `${listener.address.host}:${listener.address.port}`;
  log.info({ api: apiText, auth: token !== undefined, ready: false }, 'REST API listening');
  const startFailed = async (code: number): Promise<number> => {
    listener.fail('the agent failed to start (see its log); nothing was changed');
    await listener.close();
    return code;
  };

  let modules;
  try {
    modules = await Promise.all([import('../datapath/kernel-datapath.ts'), import('../controller/validate.ts'), import('./agent.ts')]);
  } catch (err) {
    return startFailed(fail(`cannot load the agent's modules: ${(err as Error).message}`, { err }));
  }
  const [{ openKernelDatapath }, { ValidationError }, { startAgent }] = modules;
  let dph;
  try {
    dph = openKernelDatapath({
      hook,
      pinDir,
      onWarning: (f, m) => log.warn(f, m),
      ctEntries,
      maxServices,
      xdpMode,
      ...(objectPath !== undefined ? { objectPath } : {}),
      ...(snatV4 !== undefined ? { snatV4 } : {}),
      ...(snatV6 !== undefined ? { snatV6 } : {}),
    });
  } catch (err) {
    return startFailed(fail(`cannot load the datapath: ${(err as Error).message}`, { err }));
  }
  const held = dph.reusedPins ? dph.datapath.listServices().length : 0;
  if (held > 0 && !existsSync(configFile) && values.reset !== true) {
    dph.close();
    return startFailed(
      fail(
        `the maps pinned in ${pinDir} hold ${held} service(s) but the config file ${configFile} does not exist: starting would delete them all. ` +
          'Start with the config file that created them (--config), or pass --reset to start from no services.',
      ),
    );
  }
  log.info(
    { instance, hook, pinDir, reused: dph.reusedPins, config: configFile },
    dph.reusedPins ? 're-opened the pinned datapath maps' : 'loaded the datapath',
  );
  let agent;
  try {
    agent = await startAgent(dph, {
      configFile,
      ifaces,
      api,
      listener,
      detachOnExit: values.detachOnExit === true,
      log,
      requestLogs: values.requestLogs === true,
      ...(token !== undefined ? { token } : {}),
    });
  } catch (err) {
    dph.close();
    if (err instanceof ValidationError) return startFailed(fail(`${configFile} is invalid; nothing was changed:\n${err.message}`));
    if (err instanceof ConfigError) return startFailed(fail(err.message));
    return startFailed(fail((err as Error).message, { err }));
  }
  // The line to wait for (the lab, the tests): the datapath is open, the config applied, the
  // interfaces attached and the API serving.
  log.info({ api: apiText, startMs: Math.round(performance.now() - t0) }, 'agent ready');
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
