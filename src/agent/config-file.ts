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
// The agent keeps it current through src/agent/config-store.ts (a journal beside it, compacted
// into it atomically: temp file in the same directory, fsync, rename).
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
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

/**
 * The file's text: YAML in a fixed, fast shape. Scalars and nested objects are written as JSON
 * (JSON is YAML 1.2, and JSON quoting is exact for IPv6 addresses and any name), one endpoint per
 * line. The generic YAML serializer takes seconds for 10,000 services; this takes milliseconds.
 */
export function configText(agent: AgentSettings, state: DesiredState): string {
  const out: string[] = ['# Written by xlb agent on every change (atomic replace). Edit, then SIGHUP the agent to reload.'];
  if (Object.keys(agent).length > 0) {
    out.push('agent:');
    for (const [k, v] of Object.entries(agent)) out.push(`  ${k}: ${JSON.stringify(v)}`);
  }
  if (state.services.length === 0) out.push('services: []');
  else out.push('services:');
  for (const svc of state.services) {
    let first = true;
    for (const [k, v] of Object.entries(svc)) {
      if (v === undefined) continue;
      const lead = first ? '  - ' : '    ';
      first = false;
      if (k === 'endpoints' && Array.isArray(v) && v.length > 0) {
        out.push(`${lead}endpoints:`);
        for (const e of v) out.push(`      - ${JSON.stringify(e)}`);
      } else {
        out.push(`${lead}${k}: ${JSON.stringify(v)}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}
