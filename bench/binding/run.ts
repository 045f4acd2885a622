// Binding benchmark: µs per single map update/lookup and per element in batches, from
// TypeScript (src/bpf) and from raw libbpf C (bench.c), on the same pinned hash map, in the
// same run, passes interleaved. Needs root.
//   node --import tsx bench/binding/run.ts [--n 10000] [--batch 256] [--passes 15] [--out FILE.json]
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BpfMap } from '../../src/bpf/index.ts';
import { ROOT } from '../../src/root.ts';

const HERE = path.join(ROOT, 'bench', 'binding');
const KEY_SIZE = 8;
const VALUE_SIZE = 24;

export interface OpTimes {
  updateUs: number;
  lookupUs: number;
  updateBatchUsPerElem: number;
  lookupBatchUsPerElem: number;
  deleteBatchUsPerElem: number;
}

/** The TypeScript side also measures the zero-copy batch variants (contiguous buffers). */
export interface TsOpTimes extends OpTimes {
  lookupIntoUs: number;
  updateBatchRawUsPerElem: number;
  lookupBatchRawUsPerElem: number;
  deleteBatchRawUsPerElem: number;
}

export interface Stat {
  min: number;
  median: number;
}

export interface BenchRow {
  op: string;
  c: Stat;
  ts: Stat;
  /** ts / c, on medians and on minimums. */
  ratioMedian: number;
  ratioMin: number;
}

export interface BenchResult {
  n: number;
  batch: number;
  passes: number;
  rows: BenchRow[];
  /** The bpffs directory the map was pinned in for the C side (removed at the end). */
  pinDir: string;
}

const C_OPS: (keyof OpTimes)[] = ['updateUs', 'lookupUs', 'updateBatchUsPerElem', 'lookupBatchUsPerElem', 'deleteBatchUsPerElem'];
// Each TypeScript measurement and the C measurement it is compared with.
const ROWS: [keyof TsOpTimes, keyof OpTimes][] = [
  ['updateUs', 'updateUs'],
  ['lookupUs', 'lookupUs'],
  ['lookupIntoUs', 'lookupUs'],
  ['updateBatchUsPerElem', 'updateBatchUsPerElem'],
  ['updateBatchRawUsPerElem', 'updateBatchUsPerElem'],
  ['lookupBatchUsPerElem', 'lookupBatchUsPerElem'],
  ['lookupBatchRawUsPerElem', 'lookupBatchUsPerElem'],
  ['deleteBatchUsPerElem', 'deleteBatchUsPerElem'],
  ['deleteBatchRawUsPerElem', 'deleteBatchUsPerElem'],
];

function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return { min: s[0]!, median: s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2 };
}

interface TsData {
  keys: Buffer[];
  vals: Buffer[];
  chunks: [Buffer, Buffer][][];
  keyChunks: Buffer[][];
  rawChunks: { count: number; keys: Buffer; values: Buffer }[];
}

/** Keys and values identical to bench.c's: key = u32 i (LE) + 4 zero bytes, value = 24 × (i & 0xff). */
function tsData(n: number, batch: number): TsData {
  const keys = Array.from({ length: n }, (_, i) => {
    const k = Buffer.alloc(KEY_SIZE);
    k.writeUInt32LE(i);
    return k;
  });
  const vals = Array.from({ length: n }, (_, i) => Buffer.alloc(VALUE_SIZE, i & 0xff));
  const entries: [Buffer, Buffer][] = keys.map((k, i) => [k, vals[i]!]);
  const allKeys = Buffer.concat(keys);
  const allVals = Buffer.concat(vals);
  const chunks: [Buffer, Buffer][][] = [];
  const rawChunks: { count: number; keys: Buffer; values: Buffer }[] = [];
  for (let off = 0; off < n; off += batch) {
    const count = Math.min(batch, n - off);
    chunks.push(entries.slice(off, off + count));
    rawChunks.push({
      count,
      keys: allKeys.subarray(off * KEY_SIZE, (off + count) * KEY_SIZE),
      values: allVals.subarray(off * VALUE_SIZE, (off + count) * VALUE_SIZE),
    });
  }
  return { keys, vals, chunks, keyChunks: chunks.map((c) => c.map(([k]) => k)), rawChunks };
}

function timeUs(n: number, fn: () => void): number {
  const t0 = performance.now();
  fn();
  return ((performance.now() - t0) * 1000) / n;
}

/** One TypeScript pass: the same operations, keys and values as one round of bench.c. */
function tsPass(map: BpfMap, d: TsData): TsOpTimes {
  const n = d.keys.length;
  const expectAll = (got: number, what: string): void => {
    if (got !== n) throw new Error(`${what} handled ${got} entries, expected ${n}`);
  };
  const updateUs = timeUs(n, () => {
    for (let i = 0; i < n; i++) map.update(d.keys[i]!, d.vals[i]!);
  });
  const lookupUs = timeUs(n, () => {
    for (let i = 0; i < n; i++) if (map.lookup(d.keys[i]!) === undefined) throw new Error(`lookup of key ${i} found nothing`);
  });
  const out = Buffer.alloc(VALUE_SIZE);
  const lookupIntoUs = timeUs(n, () => {
    for (let i = 0; i < n; i++) if (!map.lookupInto(d.keys[i]!, out)) throw new Error(`lookupInto of key ${i} found nothing`);
  });
  const updateBatchUsPerElem = timeUs(n, () => {
    for (const c of d.chunks) map.updateBatch(c);
  });
  let got = 0;
  const lookupBatchUsPerElem = timeUs(n, () => {
    got = map.lookupBatch().length;
  });
  expectAll(got, 'lookupBatch');
  let deleted = 0;
  const deleteBatchUsPerElem = timeUs(n, () => {
    for (const c of d.keyChunks) deleted += map.deleteBatch(c);
  });
  expectAll(deleted, 'deleteBatch');
  const updateBatchRawUsPerElem = timeUs(n, () => {
    for (const c of d.rawChunks) map.updateBatchRaw(c);
  });
  const lookupBatchRawUsPerElem = timeUs(n, () => {
    got = map.lookupBatchRaw().count;
  });
  expectAll(got, 'lookupBatchRaw');
  deleted = 0;
  const deleteBatchRawUsPerElem = timeUs(n, () => {
    for (const c of d.rawChunks) deleted += map.deleteBatchRaw(c.keys, c.count);
  });
  expectAll(deleted, 'deleteBatchRaw');
  return {
    updateUs,
    lookupUs,
    lookupIntoUs,
    updateBatchUsPerElem,
    lookupBatchUsPerElem,
    deleteBatchUsPerElem,
    updateBatchRawUsPerElem,
    lookupBatchRawUsPerElem,
    deleteBatchRawUsPerElem,
  };
}

async function cPass(bin: string, pin: string, n: number, batch: number): Promise<OpTimes> {
  const r = await execa(bin, [pin, String(n), String(batch), '1'], { timeout: 120_000 });
  const parsed = JSON.parse(r.stdout) as OpTimes;
  for (const op of C_OPS) if (typeof parsed[op] !== 'number') throw new Error(`bench.c printed no '${op}': ${r.stdout}`);
  return parsed;
}

/**
 * Alternates one C pass and one TypeScript pass, `passes` times, on the same pinned map: the
 * machine's load hits both sides alike. Reports minimum and median per operation.
 */
export async function runBindingBench(opts: { n?: number; batch?: number; passes?: number } = {}): Promise<BenchResult> {
  const n = opts.n ?? 10_000;
  const batch = opts.batch ?? 256;
  const passes = opts.passes ?? 15;
  const bin = (await execa(path.join(HERE, 'build.sh'))).stdout.trim().split('\n').pop() ?? '';
  const dir = `/sys/fs/bpf/xlb/bench-${randomBytes(4).toString('hex')}`;
  const pin = `${dir}/map`;
  const map = BpfMap.create({ type: 'hash', keySize: KEY_SIZE, valueSize: VALUE_SIZE, maxEntries: n, name: 'xlb_bench' });
  try {
    map.pin(pin);
    const data = tsData(n, batch);
    tsPass(map, data); // warm-up (JIT)
    await cPass(bin, pin, n, batch);
    const c: OpTimes[] = [];
    const ts: TsOpTimes[] = [];
    for (let p = 0; p < passes; p++) {
      c.push(await cPass(bin, pin, n, batch));
      ts.push(tsPass(map, data));
    }
    const rows = ROWS.map(([tsOp, cOp]): BenchRow => {
      const cs = stat(c.map((x) => x[cOp]));
      const tss = stat(ts.map((x) => x[tsOp]));
      return { op: tsOp, c: cs, ts: tss, ratioMedian: tss.median / cs.median, ratioMin: tss.min / cs.min };
    });
    return { n, batch, passes, rows, pinDir: dir };
  } finally {
    map.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatResult(r: BenchResult): string {
  const f = (x: number): string => x.toFixed(3).padStart(8);
  const head = `${'operation (µs)'.padEnd(26)} ${'C min'.padStart(8)} ${'TS min'.padStart(8)} ${'C med'.padStart(8)} ${'TS med'.padStart(8)}  TS/C min  TS/C med`;
  const rows = r.rows.map(
    (x) =>
      `${x.op.padEnd(26)} ${f(x.c.min)} ${f(x.ts.min)} ${f(x.c.median)} ${f(x.ts.median)}  ${x.ratioMin.toFixed(2).padStart(7)}×  ${x.ratioMedian.toFixed(2).padStart(7)}×`,
  );
  return [
    `binding benchmark: hash map, key ${KEY_SIZE} B, value ${VALUE_SIZE} B, n=${r.n}, batch=${r.batch}, ${r.passes} alternating C/TS passes`,
    head,
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string' },
      batch: { type: 'string' },
      passes: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const num = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!Number.isInteger(x) || x <= 0) throw new Error(`--${name} must be a positive integer, got '${v}'`);
    return x;
  };
  const opts: { n?: number; batch?: number; passes?: number } = {};
  const n = num(values.n, 'n');
  const b = num(values.batch, 'batch');
  const p = num(values.passes, 'passes');
  if (n !== undefined) opts.n = n;
  if (b !== undefined) opts.batch = b;
  if (p !== undefined) opts.passes = p;
  const result = await runBindingBench(opts);
  console.log(formatResult(result));
  if (values.out !== undefined) writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
