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
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { Type } from 'typebox';
import type { Static } from 'typebox';
import type { DesiredState } from '../controller/types.ts';
import { schemaCheck } from '../controller/service-schema.ts';
import { formatErrors } from '../controller/validate.ts';

const nonEmpty = (description: string) => Type.String({ minLength: 1, 'x-what': 'a non-empty string', description });

/** The `agent:` section; every key optional, command-line flags win. */
export const AgentSettingsSchema = Type.Object(
  {
    instance: Type.Optional(nonEmpty('instance name (pins under /sys/fs/bpf/xlb/INSTANCE)')),
    ifaces: Type.Optional(Type.Array(nonEmpty('interface name'), { 'x-what': 'a list of interface names' })),
    hook: Type.Optional(Type.Enum(['tc', 'xdp'])),
    api: Type.Optional(nonEmpty('HOST:PORT of the REST API')),
    pinDir: Type.Optional(nonEmpty('bpffs directory of the pinned maps')),
    tokenFile: Type.Optional(nonEmpty('file holding the API bearer token')),
  },
  { additionalProperties: false, 'x-what': 'a mapping of agent settings' },
);
export type AgentSettings = Static<typeof AgentSettingsSchema>;

/**
 * The file's top level. `services` is left to the controller, which validates it as a whole
 * (schema and semantic rules in one pass: src/controller/validate.ts), with the same messages
 * as the REST API.
 */
const ConfigFileSchema = Type.Object(
  { agent: Type.Optional(AgentSettingsSchema), services: Type.Optional(Type.Unknown()) },
  { additionalProperties: false, 'x-what': "a mapping with 'agent' and 'services'" },
);
const checkConfigFile = schemaCheck(ConfigFileSchema);

export interface ConfigFile {
  agent: AgentSettings;
  /** Unvalidated: the controller validates it as a whole. */
  services: unknown;
}

export class ConfigError extends Error {}

/** Reads the config file; a missing file is an empty config. Throws ConfigError on bad YAML or agent settings. */
export function readConfigFile(file: string): ConfigFile {
  if (!existsSync(file)) return { agent: {}, services: [] };
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return { agent: {}, services: [] };
  // `agent:` with nothing under it is YAML null: no settings.
  if (typeof doc === 'object' && (doc as { agent?: unknown }).agent === null) delete (doc as { agent?: unknown }).agent;
  const r = checkConfigFile(doc);
  if (!r.ok) throw new ConfigError(`${file}:\n${formatErrors(r.errors)}`);
  return { agent: r.value.agent ?? {}, services: r.value.services ?? [] };
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

/**
 * fsync of a directory: a rename or a new file in it survives a crash. Asynchronous (the thread
 * pool waits for the disk): a synchronous fsync here held the agent's event loop, and every
 * request behind it, for the length of a disk flush at every compaction.
 */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Temp file beside `file`, fsync, rename over, fsync of the directory: a crash leaves the old or the new text, never a torn one. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp);
    throw err;
  }
  await fh.close();
  await rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

// ------------------------------------------------------------------ persisted health
// Beside the config file, the agent keeps which endpoints its health checks hold down, so a
// restarted agent starts them down (until `rise` probes succeed) instead of sending new flows to
// them until `fall` probes fail again. Runtime state, not desired state: a file of its own.

export interface DownEndpoint {
  service: string;
  ip: string;
  port: number;
}

const HealthFileSchema = Type.Object(
  {
    down: Type.Array(
      Type.Object(
        { service: Type.String(), ip: Type.String(), port: Type.Integer({ minimum: 0, maximum: 65535 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
const checkHealthFile = schemaCheck(HealthFileSchema);

/** The health file of a config file: `agent.yaml` → `agent.health.json` beside it. */
export function healthFileFor(configFile: string): string {
  return path.join(path.dirname(configFile), `${path.basename(configFile, path.extname(configFile))}.health.json`);
}

/** The endpoints persisted as down; a missing file is none. Throws ConfigError on a file that is not ours. */
export function readHealthFile(file: string): DownEndpoint[] {
  if (!existsSync(file)) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON (${(err as Error).message}); delete it to start every endpoint up`);
  }
  const r = checkHealthFile(doc);
  if (!r.ok) throw new ConfigError(`${file}:\n${formatErrors(r.errors)}\ndelete it to start every endpoint up`);
  return r.value.down;
}

function healthFileText(down: DownEndpoint[]): string {
  return `${JSON.stringify({ down }, null, 1)}\n`;
}

export async function writeHealthFile(file: string, down: DownEndpoint[]): Promise<void> {
  await writeFileAtomic(file, healthFileText(down));
}

/**
 * Persists the down endpoints on every health change, one write at a time: a change that arrives
 * while a write runs is taken by one more write after it (the latest state wins, flaps in between
 * cost nothing). `flush()` resolves once the state at the call is on disk.
 */
export class HealthFileWriter {
  private readonly file: string;
  private readonly state: () => DownEndpoint[];
  private readonly onError: (err: Error) => void;
  private running: Promise<void> | undefined;
  private dirty = false;
  /** The text last written (undefined: nothing written by this process yet). */
  private written: string | undefined;
  /** Writes made (tests). */
  writes = 0;

  constructor(file: string, state: () => DownEndpoint[], onError: (err: Error) => void) {
    this.file = file;
    this.state = state;
    this.onError = onError;
  }

  /** A write of the current state (or one after the running write). */
  request(): void {
    this.dirty = true;
    if (this.running === undefined) this.running = this.loop();
  }

  async flush(): Promise<void> {
    this.request();
    await this.running;
  }

  private async loop(): Promise<void> {
    // Yield first: the requests of this turn share one look at the state, and `running` is set
    // by request() before this loop can clear it.
    await Promise.resolve();
    while (this.dirty) {
      this.dirty = false;
      // The agent requests a write on every change of a service (one may have removed a down
      // endpoint), most of which leave the down set as it was: no write then (a write is a
      // temp file, two fsyncs and a rename, per PUT).
      const text = healthFileText(this.state());
      if (text === this.written) continue;
      try {
        await writeFileAtomic(this.file, text);
        this.written = text;
        this.writes++;
      } catch (err) {
        this.onError(err instanceof Error ? err : new Error(String(err)));
      }
    }
    this.running = undefined;
  }
}
