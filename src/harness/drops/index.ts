// Drop diagnosis for a lab run (docs/drops.md): the tracer (tracer.ts), its summary (summary.ts),
// and the glue a lab World uses: watch every node's namespace, drain, summarise, write drops.json.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DropTracer } from './tracer.ts';
import { formatDrops, summarizeDrops } from './summary.ts';
import type { DropSummary } from './summary.ts';

export { DropTracer, decodeDropEvent, skbDropReasons, Kallsyms, netnsInode, DROPS_OBJECT } from './tracer.ts';
export type { DropEvent, DropKind, DropNames, WatchedNetns } from './tracer.ts';
export { formatDrops, summarizeDrops } from './summary.ts';
export type { DropGroup, DropSummary } from './summary.ts';

/** What a lab World needs of the drop tracer. */
export interface LabDrops {
  /** Drains the ring and summarises every drop so far. */
  summary(): DropSummary;
  /** Detaches the tracer (idempotent); summary() keeps working on what was collected. */
  close(): void;
  /** Forgets every drop so far: a reused lab World's next result starts from none. */
  clear(): void;
}

/** Starts tracing drops in the given node namespaces (/run/netns/<name>). */
export function startLabDrops(nodes: { node: string; netns: string }[]): LabDrops {
  const tracer = DropTracer.start(nodes.map((n) => ({ node: n.node, path: path.join('/run/netns', n.netns) })));
  let lostBefore = 0;
  return {
    summary() {
      tracer.flush();
      return summarizeDrops(tracer.events, tracer.lost() - lostBefore);
    },
    close() {
      tracer.close();
    },
    clear() {
      tracer.flush();
      tracer.events.length = 0;
      lostBefore = tracer.lost();
    },
  };
}

/** Writes DIR/drops.json and returns the text for the result's log. */
export function writeDropsArtifact(dir: string, s: DropSummary): string {
  const file = path.join(dir, 'drops.json');
  writeFileSync(file, `${JSON.stringify(s, null, 2)}\n`);
  return `${formatDrops(s)}\n  (${file})`;
}
