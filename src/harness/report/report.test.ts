// The HTML report from a summary with one passing and one failing result, whose artifacts are real
// pcaps (a DNAT'd SYN answered by a RST, written with the packet toolkit), trace and conntrack:
// one self-contained file with no URL, the matrix, the failure message, the charts and the ladder.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildFrame, writePcap } from '../../packet/index.ts';
import type { DpCtEntry, DpTraceEvent } from '../../datapath/packet-datapath.ts';
import type { ResultRecord, RunSummary } from '../results.ts';
import { topoInfo, twoArm } from '../topo.ts';
import { loadResultArtifacts, saveObservation } from './artifacts.ts';
import { buildHtmlReport, resultId } from './index.ts';
import { tokenDiff } from './diff-view.ts';
import { buildLadder } from './ladder.ts';

const topology = twoArm();
const topo = topoInfo(topology);
const C = topo.clients[0]?.ipv4 ?? '';
const B1 = topo.backends[0]?.ipv4 ?? '';
const VIP = topo.vip4;

function traceEvent(
  src: string,
  sport: number,
  dst: string,
  dport: number,
  reason: DpTraceEvent['reason'],
  ctBefore: DpTraceEvent['ctBefore'],
  ctAfter: DpTraceEvent['ctAfter'],
  timeNs: bigint,
): DpTraceEvent {
  return {
    timeNs,
    tuple: { family: 4, proto: 'tcp', src, dst, sport, dport },
    serviceId: 1,
    ifindex: 2,
    reason,
    endpointSlot: 0,
    verdict: 'pass',
    ctBefore,
    ctAfter,
    length: 54,
  };
}

const conntrack: DpCtEntry[] = [
  {
    key: { family: 4, proto: 'tcp', src: C, dst: VIP, sport: 40000, dport: 7000 },
    reply: false,
    state: 'CLOSED',
    serviceId: 1,
    endpointSlot: 0,
    nat: { src: C, dst: B1, sport: 40000, dport: 7999 },
    xlate: { saddr: false, daddr: true, sport: false, dport: true },
    flags: ['seqKnown'],
    packets: 1,
    bytes: 54,
    createdNs: 1_000_000n,
    lastSeenNs: 1_000_000n,
  },
  {
    key: { family: 4, proto: 'tcp', src: B1, dst: C, sport: 7999, dport: 40000 },
    reply: true,
    state: 'CLOSED',
    serviceId: 1,
    endpointSlot: 0,
    nat: { src: VIP, dst: C, sport: 7000, dport: 40000 },
    xlate: { saddr: true, daddr: false, sport: true, dport: false },
    flags: ['reply', 'seqKnown'],
    packets: 1,
    bytes: 54,
    createdNs: 1_000_000n,
    lastSeenNs: 1_100_000n,
  },
];

/** A result folder as run-one leaves it: a SYN to the VIP, DNAT'd to b1:7999, refused with a RST the LB turns back into the VIP's. */
async function writeArtifacts(dir: string): Promise<void> {
  const trace = [
    traceEvent(C, 40000, VIP, 7000, 'new_flow', 'NONE', 'SYN_SENT', 1_000_000n),
    traceEvent(B1, 7999, C, 40000, 'tracked', 'SYN_SENT', 'CLOSED', 1_100_000n),
  ];
  saveObservation(dir, { trace, conntrack }, topology);
  const nodes = loadResultArtifacts(dir).nodes;
  const mac = (node: string, segment: string): string => {
    const m = nodes.find((n) => n.name === node)?.ifaces.find((i) => i.segment === segment)?.mac;
    if (m === undefined) throw new Error(`no ${node} on ${segment}`);
    return m;
  };
  const f = (src: [string, string], dst: [string, string], ip: [string, string], ports: [number, number], flags: string, id: number) =>
    buildFrame({
      eth: { src: mac(...src), dst: mac(...dst) },
      ip: { src: ip[0], dst: ip[1], id },
      tcp: { sport: ports[0], dport: ports[1], flags, seq: 1000, ack: flags === 'S' ? 0 : 1 },
    });
  const syn = f(['c1', 'clients'], ['lb', 'clients'], [C, VIP], [40000, 7000], 'S', 7);
  const synOut = f(['lb', 'backends'], ['b1', 'backends'], [C, B1], [40000, 7999], 'S', 7);
  const rst = f(['b1', 'backends'], ['lb', 'backends'], [B1, C], [7999, 40000], 'R.', 9);
  const rstOut = f(['lb', 'clients'], ['c1', 'clients'], [VIP, C], [7000, 40000], 'R.', 9);
  const at = (ms: number, data: Buffer) => ({ data, tsSec: 0, tsNsec: ms * 1e6 });
  // Each frame in both ends' captures, as the virtual links write them.
  await writePcap(path.join(dir, 'c1-clients.pcap'), [at(0, syn), at(0.15, rstOut)]);
  await writePcap(path.join(dir, 'lb-clients.pcap'), [at(0, syn), at(0.15, rstOut)]);
  await writePcap(path.join(dir, 'lb-backends.pcap'), [at(0.05, synOut), at(0.1, rst)]);
  await writePcap(path.join(dir, 'b1-backends.pcap'), [at(0.05, synOut), at(0.1, rst)]);
}

function summaryOf(dir: string): RunSummary {
  const base = { file: '/x/scenarios/lb/x.ts', hook: 'tc' as const, seed: 42, log: [] };
  const passing: ResultRecord = {
    ...base,
    scenario: 'lb/all-good',
    backend: 'sim',
    status: 'passed',
    durationMs: 12,
    checks: [{ name: 'every connection succeeded', ok: true }],
    reproduce: 'xlb run scenarios/lb/all-good.ts --backend sim --hook tc --seed 42',
  };
  const failing: ResultRecord = {
    ...base,
    scenario: 'lb/wrong-port',
    backend: 'prog',
    status: 'failed',
    durationMs: 345,
    checks: [
      { name: 'every connection succeeded', ok: false, message: '1 of 1 failed: #0 (sport 40000): connect: ECONNREFUSED <b1>' },
      {
        name: 'spread over backends',
        ok: false,
        message: 'got {"b2":1}',
        spread: { method: 'round-robin', observed: { b2: 1 }, expected: { b1: { mean: 1, lo: 1, hi: 1 }, b2: { mean: 0, lo: 0, hi: 0 } } },
      },
    ],
    reproduce: 'xlb run scenarios/lb/wrong-port.ts --backend prog --hook tc --seed 42',
    artifactsDir: path.join(dir, 'artifacts', 'lb', 'wrong-port', 'prog-tc'),
    log: ['seen on lb/backends at 0.1 ms: b1 sent a RST'],
  };
  return {
    passed: 1,
    failed: 1,
    skipped: 0,
    knownFailures: 0,
    unexpectedPasses: 0,
    seed: 42,
    startedAt: '2026-12-01T20:00:00.000Z',
    durationMs: 400,
    wallMsByBackend: { sim: 12, prog: 345 },
    results: [passing, failing],
  };
}

test('the report of a passing and a failing result: self-contained, matrix, failure first, messages, charts, ladder', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const summary = summaryOf(dir);
  const art = summary.results[1]?.artifactsDir ?? '';
  const { mkdirSync } = await import('node:fs');
  mkdirSync(art, { recursive: true });
  await writeArtifacts(art);
  const html = await buildHtmlReport(summary, dir);

  t.notRegex(html, /https?:\/\//, 'no URL at all: nothing is fetched, the file opens from disk');
  t.notRegex(html, /<(link|script|img)[^>]+(src|href)=/, 'no external stylesheet, script or image');
  // The matrix: one row per scenario, the failing one first, each cell a link to its result.
  const matrix = /<table class="matrix">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
  t.true(matrix.indexOf('lb/wrong-port') >= 0 && matrix.indexOf('lb/wrong-port') < matrix.indexOf('lb/all-good'), 'failed scenario on top');
  const failId = resultId(summary.results[1] as ResultRecord);
  t.regex(matrix, new RegExp(`<td class="failed"><a href="#${failId}"`));
  t.regex(matrix, new RegExp(`<td class="passed"><a href="#${resultId(summary.results[0] as ResultRecord)}"`));
  t.true(html.includes(`id="${failId}"`));
  // The failure message, escaped and pre-formatted, and the failing result's section before the passing one's.
  t.true(html.includes('<pre class="msg">1 of 1 failed: #0 (sport 40000): connect: ECONNREFUSED &lt;b1&gt;</pre>'));
  t.true(html.indexOf(`id="${failId}"`) < html.indexOf(`id="${resultId(summary.results[0] as ResultRecord)}"`));
  t.true(html.includes('xlb run scenarios/lb/wrong-port.ts --backend prog --hook tc --seed 42'));
  // SVG: the spread chart (ECharts) and the ladder; pcaps linked by relative path.
  t.true((html.match(/<svg/g) ?? []).length >= 3, 'chart + ladder head + ladder rows');
  t.true(html.includes('href="artifacts/lb/wrong-port/prog-tc/lb-backends.pcap"'));
  // The ladder: the DNAT'd SYN's rewritten port is highlighted, the RST is a packet to look at.
  t.regex(html, /→ <tspan class="hot">198\.18\.[0-9.]+<\/tspan>:<tspan class="hot">7999<\/tspan> S/);
  t.regex(html, new RegExp(`<a href="#${failId}-p-2" class="jump">#2</a>`), 'a link from the failure to the RST row');
  t.regex(html, new RegExp(`<g id="${failId}-p-2" class="pkt bad`));
  // The conntrack timeline of the flow from the trace.
  t.regex(html, /SYN_SENT<small> \+0\.000 ms<\/small><\/span><span class="chip st-end"[^>]*>CLOSED<small> \+0\.100 ms/);
});

test('the ladder draws each frame once, from its sender, and pairs what entered the LB with what left it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-ladder-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await writeArtifacts(dir);
  const a = loadResultArtifacts(dir);
  const l = await buildLadder(a.pcaps, a.nodes, a.trace);
  t.deepEqual(
    l.packets.map((p) => [p.from, p.to, p.flags, p.rewritten, p.pair]),
    [
      ['c1', 'lb', 'S', [], 1],
      ['lb', 'b1', 'S', ['dst', 'dport'], 0],
      ['b1', 'lb', 'R.', [], 3],
      ['lb', 'c1', 'R.', ['src', 'sport'], 2],
    ],
  );
  t.deepEqual(l.nodes, ['c1', 'lb', 'b1']);
  t.is(l.packets[0]?.trace?.reason, 'new_flow');
  t.is(l.packets[2]?.trace?.ctAfter, 'CLOSED');
  t.is(l.packets[2]?.problem, `TCP reset from ${B1}:7999`);
});

test('tokenDiff marks only what differs', (t) => {
  const [a, b] = tokenDiff('F tcp [seqKnown] 5p', 'F tcp [seqKnown,ackKnown] 5p');
  t.is(a.html, 'F tcp [seqKnown] 5p');
  t.is(b.html, 'F tcp [seqKnown<mark>,</mark><mark>ackKnown</mark>] 5p');
});
