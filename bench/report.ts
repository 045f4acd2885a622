// The bench's report: reports/bench/<timestamp>/ with
//
//   bench.json         the environment (kernel, CPU, tool versions, load) and every suite's result
//   report.md          the same as tables (the lab table with ratios, the aims, the harness times)
//   lab.svg            ratios to `direct` per configuration (requests/s, connections/s, UDP)
//   harness.svg        whole-suite wall time per backend
//
// Charts are Apache ECharts' server-side SVG rendering (as the run report's, src/harness/report/
// charts.ts): the chart is data, axes and scales are the library's. A full (not --quick) run also
// rewrites the README's bench block with the latest table and the command that made it.
import { execa } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as echarts from 'echarts/core';
import { BarChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkLineComponent, TitleComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import type { HarnessBenchResult } from './harness/run.ts';
import { harnessMarkdown } from './harness/run.ts';
import type { ConfigSummary, LabBenchResult } from './lab/run.ts';
import { labMarkdown, labRatiosMarkdown } from './lab/run.ts';
import { ROOT } from '../src/root.ts';

echarts.use([BarChart, GridComponent, LegendComponent, MarkLineComponent, TitleComponent, SVGRenderer]);

export interface Environment {
  date: string;
  hostname: string;
  kernel: string;
  cpu: string;
  cpus: number;
  memoryGiB: number;
  /** os.loadavg() when the run started and when it ended (1, 5, 15 min). */
  loadStart: number[];
  loadEnd?: number[];
  /** `uptime` text at the start and the end: how busy the shared machine was. */
  uptimeStart: string;
  uptimeEnd?: string;
  git: { commit: string; branch: string; dirty: boolean };
  tools: Record<string, string>;
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false, timeout: 5000 });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  return r.failed && text === undefined ? 'not installed' : (text ?? 'not installed');
}

async function git(args: string[]): Promise<string> {
  const r = await execa('git', args, { cwd: ROOT, reject: false });
  return (r.stdout ?? '').trim();
}

export async function environment(): Promise<Environment> {
  const [wrk, nginx, haproxy, trafgen, nft, bpftool, clang, uptime, commit, branch, status] = await Promise.all([
    firstLine('wrk', ['--version']),
    firstLine('nginx', ['-v']),
    firstLine('haproxy', ['-v']),
    firstLine('trafgen', ['-v']),
    firstLine('nft', ['--version']),
    firstLine('bpftool', ['version']),
    firstLine('clang-16', ['--version']),
    firstLine('uptime', []),
    git(['rev-parse', 'HEAD']),
    git(['rev-parse', '--abbrev-ref', 'HEAD']),
    git(['status', '--porcelain', '--untracked-files=no']),
  ]);
  return {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    kernel: `${os.type()} ${os.release()} ${os.machine()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    uptimeStart: uptime,
    git: { commit, branch, dirty: status !== '' },
    tools: { node: process.version, wrk: wrk.replace(/ Copyright.*/, ''), nginx, haproxy, trafgen, nft, bpftool, clang },
  };
}

export async function finishEnvironment(env: Environment): Promise<void> {
  env.loadEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  env.uptimeEnd = await firstLine('uptime', []);
}

export interface BenchReport {
  command: string;
  quick: boolean;
  environment: Environment;
  lab?: LabBenchResult;
  harness?: HarnessBenchResult;
  /** The other suites' results (binding, datapath, control, topology) as they returned them, and their text. */
  other: Record<string, { result: unknown; text?: string }>;
}

/** A timestamp usable as a folder name: 2026-12-02T00-15-03Z. */
export function stamp(d = new Date()): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

export function defaultReportDir(d = new Date()): string {
  return path.join(ROOT, 'reports', 'bench', stamp(d));
}

const AIMS = [
  { vs: 'direct', factor: 1.0 },
  { vs: 'nft-dnat', factor: 1.3 },
  { vs: 'nginx', factor: 1.6 },
] as const;

/** Where xlb stands against the aims of issue 14, one line per xlb hook and metric. */
export function aimsMarkdown(r: LabBenchResult): string {
  const by = new Map<string, ConfigSummary>(r.configs.map((c) => [c.config, c]));
  const lines: string[] = [
    '| xlb | metric | ' + AIMS.map((a) => `vs ${a.vs} (aim ≥ ${a.factor.toFixed(1)}×)`).join(' | ') + ' |',
    `| --- | --- | ${AIMS.map(() => '---').join(' | ')} |`,
  ];
  for (const hook of ['xlb-tc', 'xlb-xdp'] as const) {
    const x = by.get(hook);
    if (x === undefined) continue;
    for (const [key, label] of [
      ['rps', 'requests/s'],
      ['cps', 'connections/s'],
    ] as const) {
      const cells = AIMS.map((a) => {
        const base = by.get(a.vs)?.median[key];
        const v = x.median[key];
        if (base === null || base === undefined || v === null || base === 0) return '—';
        const q = v / base;
        return `${q.toFixed(2)}× ${q >= a.factor ? '✓' : '✗'}`;
      });
      lines.push(`| ${hook} | ${label} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** Grouped bars: each configuration's median over direct's, with the 1.0 line. */
export function labChart(r: LabBenchResult): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 820, height: 380 });
  const names = r.configs.map((c) => c.config);
  const series = (
    [
      ['rps', 'requests/s keep-alive'],
      ['cps', 'connections/s'],
      ['udpPps', 'UDP packets/s'],
    ] as const
  ).map(([key, name], i) => ({
    name,
    type: 'bar',
    data: r.configs.map((c) => (c.vsDirect[key] === null ? null : Math.round((c.vsDirect[key] ?? 0) * 100) / 100)),
    label: { show: true, position: 'top', fontSize: 9, formatter: '{c}' },
    ...(i === 0
      ? {
          markLine: {
            symbol: 'none',
            silent: true,
            label: { position: 'insideEndTop', formatter: 'direct = 1.0' },
            lineStyle: { type: 'dashed', color: '#555' },
            data: [{ yAxis: 1 }],
          },
        }
      : {}),
  }));
  chart.setOption({
    animation: false,
    title: {
      text: `× direct, median of ${r.options.rounds} (${r.startedAt.slice(0, 16)}Z)`,
      left: 'center',
      top: 6,
      textStyle: { fontSize: 13, fontWeight: 'normal' },
    },
    legend: { bottom: 4 },
    grid: { left: 50, right: 20, top: 52, bottom: 60 },
    xAxis: { type: 'category', data: names },
    yAxis: { type: 'value', min: 0, name: '× direct' },
    series,
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return `${svg}\n`;
}

export function harnessChart(r: HarnessBenchResult): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 520, height: 300 });
  chart.setOption({
    animation: false,
    title: {
      text: `whole suite per backend (${r.options.hooks.join('+')}), seconds`,
      left: 'center',
      top: 6,
      textStyle: { fontSize: 13, fontWeight: 'normal' },
    },
    grid: { left: 60, right: 20, top: 40, bottom: 40 },
    xAxis: { type: 'category', data: r.suites.map((s) => s.backend) },
    yAxis: { type: 'value', min: 0, name: 's' },
    series: [{ type: 'bar', data: r.suites.map((s) => Math.round(s.wallMs / 100) / 10), label: { show: true, position: 'top' } }],
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return `${svg}\n`;
}

export function environmentMarkdown(e: Environment): string {
  const rows: [string, string][] = [
    ['date', e.date],
    ['kernel', e.kernel],
    ['CPU', `${e.cpu} × ${e.cpus}`],
    ['memory', `${e.memoryGiB} GiB`],
    ['uptime at start', e.uptimeStart],
    ['uptime at end', e.uptimeEnd ?? '—'],
    ['git', `${e.git.branch} ${e.git.commit.slice(0, 12)}${e.git.dirty ? ' (uncommitted changes)' : ''}`],
    ...Object.entries(e.tools).map(([k, v]): [string, string] => [k, v]),
  ];
  return ['| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`)].join('\n');
}

/** Samples whose wrk saw socket errors or non-2xx answers, or whose UDP lost packets: a figure to read with care. */
export function sampleErrors(r: LabBenchResult): string {
  const bad: string[] = [];
  for (const s of r.samples) {
    for (const [what, w] of [
      ['keep-alive', s.keepalive],
      ['close', s.close],
    ] as const) {
      const e = w.errors.connect + w.errors.read + w.errors.write + w.errors.timeout;
      if (e > 0 || w.non2xx > 0)
        bad.push(`${s.config} r${s.round} ${what}: socket errors ${JSON.stringify(w.errors)}, non-2xx ${w.non2xx}`);
    }
    if (s.udp !== null && s.udp.delivered < s.udp.sent)
      bad.push(
        `${s.config} r${s.round} UDP: ${s.udp.delivered.toLocaleString('en-US')} of ${s.udp.sent.toLocaleString('en-US')} delivered`,
      );
    if (s.udp !== null && s.udp.attempts > 1)
      bad.push(`${s.config} r${s.round} UDP: measured on trafgen's run ${s.udp.attempts} (the earlier ones stopped at a TX ring EAGAIN)`);
  }
  for (const f of r.failures ?? []) bad.push(`${f.config} r${f.round} FAILED (not measured): ${f.error.split('\n')[0] ?? ''}`);
  return bad.length === 0 ? 'No socket errors, no non-2xx answers, every UDP packet delivered.' : `Errors and losses: ${bad.join('; ')}.`;
}

export function labSection(r: LabBenchResult): string {
  const o = r.options;
  return [
    `### lab: xlb against the alternatives`,
    '',
    `${r.topology}. Client load: wrk -t${o.threads} -c${o.connections}, ${o.durationS} s per figure; UDP: trafgen, ${o.udpPackets.toLocaleString('en-US')} packets. Median of ${o.rounds} interleaved round(s), a fresh lab per configuration and round (${r.durationS.toFixed(0)} s in all). softirq and CPU µs/request are the whole machine's during the keep-alive run, divided by its requests.`,
    '',
    labMarkdown(r),
    '',
    aimsMarkdown(r),
    '',
    'Every figure as a ratio to `direct` and to `nft-dnat` of the same run:',
    '',
    labRatiosMarkdown(r),
    '',
    `Idle CPU before each keep-alive measurement: ${r.samples.map((s) => `${s.config} r${s.round} ${Math.round(s.idleBefore.keepalive * 100)}%`).join(', ')}.`,
    '',
    sampleErrors(r),
  ].join('\n');
}

export function reportMarkdown(rep: BenchReport): string {
  const out: string[] = [
    `# xlb bench, ${rep.environment.date}${rep.quick ? ' (--quick: a smoke run, figures not comparable)' : ''}`,
    '',
    '```',
    rep.command,
    '```',
    '',
    environmentMarkdown(rep.environment),
    '',
  ];
  if (rep.lab !== undefined) out.push(labSection(rep.lab), '', '![lab](lab.svg)', '');
  if (rep.harness !== undefined) out.push('### harness', '', harnessMarkdown(rep.harness), '', '![harness](harness.svg)', '');
  for (const [name, o] of Object.entries(rep.other)) {
    if (o.text === undefined) continue;
    out.push(`### ${name}`, '', '```', o.text.trimEnd(), '```', '');
  }
  return out.join('\n');
}

/** The README's blocks, one per suite, so a run of one suite leaves the other's latest figures. */
export const README_SUITES = ['lab', 'harness'] as const;
const begin = (suite: string): string => `<!-- bench:${suite}:begin (written by xlb bench; edits here are overwritten) -->`;
const end = (suite: string): string => `<!-- bench:${suite}:end -->`;

function readmeBlock(suite: (typeof README_SUITES)[number], rep: BenchReport, rel: string): string | undefined {
  const e = rep.environment;
  const made = `\`${rep.command}\` at ${e.date.slice(0, 16)}Z (${e.kernel}, ${e.cpu} × ${e.cpus}; load average at start ${e.uptimeStart.replace(/.*load average: /, '')}); full report \`${rel}/report.md\`.`;
  if (suite === 'lab' && rep.lab !== undefined) return [`Made by ${made}`, '', labMarkdown(rep.lab), '', aimsMarkdown(rep.lab)].join('\n');
  if (suite === 'harness' && rep.harness !== undefined) {
    const h = rep.harness;
    const rows = h.suites.map((x) => `| ${x.backend} | ${(x.wallMs / 1000).toFixed(1)} s | ${x.passed} / ${x.failed} / ${x.skipped} |`);
    return [
      `Made by ${made}`,
      '',
      `| backend (hooks ${h.options.hooks.join('+')}) | whole suite | passed / failed / skipped |`,
      '| --- | --- | --- |',
      ...rows,
      '',
      `Two-arm lab (1 client, 3 backends) up ${h.topology.upMedianMs.toFixed(0)} ms, down ${h.topology.downMedianMs.toFixed(0)} ms (median of ${h.topology.runs}).`,
    ].join('\n');
  }
  return undefined;
}

/** Replaces the README's block of every suite the report has with its latest table and the command that made it. */
export function updateReadme(readme: string, rep: BenchReport, reportDir: string): string {
  const rel = path.relative(ROOT, reportDir);
  let out = readme;
  for (const suite of README_SUITES) {
    const block = readmeBlock(suite, rep, rel);
    if (block === undefined) continue;
    const a = out.indexOf(begin(suite));
    const b = out.indexOf(end(suite));
    if (a < 0 || b < a)
      throw new Error(
        `README.md has no bench block for ${suite}: add the two lines\n${begin(suite)}\n${end(suite)}\nwhere its latest table belongs`,
      );
    out = `${out.slice(0, a)}${begin(suite)}\n${block}\n${out.slice(b)}`;
  }
  return out;
}

/** Writes bench.json, report.md and the charts into dir; with readme, rewrites its bench block too. */
export async function writeBenchReport(dir: string, rep: BenchReport, opts: { readme?: string } = {}): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  await finishEnvironment(rep.environment);
  const files: string[] = [];
  const write = (name: string, text: string): void => {
    writeFileSync(path.join(dir, name), text);
    files.push(path.join(dir, name));
  };
  write('bench.json', `${JSON.stringify(rep, null, 2)}\n`);
  if (rep.lab !== undefined) write('lab.svg', labChart(rep.lab));
  if (rep.harness !== undefined) write('harness.svg', harnessChart(rep.harness));
  write('report.md', reportMarkdown(rep));
  if (opts.readme !== undefined && (rep.lab !== undefined || rep.harness !== undefined)) {
    writeFileSync(opts.readme, updateReadme(readFileSync(opts.readme, 'utf8'), rep, dir));
    files.push(opts.readme);
  }
  return files;
}
