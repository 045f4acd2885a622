// `xlb scenario from-pcap FILE [--out PATH] [--client IP…] [--vip IP:PORT…] [--backend IP…]`:
// a field capture to a scenario skeleton. docs/from-pcap.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { act, collect, command, Option, runCommand, sub } from '../cli-kit.ts';
import { analyzePcap } from './from-pcap/analyze.ts';
import type { FromPcapOptions } from './from-pcap/analyze.ts';
import { emitScenario } from './from-pcap/emit.ts';
import { shrinkScenario } from './from-pcap/shrink.ts';
import { expectationsFrom, RECORD_ENV, RECORD_LINES } from './from-pcap/record.ts';
import type { Recording } from './from-pcap/record.ts';
import { ROOT } from '../root.ts';

interface FromPcapOpts {
  out?: string;
  client?: string[];
  vip?: string[];
  backend?: string[];
}

export async function main(argv: string[]): Promise<number> {
  const scenario = command(
    'scenario',
    'Scenarios from the field: a capture to a scenario skeleton, a failing scenario to its smallest reproducer (docs/from-pcap.md).',
  );
  const fromPcap = sub(
    scenario,
    'from-pcap',
    "Turns a capture (classic pcap; pcapng is refused with the command that converts it) into a scenario skeleton: the flows found, every address mapped into the lab's ranges (clients 198.18.1.1x, VIPs 198.18.100.x, backends 198.18.2.1x; IPv6 into fd00:18:…), the clients' packets injected from the client node, and the reference model's verdicts (one run on sim) as the first expectations, to edit.",
  )
    .argument('<file>', 'the capture')
    .option('--out <path>', 'the scenario to write (default scenarios/field-bugs/<capture name>.ts)')
    .option('--client <ip>', 'the client addresses (default: whoever opens a flow); repeatable or comma-separated', collect)
    .option('--vip <ip:port>', 'the services (default: where the clients open flows to); [IPv6]:PORT; repeatable', collect)
    .option(
      '--backend <ip>',
      "the backends (default: what answers the same client socket behind a translation, when the capture sees both sides; else the topology's 3 backends); repeatable",
      collect,
    );
  act(fromPcap, () => {
    const o = fromPcap.opts<FromPcapOpts>();
    return fromPcapMain({
      file: fromPcap.processedArgs[0] as string,
      ...(o.out !== undefined ? { out: o.out } : {}),
      clients: o.client ?? [],
      vips: o.vip ?? [],
      backends: o.backend ?? [],
    });
  });
  const shrink = sub(
    scenario,
    'shrink',
    'Given a scenario written by from-pcap that fails (its expectations edited to describe the bug), removes injected packets while every check that failed still fails with the same message line, and writes the smallest reproducer.',
  )
    .argument('<scenario>', 'the failing scenario')
    .addOption(new Option('--backend <backend>', 'where to run it: sim (any user) or prog (root)').choices(['sim', 'prog']).default('sim'))
    .option('--out <path>', 'where the reproducer goes (default SCENARIO with -min before .ts)');
  act(shrink, () => {
    const o = shrink.opts<{ backend: 'sim' | 'prog'; out?: string }>();
    return shrinkMain(shrink.processedArgs[0] as string, o.backend, o.out);
  });
  return runCommand(scenario, argv);
}

interface Args extends FromPcapOptions {
  file: string;
  out?: string;
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

async function fromPcapMain(a: Args): Promise<number> {
  const analysis = await analyzePcap(a.file, a);
  const stem = path
    .basename(a.file)
    .replace(/\.(pcap|cap|dmp)$/i, '')
    .replace(/[^A-Za-z0-9_-]+/g, '-');
  const out = path.resolve(a.out ?? path.join(ROOT, 'scenarios', 'field-bugs', `${stem}.ts`));
  mkdirSync(path.dirname(out), { recursive: true });
  const command = [
    'xlb scenario from-pcap',
    path.relative(ROOT, path.resolve(a.file)) || a.file,
    ...(a.clients ?? []).map((c) => `--client ${c}`),
    ...(a.vips ?? []).map((v) => `--vip ${v}`),
    ...(a.backends ?? []).map((b) => `--backend ${b}`),
  ].join(' ');

  // Pass 1: the replay with a recording block instead of expectations, run once on sim.
  const probe = path.join(path.dirname(out), `from-pcap-recording-${process.pid}.ts`);
  let recording: Recording;
  try {
    writeFileSync(
      probe,
      emitScenario(analysis, { out: probe, root: ROOT, expectations: RECORD_LINES, provenance: 'being recorded', command }).text,
    );
    recording = recordOnSim(probe);
  } finally {
    rmSync(probe, { force: true });
  }
  // Pass 2: the same scenario with the model's verdicts as its expectations.
  const { lines, allowDrops } = expectationsFrom(recording, analysis.topo);
  const { text, injected, left } = emitScenario(analysis, {
    out,
    root: ROOT,
    expectations: lines,
    provenance: "the reference model's verdicts (one run on sim when this file was generated)",
    command,
  });
  const final =
    allowDrops.length === 0
      ? text
      : text.replace(
          '  services:',
          `  // Drops the model made on the replay (edit: keep only the ones the scenario is about).\n  allowDrops: [${allowDrops.map((d) => `'${d}'`).join(', ')}],\n  services:`,
        );
  writeFileSync(out, final);
  console.log(
    `${path.relative(process.cwd(), out) || out}: ${analysis.flows.length} flows, ${analysis.clients.length} client(s), ${analysis.vips.length} VIP(s), ${analysis.backends.length} backend(s) seen; ${injected} packets injected${left.length > 0 ? `, ${left.length} left out (see the header)` : ''}; ${lines.length} expectations from sim`,
  );
  for (const [o, l] of analysis.map) console.log(`  ${o} → ${l}`);
  console.log(`next: edit it (the header says what), then xlb run ${path.relative(process.cwd(), out) || out} --backend sim,prog`);
  return 0;
}

async function shrinkMain(file: string, backend: 'sim' | 'prog', out: string | undefined): Promise<number> {
  const dest = path.resolve(out ?? file.replace(/\.ts$/, '-min.ts'));
  const r = await Promise.resolve(shrinkScenario(file, { root: ROOT, backend, log: (l) => console.log(l) }));
  writeFileSync(dest, r.text);
  console.log(
    `${path.relative(process.cwd(), dest) || dest}: ${r.before} → ${r.after} injected packets in ${r.runs} runs on ${backend}; still failing with:`,
  );
  for (const s of r.signature) console.log(`  ${s}`);
  return 0;
}
