import test from 'ava';
import type { LabBenchResult, Sample } from './lab/run.ts';
import { DEFAULT_LAB_BENCH, summarizeSamples } from './lab/run.ts';
import type { BenchReport, Environment } from './report.ts';
import { aimsMarkdown, labChart, labSection, updateReadme } from './report.ts';
import type { LbConfig } from './lab/configs.ts';

const wrk = (rps: number) => ({
  requests: rps * 5,
  durationS: 5,
  requestsPerSec: rps,
  latencyP50Ms: 1,
  latencyP99Ms: 5,
  errors: { connect: 0, read: 0, write: 0, timeout: 0 },
  non2xx: 0,
});

function sample(config: LbConfig, round: number, rps: number, cps: number): Sample {
  return {
    config,
    round,
    setupMs: 1,
    idleBefore: { keepalive: 1, close: 1, udp: 1 },
    keepalive: wrk(rps),
    close: wrk(cps),
    udp: null,
    cpu: { softirqS: 1, busyS: 2 },
    figures: { rps, cps, udpPps: config === 'haproxy' ? null : rps * 2, p50Ms: 1, p99Ms: 5, softirqUsPerReq: 2, cpuUsPerReq: 4 },
  };
}

function result(): LabBenchResult {
  // Medians of three rounds: direct 100 (90, 100, 300), nft-dnat 80, nginx 50, xlb-tc 120, haproxy 40.
  const samples = [
    ...[90, 100, 300].map((v, i) => sample('direct', i + 1, v, v / 10)),
    ...[80, 70, 85].map((v, i) => sample('nft-dnat', i + 1, v, v / 10)),
    ...[50, 50, 50].map((v, i) => sample('nginx', i + 1, v, v / 10)),
    ...[120, 130, 110].map((v, i) => sample('xlb-tc', i + 1, v, v / 10)),
    ...[40, 40, 40].map((v, i) => sample('haproxy', i + 1, v, v / 10)),
  ];
  const configs: LbConfig[] = ['direct', 'xlb-tc', 'nft-dnat', 'nginx', 'haproxy'];
  return {
    options: { ...DEFAULT_LAB_BENCH, configs },
    startedAt: '2026-12-02T00:20:00.000Z',
    durationS: 1,
    topology: 't',
    samples,
    failures: [],
    configs: summarizeSamples(samples, configs),
  };
}

test('summarizeSamples: medians per configuration, ratios to direct and to nft-dnat; a missing figure stays null', (t) => {
  const r = result();
  const xlb = r.configs.find((c) => c.config === 'xlb-tc');
  t.is(xlb?.median.rps, 120);
  t.is(xlb?.vsDirect.rps, 1.2);
  t.is(xlb?.vsNftDnat.rps, 120 / 80);
  const hap = r.configs.find((c) => c.config === 'haproxy');
  t.is(hap?.median.udpPps, null);
  t.is(hap?.vsDirect.udpPps, null);
});

test('aimsMarkdown marks each aim met or not from the medians', (t) => {
  const md = aimsMarkdown(result());
  // 120/100 = 1.20 ≥ 1.0 ✓; 120/80 = 1.50 ≥ 1.3 ✓; 120/50 = 2.40 ≥ 1.6 ✓
  t.regex(md, /\| xlb-tc \| requests\/s \| 1\.20× ✓ \| 1\.50× ✓ \| 2\.40× ✓ \|/);
  const worse = result();
  for (const s of worse.samples) if (s.config === 'xlb-tc') s.figures.rps = 90;
  worse.configs = summarizeSamples(worse.samples, worse.options.configs);
  t.regex(aimsMarkdown(worse), /\| xlb-tc \| requests\/s \| 0\.90× ✗ \| 1\.13× ✗ \| 1\.80× ✓ \|/);
});

test('labChart renders an SVG with every configuration', (t) => {
  const svg = labChart(result());
  t.regex(svg, /^<svg/);
  for (const c of ['direct', 'xlb-tc', 'nft-dnat', 'nginx', 'haproxy']) t.true(svg.includes(c), c);
});

test('updateReadme replaces only the blocks of the suites the report has, and refuses a README without them', (t) => {
  const env = {
    date: '2026-12-02T00:20:00.000Z',
    kernel: 'Linux 6.18',
    cpu: 'AMD EPYC',
    cpus: 2,
    uptimeStart: 'up 3:00, load average: 0.50, 0.40, 0.30',
  } as Environment;
  const rep: BenchReport = { command: 'xlb bench --suite lab', quick: false, environment: env, lab: result(), other: {} };
  const harnessOld =
    '<!-- bench:harness:begin (written by xlb bench; edits here are overwritten) -->\nold harness\n<!-- bench:harness:end -->';
  const readme = `# x\n<!-- bench:lab:begin (written by xlb bench; edits here are overwritten) -->\nold lab\n<!-- bench:lab:end -->\n\n${harnessOld}\ntail\n`;
  const out = updateReadme(readme, rep, '/nowhere/reports/bench/2026-12-02T00-20-00Z');
  t.false(out.includes('old lab'));
  t.true(out.includes(harnessOld));
  t.regex(out, /Made by `xlb bench --suite lab` at 2026-12-02T00:20Z .*load average at start 0\.50, 0\.40, 0\.30/);
  t.regex(out, /\| \*\*xlb-tc\*\* \| 120 \|/);
  t.true(out.endsWith('tail\n'));
  t.throws(() => updateReadme('# no blocks\n', rep, '/x'), { message: /no bench block for lab/ });
});

test('labSection: the table, the aims, every ratio, the idle fractions and the error line', (t) => {
  const md = labSection(result());
  t.regex(md, /\| xlb-tc \| 1\.20× \/ 1\.50× \|/);
  t.regex(md, /\| haproxy \| 0\.40× \/ 0\.50× \| 0\.40× \/ 0\.50× \| — \/ — \|/);
  t.regex(md, /Idle CPU before each keep-alive measurement: direct r1 100%/);
  t.regex(md, /No socket errors, no non-2xx answers, every UDP packet delivered\./);
  const lossy = result();
  const s0 = lossy.samples[0];
  if (s0 !== undefined) s0.udp = { sent: 1000, delivered: 900, sendS: 1, pps: 900, attempts: 2 };
  t.regex(labSection(lossy), /Errors and losses: direct r1 UDP: 900 of 1,000 delivered; direct r1 UDP: measured on trafgen's run 2 /);
  lossy.failures.push({ config: 'nginx', round: 2, error: 'lb: nothing listens on tcp/80\nmore' });
  t.regex(labSection(lossy), /nginx r2 FAILED \(not measured\): lb: nothing listens on tcp\/80\./);
});
