// The model against the kernel, packet by packet: the same services (through the controller's
// Datapath interface on both sides) and the same frames, through the model and through the real
// BPF programs under BPF_PROG_TEST_RUN (src/datapath/test-support.ts: openHarness, empty FIB),
// at TC and at XDP. Compared: verdict, reason, and the output bytes of every passed packet.
// Needs root and the built objects; skipped with the reason otherwise.
import { existsSync } from 'node:fs';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { KernelDatapath } from '../datapath/kernel-datapath.ts';
import { putService as putServiceEntry, writeEndpoints } from '../datapath/maps.ts';
import { objectPathFor } from '../datapath/loader.ts';
import { openHarness } from '../datapath/test-support.ts';
import type { Harness } from '../datapath/test-support.ts';
import { addr16, formatAddr16, readEndpointConns, readEndpointStats, readFlows, readFwdResults, readReasons } from '../datapath/maps.ts';
import type { DpTuple } from '../datapath/packet-datapath.ts';
import { CT_F, CT_STATE, FWD_RESULT, REASON, XLATE, ctKey } from '../schema/maps.ts';
import { buildFrame, decodeFrame, describe } from '../packet/index.ts';
import { CASES, KNOWN_DISAGREEMENTS } from './differential-cases.ts';
import type { DiffCase, Programmable } from './differential-cases.ts';
import { openModelDatapath } from './index.ts';
import { program } from './test-support.ts';
import type { TestService } from './test-support.ts';

const why =
  process.getuid?.() !== 0
    ? 'needs root (BPF_PROG_TEST_RUN); run as root to compare the model with the kernel'
    : !existsSync(objectPathFor('tc')) || !existsSync(objectPathFor('xdp'))
      ? 'needs build/bpf/xlb_{tc,xdp}.bpf.o: run ./scripts/build.sh'
      : undefined;

/** The kernel side: KernelDatapath over the harness's maps; ICMP echo services by the map helpers. */
function programKernel(h: Harness, k: KernelDatapath, s: TestService): void {
  if (s.protocol !== 'icmp') {
    program(k as KernelDatapath & Programmable, s);
    return;
  }
  // KernelDatapath holds TCP/UDP services only (the controller's protocols)
  writeEndpoints(h.dp, s.id, 0, s.endpoints.map((e) => ({ ip: e.ip, port: e.port })));
  putServiceEntry(h.dp, { id: s.id, vip: s.vip, port: 0, proto: 'icmp', mode: s.mode ?? 'dnat', algo: s.algorithm ?? 'rr', epCount: s.endpoints.length, gen: 0 });
}

function ctKeyBytes(k: DpTuple): Buffer {
  const s = addr16(k.src);
  const proto = k.proto === 'tcp' ? 6 : k.proto === 'udp' ? 17 : k.family === 4 ? 1 : 58;
  return ctKey.encode({ saddr: s.addr, daddr: addr16(k.dst).addr, sport: k.sport, dport: k.dport, proto, family: k.family });
}

const FLAGS = Object.entries(CT_F) as [string, number][];
const XL = Object.entries(XLATE) as [string, number][];

interface State {
  conntrack: string[];
  reasons: Record<string, string>;
  fwd: Record<string, string>;
  services: Record<string, string>;
  conns: Record<string, number>;
}

function modelState(m: ReturnType<typeof openModelDatapath>, c: DiffCase): State {
  const ids = [...new Set(c.services.map((s) => s.id))];
  return {
    conntrack: m.packets
      .conntrack()
      .map((e) => `${e.key.proto} ${e.key.src}:${e.key.sport}>${e.key.dst}:${e.key.dport} ${e.state} nat ${e.nat.src}:${e.nat.sport}>${e.nat.dst}:${e.nat.dport} xl ${Object.entries(e.xlate).filter(([, v]) => v).map(([k]) => k).join(',')} f ${e.flags.join(',')} svc ${e.serviceId} slot ${e.endpointSlot} ${e.packets}p ${e.bytes}B`)
      .sort(),
    reasons: Object.fromEntries(REASON.map((r) => [r, `${m.packets.reasons().get(r) ?? 0}`])),
    fwd: Object.fromEntries(FWD_RESULT.map((r) => [r, `${m.packets.fwdResults().get(r) ?? 0}`])),
    services: Object.fromEntries(ids.flatMap((id) => [0, 1, 2, 3].map((slot) => [`${id}/${slot}`, `${m.control.stats.endpointStats(id, slot).packets}`]))),
    conns: Object.fromEntries(ids.flatMap((id) => [0, 1, 2, 3].map((slot) => [`${id}/${slot}`, m.packets.endpointConnections(id, slot)]))),
  };
}

function kernelState(h: Harness, c: DiffCase): State {
  const ids = [...new Set(c.services.map((s) => s.id))];
  const fmt = (a: Buffer, fam: number): string => formatAddr16(a, fam);
  const reasons = readReasons(h.dp);
  const fwd = readFwdResults(h.dp);
  return {
    conntrack: readFlows(h.dp)
      .map(({ key: k, entry: e }) => {
        const proto = k.proto === 6 ? 'tcp' : k.proto === 17 ? 'udp' : 'icmp';
        return `${proto} ${fmt(k.saddr, k.family)}:${k.sport}>${fmt(k.daddr, k.family)}:${k.dport} ${CT_STATE[e.state] ?? e.state} nat ${fmt(e.nat_saddr, k.family)}:${e.nat_sport}>${fmt(e.nat_daddr, k.family)}:${e.nat_dport} xl ${XL.filter(([, b]) => e.xlate & b).map(([n]) => n).join(',')} f ${FLAGS.filter(([, b]) => e.flags & b).map(([n]) => n).join(',')} svc ${e.svc_id} slot ${e.ep_slot} ${e.packets}p ${e.bytes}B`;
      })
      .sort(),
    reasons: Object.fromEntries(REASON.map((r) => [r, `${reasons[r].packets}`])),
    fwd: Object.fromEntries(FWD_RESULT.map((r) => [r, `${fwd[r].packets}`])),
    services: Object.fromEntries(ids.flatMap((id) => [0, 1, 2, 3].map((slot) => [`${id}/${slot}`, `${readEndpointStats(h.dp, id, slot).packets}`]))),
    conns: Object.fromEntries(ids.flatMap((id) => [0, 1, 2, 3].map((slot) => [`${id}/${slot}`, Number(readEndpointConns(h.dp, id, slot))]))),
  };
}

export interface Mismatch {
  step: number;
  note: string;
  input: string;
  model: string;
  kernel: string;
}

function runCase(t: ExecutionContext, hook: 'tc' | 'xdp', c: DiffCase): { mismatches: Mismatch[]; unrunnable: string[] } {
  const model = openModelDatapath({ hook, ...(c.settings !== undefined ? { settings: c.settings } : {}) });
  const cfg: Parameters<typeof openHarness>[1] = { config: {} };
  if (c.settings?.snatV4 !== undefined && cfg.config) cfg.config.snat_v4 = addr16(c.settings.snatV4).addr;
  if (c.settings?.snatV6 !== undefined && cfg.config) cfg.config.snat_v6 = addr16(c.settings.snatV6).addr;
  const h = openHarness(hook, cfg);
  const out: Mismatch[] = [];
  const unrunnable: string[] = [];
  try {
    const kernel = new KernelDatapath(h.dp);
    for (const s of c.services) {
      program(model.control, s);
      programKernel(h, kernel, s);
    }
    let last = h.reasons();
    c.steps.forEach((step, i) => {
      if ('advanceMs' in step) {
        model.packets.advance(step.advanceMs);
        h.advance(step.advanceMs / 1000);
        return;
      }
      if ('deleteCt' in step) {
        const k = step.deleteCt;
        t.is(model.packets.deleteConntrack(k), h.dp.maps.ct.delete(ctKeyBytes(k)), `delete ${JSON.stringify(k)}`);
        return;
      }
      if ('reprogram' in step) {
        program(model.control, step.reprogram);
        programKernel(h, kernel, step.reprogram);
        return;
      }
      if ('settings' in step) {
        model.packets.configure(step.settings);
        if (step.settings.unknownTcp !== undefined) h.config({ unknown_tcp: step.settings.unknownTcp === 'drop' ? 1 : 0 });
        return;
      }
      const frame = 'frame' in step ? step.frame : buildFrame(step.build(model.packets.conntrack()));
      let k: ReturnType<Harness['run']>;
      try {
        k = h.run(frame, 1);
      } catch (e) {
        // BPF_PROG_TEST_RUN at TC refuses a frame whose IP header is not all there (shorter
        // than 14 + 20 for IPv4, 14 + 40 for IPv6): it reached no program, nothing to compare
        if (hook !== 'tc' || frame.length >= 54) throw e;
        unrunnable.push(`step ${i} (${step.note}, ${frame.length} bytes): ${(e as Error).message}`);
        return;
      }
      const m = model.packets.process(frame, 1);
      if (step.expect !== undefined) t.is(m.reason, step.expect, `step ${i} (${step.note}): the case expects ${step.expect}`);
      const now = h.reasons();
      const kr = Object.keys(now).filter((n) => now[n as keyof typeof now] !== last[n as keyof typeof last]);
      last = now;
      const kernelReason = kr.length === 1 ? (kr[0] ?? '?') : `${kr.length} reasons: ${kr.join(',')}`;
      const same = m.verdict === k.verdict && m.reason === kernelReason && (m.verdict !== 'pass' || m.frame.equals(k.data));
      if (!same) {
        out.push({
          step: i,
          note: step.note,
          input: describe(decodeFrame(frame)),
          model: `${m.verdict} ${m.reason} ${m.verdict === 'pass' ? describe(decodeFrame(m.frame)) : ''} ${m.frame.toString('hex')}`,
          kernel: `${k.verdict} ${kernelReason} ${k.verdict === 'pass' ? describe(decodeFrame(k.data)) : ''} ${k.data.toString('hex')}`,
        });
      }
    });
    // after the sequence: the same conntrack table, counters and least-connection counts
    t.deepEqual(modelState(model, c), kernelState(h, c), 'state after the sequence');
  } finally {
    h.close();
    model.close();
  }
  return { mismatches: out, unrunnable };
}

for (const hook of ['tc', 'xdp'] as const) {
  for (const c of CASES) {
    if (why !== undefined) {
      test.skip(`${hook}: model = kernel: ${c.name} (skipped: ${why})`, () => undefined);
      continue;
    }
    test.serial(`${hook}: model = kernel: ${c.name}`, (t) => {
      const { mismatches: mism, unrunnable } = runCase(t, hook, c);
      if (unrunnable.length > 0) t.log(`${unrunnable.length} frames not comparable (TC test runs refuse frames without a whole IP header), first: ${unrunnable[0]}`);
      for (const x of mism) t.log(`step ${x.step} (${x.note}): ${x.input}\n  model:  ${x.model}\n  kernel: ${x.kernel}`);
      t.deepEqual(mism, []);
    });
  }
}

// Known disagreements (the kernel is wrong by the spec; bpf/ is another helper's): failing until fixed.
for (const hook of ['tc', 'xdp'] as const) {
  for (const c of KNOWN_DISAGREEMENTS) {
    if (why !== undefined) {
      test.skip(`${hook}: known disagreement: ${c.name} (skipped: ${why})`, () => undefined);
      continue;
    }
    test.failing(`${hook}: known disagreement: ${c.name}`, (t) => {
      const { mismatches } = runCase(t, hook, c);
      for (const x of mismatches) t.log(`step ${x.step} (${x.note}): ${x.input}\n  model:  ${x.model}\n  kernel: ${x.kernel}`);
      t.deepEqual(mismatches, []);
    });
  }
}
