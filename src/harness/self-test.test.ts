// The harness catches what it should: the same scenarios, run through the real `xlb run`
// command, against (a) a deliberately wrong configuration, (b) a deliberately broken model,
// (c) a deliberately broken BPF object (built with -DXLB_FAULT_NAT_L4_PSEUDO: the NAT stage
// stops updating the L4 checksum's pseudo-header). Each run must fail, and its report must
// name the broken thing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { backendUnavailable } from './backends.ts';
import { buildFaultyObjects } from './faulty-build.ts';
import { failureText } from './results.ts';
import type { RunSummary } from './results.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DNAT = path.join(ROOT, 'scenarios/lb/rr-tcp-dnat.ts');

async function xlbRun(args: string[]): Promise<{ code: number; summary: RunSummary; text: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-selftest-'));
  try {
    const r = await execa(path.join(ROOT, 'xlb'), ['run', ...args, '--hook', 'tc', '--seed', '11', '--report', dir, '--tap'], {
      reject: false,
      all: true,
      cwd: ROOT,
    });
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
    return {
      code: r.exitCode ?? -1,
      summary,
      text: summary.results.map(failureText).join('\n') + summary.results.flatMap((x) => x.log).join('\n'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('(a) a wrong configuration fails, naming the host that refused and the port', async (t) => {
  const r = await xlbRun([path.join(ROOT, 'src/harness/self-test/wrong-endpoint-port.ts'), '--backend', 'sim']);
  t.is(r.code, 1);
  t.is(r.summary.failed, 1);
  t.regex(r.text, /every connection succeeded[\s\S]*3 of 3 failed/);
  t.regex(r.text, /198\.18\.2\.1\d:7999 sent a RST/, 'the diagnosis names the backend port that refused');
});

test('(b) a broken model fails on sim, naming the untranslated replies that reached the client', async (t) => {
  const r = await xlbRun([DNAT, '--backend', 'sim', '--model-fault', 'reply-untranslated']);
  t.is(r.code, 1);
  const sim = r.summary.results.find((x) => x.backend === 'sim');
  t.is(sim?.status, 'failed');
  t.regex(
    sim === undefined ? '' : failureText(sim),
    /no backend address reached a client untranslated[\s\S]*leaked: c1\/clients at [\d.]+ ms: 198\.18\.2\.1\d:7000 → 198\.18\.1\.11/,
  );
});

test('an unknown model fault is refused with the list of faults', async (t) => {
  const r = await xlbRun([DNAT, '--backend', 'sim', '--model-fault', 'no-such-fault']);
  t.is(r.code, 1);
  t.regex(r.text, /unknown fault 'no-such-fault'; known faults: reply-untranslated/);
});

test('(c) a broken BPF object fails on prog, naming the bad checksum, and prog disagrees with sim', async (t) => {
  const why = backendUnavailable('prog');
  if (why !== undefined) {
    t.log(`skipped: ${why}`);
    t.pass();
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-faulty-'));
  try {
    await buildFaultyObjects('NAT_L4_PSEUDO', dir);
    const r = await xlbRun([DNAT, '--backend', 'sim,prog', '--object-dir', dir]);
    t.is(r.code, 1);
    const prog = r.summary.results.find((x) => x.backend === 'prog');
    t.is(prog?.status, 'failed');
    t.is(r.summary.results.find((x) => x.backend === 'sim')?.status, 'passed', 'the model is not broken');
    t.regex(prog === undefined ? '' : failureText(prog), /valid checksums on all \d+ captured packets[\s\S]*tcp checksum bad/);
    const diff = r.summary.results.find((x) => x.backend === 'diff:sim-prog');
    t.is(diff?.status, 'failed');
    t.regex(
      diff === undefined ? '' : failureText(diff),
      /sim vs prog differ at:\n.*links\.lb\/clients\[1\]: "[^"|]*198\.18\.100\.1\.7000 > 198\.18\.1\.11\.\d+: tcp \[S\.\]/,
      'the differential check names the first packet that differs, decoded: the SYN-ACK the model forwarded and the kernel did not',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
