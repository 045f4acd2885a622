// The agent's persistence: the config file (YAML, src/agent/config-file.ts) as a snapshot, plus
// a journal beside it (`.<file>.journal`, JSON lines) that takes every change made through the
// API. A PUT of one service appends one line and waits for fdatasync; the appends of requests
// that arrive while a sync runs share the next one (group commit). So the cost of making one
// change durable does not depend on how many services the agent holds, where rewriting the whole
// file on every change (2-3 MB at 10,000 services) made a PUT O(services).
//
// The snapshot is rewritten (compaction: temp file, fsync, rename; then the journal emptied)
//   - when the journal has grown past the snapshot's size (so compaction stays O(1) amortized
//     per change),
//   - after `idleMs` without changes (so the YAML file a person reads is current within about a
//     second of the last change),
//   - on a bulk replace (PUT /v1/services: the whole state changes anyway),
//   - when the agent stops.
// At start the journal is replayed over the file (every change an API client was told about
// survives a crash); a torn last line (a crash during an append that was never acknowledged) is
// ignored. A reload (SIGHUP) applies the file as it is and then empties the journal: the file is
// the whole truth after a reload, as before (edit it, then SIGHUP).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Service } from '../controller/types.ts';
import type { AgentSettings } from './config-file.ts';
import { configText, fsyncDir, writeFileAtomic } from './config-file.ts';

export type JournalOp = { op: 'put'; service: Service } | { op: 'delete'; name: string };

export function journalPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.journal`);
}

export interface JournalReplay {
  /** The services list with the journal applied (still unvalidated, like the file's). */
  services: unknown;
  /** Operations applied. */
  applied: number;
  /** Why lines were skipped (a torn last line, a line that is not an operation). */
  warnings: string[];
}

/**
 * Applies the journal of `file` to the services read from it. A list that is not an array of
 * named objects is returned as it is (validation reports it); the journal then waits.
 */
export function replayJournal(file: string, services: unknown): JournalReplay {
  const jp = journalPath(file);
  const out: JournalReplay = { services, applied: 0, warnings: [] };
  if (!existsSync(jp)) return out;
  const text = readFileSync(jp, 'utf8');
  if (text === '') return out;
  if (
    !Array.isArray(services) ||
    !services.every((s) => typeof s === 'object' && s !== null && typeof (s as { name?: unknown }).name === 'string')
  ) {
    out.warnings.push(`${jp}: not applied: the services of ${file} are not a list of named services`);
    return out;
  }
  // By name, in file order (a put of a known name keeps its place; a new one goes last).
  const byName = new Map<string, unknown>((services as { name: string }[]).map((s) => [s.name, s]));
  if (byName.size !== services.length) {
    out.warnings.push(`${jp}: not applied: ${file} names a service twice (validation says which)`);
    return out;
  }
  // The element after the last newline is '' or a line whose append did not complete.
  const lines = text.split('\n');
  const complete = lines.length - 1;
  if (!text.endsWith('\n'))
    out.warnings.push(`${jp}: ignored the unfinished last line (an append cut short; its request was never answered)`);
  for (let i = 0; i < complete; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    let op: JournalOp;
    try {
      op = JSON.parse(line) as JournalOp;
    } catch {
      out.warnings.push(`${jp}:${i + 1}: not JSON; ignored`);
      continue;
    }
    if (op.op === 'put' && typeof op.service?.name === 'string') byName.set(op.service.name, op.service);
    else if (op.op === 'delete' && typeof op.name === 'string') byName.delete(op.name);
    else {
      out.warnings.push(`${jp}:${i + 1}: not a put or delete operation; ignored`);
      continue;
    }
    out.applied++;
  }
  out.services = [...byName.values()];
  return out;
}

export interface ConfigStoreOptions {
  file: string;
  agent: AgentSettings;
  /** The current desired services (read at compaction; not copied, not modified). */
  state: () => readonly Readonly<Service>[];
  /** Compact after this long without a change; default 1000 ms. */
  idleMs?: number;
  /** Journal size that always allows a compaction; default 64 KiB. */
  minCompactBytes?: number;
  /** Compaction failures (the journal keeps every change; the next compaction retries). */
  onError?: (err: Error) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A journal line to append, or the mark of a reload (everything journaled before it is superseded). */
type Item = { line: string; w: Waiter } | { reset: true };

export class ConfigStore {
  private readonly o: Required<Omit<ConfigStoreOptions, 'onError'>> & Pick<ConfigStoreOptions, 'onError'>;
  private readonly jp: string;
  private fh: FileHandle | undefined;
  private items: Item[] = [];
  private compactWanted = false;
  private compactWaiters: Waiter[] = [];
  private running: Promise<void> | undefined;
  private journalBytes: number;
  private snapshotBytes: number;
  private idle: NodeJS.Timeout | undefined;
  private closed = false;
  private snapshotExists: boolean;
  /** What the store did (tests, the bench). */
  readonly stats = { appends: 0, syncs: 0, compactions: 0 };

  constructor(opts: ConfigStoreOptions) {
    this.o = { idleMs: 1000, minCompactBytes: 64 * 1024, ...opts };
    this.jp = journalPath(opts.file);
    this.journalBytes = existsSync(this.jp) ? readFileSync(this.jp).length : 0;
    this.snapshotExists = existsSync(opts.file);
    this.snapshotBytes = this.snapshotExists ? readFileSync(opts.file).length : 0;
  }

  /** Journals a created or replaced service; resolves once the line is on disk. */
  put(service: Readonly<Service>): Promise<void> {
    return this.append({ op: 'put', service: service as Service });
  }

  /** Journals a deletion; resolves once the line is on disk. */
  delete(name: string): Promise<void> {
    return this.append({ op: 'delete', name });
  }

  /** Rewrites the snapshot from the current state and empties the journal; resolves when durable. */
  compact(): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`the config store of ${this.o.file} is closed`));
    return new Promise<void>((resolve, reject) => {
      this.compactWanted = true;
      this.compactWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  /**
   * After a reload applied the file as it is: what the journal holds so far is superseded (the
   * file is the whole state now), so it is emptied without rewriting the person's file. Changes
   * made after this call are journaled after the mark.
   */
  resetAfterReload(): void {
    this.items.push({ reset: true });
    this.kick();
  }

  /** Writes what is pending, compacts when the journal is not empty, closes the journal. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.idle !== undefined) clearTimeout(this.idle);
    await this.running;
    if (this.journalBytes > 0 || this.items.length > 0) await this.compact();
    this.closed = true;
    await this.fh?.close();
    this.fh = undefined;
  }

  private append(op: JournalOp): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`the config store of ${this.o.file} is closed`));
    // Serialized now: the caller may change the object right after this call returns.
    const line = `${JSON.stringify(op)}\n`;
    return new Promise<void>((resolve, reject) => {
      this.items.push({ line, w: { resolve, reject } });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running !== undefined) return;
    // setImmediate: the changes made in this turn of the event loop join the same write.
    this.running = new Promise<void>((r) => setImmediate(r))
      .then(() => this.drain())
      .finally(() => {
        this.running = undefined;
        if (this.items.length > 0 || this.compactWanted) this.kick();
        else this.armIdle();
      });
  }

  private armIdle(): void {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.idle = undefined;
    if (this.journalBytes === 0 || this.closed) return;
    this.idle = setTimeout(() => {
      this.idle = undefined;
      if (!this.closed) this.compact().catch((err: unknown) => this.o.onError?.(err as Error));
    }, this.o.idleMs);
    this.idle.unref();
  }

  /** One round: the reload marks, then a compaction (which covers every pending change) or one group append. */
  private async drain(): Promise<void> {
    let items = this.items;
    this.items = [];
    const lastReset = items.map((it) => 'reset' in it).lastIndexOf(true);
    if (lastReset >= 0) {
      // Changes journaled before the reload are superseded by the file it applied.
      const before = items.slice(0, lastReset);
      items = items.slice(lastReset + 1);
      try {
        await this.truncateJournal();
        this.snapshotExists = existsSync(this.o.file);
        this.snapshotBytes = this.snapshotExists ? readFileSync(this.o.file).length : 0;
        for (const it of before) if ('w' in it) it.w.resolve();
      } catch (err) {
        for (const it of before) if ('w' in it) it.w.reject(err as Error);
        this.o.onError?.(err as Error);
      }
    }
    const lines = items as { line: string; w: Waiter }[];
    const bytes = lines.reduce((n, l) => n + l.line.length, 0);
    // No file yet: the first change writes it (a file that exists is how `xlb agent` tells a
    // configured instance from a fresh one).
    const grown =
      this.journalBytes + bytes > Math.max(this.snapshotBytes, this.o.minCompactBytes) || (lines.length > 0 && !this.snapshotExists);
    if (this.compactWanted || grown) {
      const cw = this.compactWaiters;
      this.compactWanted = false;
      this.compactWaiters = [];
      try {
        await this.writeSnapshot();
        for (const l of lines) l.w.resolve();
        for (const w of cw) w.resolve();
        return;
      } catch (err) {
        for (const w of cw) w.reject(err as Error);
        if (lines.length === 0) this.o.onError?.(err as Error);
        // Not compacted: the changes must still reach the journal before their requests succeed.
      }
    }
    try {
      await this.appendLines(lines.map((l) => l.line));
      for (const l of lines) l.w.resolve();
    } catch (err) {
      for (const l of lines) l.w.reject(err as Error);
    }
  }

  private async appendLines(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    if (this.fh === undefined) {
      await mkdir(path.dirname(this.jp), { recursive: true });
      const created = !existsSync(this.jp);
      this.fh = await open(this.jp, 'a', 0o600);
      // The journal's own directory entry must be durable before a line in it counts.
      if (created) await fsyncDir(path.dirname(this.jp));
    }
    const text = lines.join('');
    await this.fh.write(text);
    await this.fh.datasync();
    this.journalBytes += Buffer.byteLength(text);
    this.stats.appends += lines.length;
    this.stats.syncs++;
  }

  private async truncateJournal(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    if (!existsSync(this.jp)) return;
    const fh = await open(this.jp, 'w', 0o600);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    this.journalBytes = 0;
  }

  /**
   * The snapshot of the current state replaces the file (temp, fsync, rename, fsync of the
   * directory), then the journal is emptied. A crash between the two leaves a journal whose
   * changes the file already holds; replaying them at start changes nothing.
   */
  private async writeSnapshot(): Promise<void> {
    const file = this.o.file;
    const text = configText(this.o.agent, { services: this.o.state() as Service[] });
    await writeFileAtomic(file, text);
    await this.truncateJournal();
    this.snapshotBytes = Buffer.byteLength(text);
    this.snapshotExists = true;
    this.stats.compactions++;
  }
}
