// `xlb scenario from-pcap FILE [--out PATH] [--client IP…] [--vip IP:PORT…] [--backend IP…]`:
// a field capture to a scenario skeleton. docs/from-pcap.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { analyzePcap } from './from-pcap/analyze.ts';
import type { FromPcapOptions } from './from-pcap/analyze.ts';
import { emitScenario } from './from-pcap/emit.ts';
import { shrinkScenario } from './from-pcap/shrink.ts';
import { expectationsFrom, RECORD_ENV, RECORD_LINES } from './from-pcap/record.ts';
import type { Recording } from './from-pcap/record.ts';
import { ROOT } from '../root.ts';


const USAGE = `usage: xlb scenario from-pcap FILE [--out PATH] [--client IP…] [--vip IP:PORT…] [--backend IP…]
       xlb scenario shrink SCENARIO [--backend sim|prog] [--out PATH]

Turns a capture (classic pcap; pcapng is refused with the command that converts it) into a
scenario skeleton: the flows found, every address mapped into the lab's ranges (clients
198.18.1.1x, VIPs 198.18.100.x, backends 198.18.2.1x; IPv6 into fd00:18:…), the clients' packets
injected from the client node, and the reference model's verdicts (one run on sim) as the first
expectations, to edit.

  --out PATH       the scenario to write (default scenarios/field-bugs/<capture name>.ts)
  --client IP      the client addresses (default: whoever opens a flow); repeatable
  --vip IP:PORT    the services (default: where the clients open flows to); [IPv6]:PORT; repeatable
  --backend IP     the backends (default: what answers the same client socket behind a translation,
                   when the capture sees both sides; else the topology's 3 backends); repeatable

shrink: given a scenario written by from-pcap that fails (its expectations edited to describe
the bug), removes injected packets while every check that failed still fails with the same
message line, and writes the smallest reproducer (default SCENARIO with -min before .ts).
  --backend B      where to run it: sim (default, any user) or prog (root)`;

interface Args extends FromPcapOptions {
  file: string;
  out?: string;
}

function parseArgs(argv: string[]): Args | string {
  const [verb, ...rest] = argv;
  if (verb !== 'from-pcap') return verb === undefined ? 'give a subcommand: from-pcap or shrink' : `unknown subcommand '${verb}' (there are: from-pcap, shrink)`;
  const a: Partial<Args> & { clients: string[]; vips: string[]; backends: string[] } = { clients: [], vips: [], backends: [] };
  for (let i = 0; i < rest.length; i++) {
    const k = rest[i] ?? '';
    const v = rest[i + 1];
    const list = k === '--client' ? a.clients : k === '--vip' ? a.vips : k === '--backend' ? a.backends : undefined;
    if (list !== undefined || k === '--out') {
      if (v === undefined || v.startsWith('--')) return `${k} needs a value`;
      if (list !== undefined) list.push(...v.split(','));
      else a.out = v;
      i++;
    } else if (k.startsWith('-')) return `unknown option ${k}`;
    else if (a.file === undefined) a.file = k;
    else return `one capture at a time (got ${a.file} and ${k})`;
  }
  if (a.file === undefined) return 'give the capture: xlb scenario from-pcap FILE';
  return { ...a, file: a.file };
}

/** Runs a scenario once on sim and returns what it recorded. */
function recordOnSim(file: string): Recording {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-from-pcap-'));
  const rec = path.join(dir, 'recording.json');
  try {
    const r = spawnSync(path.join(ROOT, 'xlb'), ['run', file, '--backend', 'sim', '--report', path.join(dir, 'report'), '--tap'], {
      env: { ...process.env, [RECORD_ENV]: rec },
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (!existsSync(rec)) throw new Error(`the replay on sim recorded nothing (exit ${String(r.status)}):\n${r.stdout}${r.stderr}`);
    return JSON.parse(readFileSync(rec, 'utf8')) as Recording;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (argv[0] === 'shrink') return shrinkMain(argv.slice(1));
  const a = parseArgs(argv);
  if (typeof a === 'string') {
    console.error(`xlb scenario: ${a}\n\n${USAGE}`);
    return 2;
  }
  let analysis;
  try {
    analysis = await analyzePcap(a.file, a);
  } catch (e) {
    console.error(`xlb scenario from-pcap: ${(e as Error).message}`);
    return 1;
  }
  const stem = path.basename(a.file).replace(/\.(pcap|cap|dmp)$/i, '').replace(/[^A-Za-z0-9_-]+/g, '-');
  const out = path.resolve(a.out ?? path.join(ROOT, 'scenarios', 'field-bugs', `${stem}.ts`));
  mkdirSync(path.dirname(out), { recursive: true });
  const command = ['xlb scenario from-pcap', path.relative(ROOT, path.resolve(a.file)) || a.file, ...(a.clients ?? []).map((c) => `--client ${c}`), ...(a.vips ?? []).map((v) => `--vip ${v}`), ...(a.backends ?? []).map((b) => `--backend ${b}`)].join(' ');

  // Pass 1: the replay with a recording block instead of expectations, run once on sim.
  const probe = path.join(path.dirname(out), `from-pcap-recording-${process.pid}.ts`);
  let recording: Recording;
  try {
    writeFileSync(probe, emitScenario(analysis, { out: probe, root: ROOT, expectations: RECORD_LINES, provenance: 'being recorded', command }).text);
    recording = recordOnSim(probe);
  } catch (e) {
    console.error(`xlb scenario from-pcap: ${(e as Error).message}`);
    return 1;
  } finally {
    rmSync(probe, { force: true });
  }
  // Pass 2: the same scenario with the model's verdicts as its expectations.
  const { lines, allowDrops } = expectationsFrom(recording, analysis.topo);
  const { text, injected, left } = emitScenario(analysis, { out, root: ROOT, expectations: lines, provenance: "the reference model's verdicts (one run on sim when this file was generated)", command });
  const final = allowDrops.length === 0 ? text : text.replace('  services:', `  // Drops the model made on the replay (edit: keep only the ones the scenario is about).\n  allowDrops: [${allowDrops.map((d) => `'${d}'`).join(', ')}],\n  services:`);
  writeFileSync(out, final);
  console.log(`${path.relative(process.cwd(), out) || out}: ${analysis.flows.length} flows, ${analysis.clients.length} client(s), ${analysis.vips.length} VIP(s), ${analysis.backends.length} backend(s) seen; ${injected} packets injected${left.length > 0 ? `, ${left.length} left out (see the header)` : ''}; ${lines.length} expectations from sim`);
  for (const [o, l] of analysis.map) console.log(`  ${o} → ${l}`);
  console.log(`next: edit it (the header says what), then xlb run ${path.relative(process.cwd(), out) || out} --backend sim,prog`);
  return 0;
}

async function shrinkMain(argv: string[]): Promise<number> {
  let file: string | undefined;
  let out: string | undefined;
  let backend: 'sim' | 'prog' = 'sim';
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i] ?? '';
    const v = argv[i + 1];
    if (k === '--out' || k === '--backend') {
      if (v === undefined) return usageError(`${k} needs a value`);
      if (k === '--out') out = v;
      else if (v === 'sim' || v === 'prog') backend = v;
      else return usageError(`--backend ${v}: shrink runs on sim or prog`);
      i++;
    } else if (k.startsWith('-')) return usageError(`unknown option ${k}`);
    else if (file === undefined) file = k;
    else return usageError(`one scenario at a time (got ${file} and ${k})`);
  }
  if (file === undefined) return usageError('give the failing scenario: xlb scenario shrink SCENARIO');
  const dest = path.resolve(out ?? file.replace(/\.ts$/, '-min.ts'));
  try {
    const r = await Promise.resolve(shrinkScenario(file, { root: ROOT, backend, log: (l) => console.log(l) }));
    writeFileSync(dest, r.text);
    console.log(`${path.relative(process.cwd(), dest) || dest}: ${r.before} → ${r.after} injected packets in ${r.runs} runs on ${backend}; still failing with:`);
    for (const s of r.signature) console.log(`  ${s}`);
    return 0;
  } catch (e) {
    console.error(`xlb scenario shrink: ${(e as Error).message}`);
    return 1;
  }
}

function usageError(m: string): number {
  console.error(`xlb scenario: ${m}\n\n${USAGE}`);
  return 2;
}
