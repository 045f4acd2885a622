// The model against the kernel, packet by packet: the same services (through the controller's
// Datapath interface on both sides) and the same frames, through the model and through the real
// BPF programs under BPF_PROG_TEST_RUN (src/datapath/test-support.ts: openHarness, empty FIB),
// at TC and at XDP. Compared: verdict, reason, and the output bytes of every passed packet.
// Needs root and the built objects; skipped with the reason otherwise.
import { existsSync } from 'node:fs';
import test from 'ava';
import { KernelDatapath } from '../controller/kernel-datapath.ts';
import { putService as putServiceEntry, writeEndpoints } from '../datapath/maps.ts';
import { objectPathFor } from '../datapath/loader.ts';
import { openHarness } from '../datapath/test-support.ts';
import type { Harness } from '../datapath/test-support.ts';
import { addr16 } from '../datapath/maps.ts';
import { decodeFrame, describe } from '../packet/index.ts';
import { CASES } from './differential-cases.ts';
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

export interface Mismatch {
  step: number;
  note: string;
  input: string;
  model: string;
  kernel: string;
}

function runCase(hook: 'tc' | 'xdp', c: DiffCase): { mismatches: Mismatch[]; unrunnable: string[] } {
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
      const m = model.packets.process(step.frame, 1);
      let k: ReturnType<Harness['run']>;
      try {
        k = h.run(step.frame, 1);
      } catch (e) {
        // BPF_PROG_TEST_RUN at TC refuses a frame whose IP header is not all there (shorter
        // than 14 + 20 for IPv4, 14 + 40 for IPv6): it reached no program, nothing to compare
        if (hook !== 'tc' || step.frame.length >= 54) throw e;
        unrunnable.push(`step ${i} (${step.note}, ${step.frame.length} bytes): ${(e as Error).message}`);
        return;
      }
      const now = h.reasons();
      const kr = Object.keys(now).filter((n) => now[n as keyof typeof now] !== last[n as keyof typeof last]);
      last = now;
      const kernelReason = kr.length === 1 ? (kr[0] ?? '?') : `${kr.length} reasons: ${kr.join(',')}`;
      const same = m.verdict === k.verdict && m.reason === kernelReason && (m.verdict !== 'pass' || m.frame.equals(k.data));
      if (!same) {
        out.push({
          step: i,
          note: step.note,
          input: describe(decodeFrame(step.frame)),
          model: `${m.verdict} ${m.reason} ${m.verdict === 'pass' ? describe(decodeFrame(m.frame)) : ''} ${m.frame.toString('hex')}`,
          kernel: `${k.verdict} ${kernelReason} ${k.verdict === 'pass' ? describe(decodeFrame(k.data)) : ''} ${k.data.toString('hex')}`,
        });
      }
    });
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
      const { mismatches: mism, unrunnable } = runCase(hook, c);
      for (const u of unrunnable) t.log(`not comparable: ${u}`);
      for (const x of mism) t.log(`step ${x.step} (${x.note}): ${x.input}\n  model:  ${x.model}\n  kernel: ${x.kernel}`);
      t.deepEqual(mism, []);
    });
  }
}
