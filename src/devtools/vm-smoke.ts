// The datapath smoke `xlb vm run` runs inside a guest (and works on the host too): load both BPF
// objects (TC and XDP) with loadDatapath, program one DNAT service, send one TCP SYN to its VIP
// through BPF_PROG_TEST_RUN and check the verdict, the rewritten destination, the checksums and
// the new_flow reason. One JSON line per hook on stdout; exit 1 when any hook fails. A load the
// kernel refuses is reported with the error and the verifier log's last lines: that evidence is
// what a kernel-matrix note quotes.
//   node --import tsx src/devtools/vm-smoke.ts [--hook tc|xdp]…
import { release } from 'node:os';
import { parseArgs } from 'node:util';
import { BpfError } from '../bpf/index.ts';
import { buildFrame, checksumProblems, decodeFrame } from '../packet/index.ts';
import { HOOKS, openHarness } from '../datapath/prog-run.ts';
import type { Hook } from '../datapath/loader.ts';

const VIP = '198.18.100.1';
const CLIENT = '198.18.0.10';
const BACKEND = '198.18.1.11';

export interface SmokeResult {
  kernel: string;
  hook: Hook;
  ok: boolean;
  loadMs?: number;
  verdict?: string;
  dst?: string;
  reasons?: Record<string, number>;
  error?: string;
  /** The verifier log's last lines when the kernel refused a program. */
  verifierLog?: string[];
}

export function smokeHook(hook: Hook): SmokeResult {
  const kernel = release();
  const t0 = Date.now();
  let h;
  try {
    h = openHarness(hook, { ctEntries: 1024, maxServices: 4 });
  } catch (e) {
    const log = e instanceof BpfError && e.verifierLog !== undefined ? e.verifierLog.trim().split('\n').slice(-40) : undefined;
    return { kernel, hook, ok: false, error: e instanceof Error ? e.message : String(e), ...(log ? { verifierLog: log } : {}) };
  }
  const loadMs = Date.now() - t0;
  try {
    h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: BACKEND, port: 8080 }] });
    h.reasonDelta();
    const r = h.run(buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 40000, dport: 80, flags: 'S' } }));
    const out = decodeFrame(r.data);
    const reasons = h.reasonDelta();
    const dst = `${out.ip?.dst ?? '?'}:${out.tcp?.dport ?? '?'}`;
    const problems = checksumProblems(out);
    const errors: string[] = [];
    // An empty FIB table (prog-run's config): the translated packet comes back as pass.
    if (r.verdict !== 'pass') errors.push(`verdict ${r.verdict}, expected pass`);
    if (dst !== `${BACKEND}:8080`) errors.push(`destination ${dst}, expected ${BACKEND}:8080 (DNAT)`);
    if (problems.length > 0) errors.push(`checksums: ${JSON.stringify(problems)}`);
    if (reasons.new_flow !== 1) errors.push(`reasons ${JSON.stringify(reasons)}, expected new_flow: 1`);
    return {
      kernel,
      hook,
      ok: errors.length === 0,
      loadMs,
      verdict: r.verdict,
      dst,
      reasons,
      ...(errors.length > 0 ? { error: errors.join('; ') } : {}),
    };
  } catch (e) {
    return { kernel, hook, ok: false, loadMs, error: e instanceof Error ? e.message : String(e) };
  } finally {
    h.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { hook: { type: 'string', multiple: true } } });
  const hooks = (values.hook ?? HOOKS) as Hook[];
  let ok = true;
  for (const hook of hooks) {
    if (!HOOKS.includes(hook)) throw new Error(`--hook ${hook}: tc or xdp`);
    const r = smokeHook(hook);
    ok &&= r.ok;
    console.log(JSON.stringify(r));
  }
  return ok ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exitCode = 1;
    },
  );
}
