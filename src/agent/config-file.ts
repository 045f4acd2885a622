// The agent's config file (YAML): optional agent settings and the desired services.
//
//   agent:                      # every key optional; command-line flags win
//     instance: default
//     ifaces: [eth0]
//     hook: tc                  # tc | xdp
//     api: 127.0.0.1:9400
//     pinDir: /sys/fs/bpf/xlb/default
//     tokenFile: /etc/xlb/token
//   services:
//     - name: web
//       vip: 198.18.100.1
//       port: 80
//       endpoints: [{ ip: 198.18.2.1, port: 8080 }]
//
// Written atomically (temp file in the same directory, fsync, rename) after every change made
// through the API: a crash leaves the old or the new file, never a torn one.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, existsSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { DesiredState } from '../controller/types.ts';

export interface AgentSettings {
  instance?: string;
  ifaces?: string[];
  hook?: 'tc' | 'xdp';
  api?: string;
  pinDir?: string;
  tokenFile?: string;
}

export interface ConfigFile {
  agent: AgentSettings;
  /** Unvalidated: the controller validates it as a whole. */
  services: unknown;
}

export class ConfigError extends Error {}

function checkAgent(v: unknown, file: string): AgentSettings {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${file}: agent: is not a mapping (expected keys instance, ifaces, hook, api, pinDir, tokenFile)`);
  const o = v as Record<string, unknown>;
  const allowed = ['instance', 'ifaces', 'hook', 'api', 'pinDir', 'tokenFile'];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new ConfigError(`${file}: agent.${k}: unknown setting; allowed: ${allowed.join(', ')}`);
  const str = (k: string): string | undefined => {
    const x = o[k];
    if (x === undefined) return undefined;
    if (typeof x !== 'string' || x === '') throw new ConfigError(`${file}: agent.${k}: ${JSON.stringify(x)} is not a non-empty string`);
    return x;
  };
  const out: AgentSettings = {};
  const instance = str('instance');
  if (instance !== undefined) out.instance = instance;
  if (o.ifaces !== undefined) {
    if (!Array.isArray(o.ifaces) || !o.ifaces.every((i) => typeof i === 'string' && i !== '')) throw new ConfigError(`${file}: agent.ifaces: is not a list of interface names`);
    out.ifaces = o.ifaces as string[];
  }
  const hook = str('hook');
  if (hook !== undefined) {
    if (hook !== 'tc' && hook !== 'xdp') throw new ConfigError(`${file}: agent.hook: '${hook}' is not one of tc, xdp`);
    out.hook = hook;
  }
  const api = str('api');
  if (api !== undefined) out.api = api;
  const pinDir = str('pinDir');
  if (pinDir !== undefined) out.pinDir = pinDir;
  const tokenFile = str('tokenFile');
  if (tokenFile !== undefined) out.tokenFile = tokenFile;
  return out;
}

/** Reads the config file; a missing file is an empty config. Throws ConfigError on bad YAML. */
export function readConfigFile(file: string): ConfigFile {
  if (!existsSync(file)) return { agent: {}, services: [] };
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return { agent: {}, services: [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${file}: the top level must be a mapping with 'agent' and 'services'`);
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'agent' && k !== 'services') throw new ConfigError(`${file}: ${k}: unknown top-level key; allowed: agent, services`);
  return { agent: checkAgent(o.agent, file), services: o.services ?? [] };
}

/** Writes the file atomically: temp file beside it, fsync, rename over. */
export function writeConfigFile(file: string, agent: AgentSettings, state: DesiredState): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const body: Record<string, unknown> = {};
  if (Object.keys(agent).length > 0) body.agent = agent;
  body.services = state.services;
  const text = `# Written by xlb agent on every change (atomic replace). Edit, then SIGHUP the agent to reload.\n${stringify(body)}`;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
}
