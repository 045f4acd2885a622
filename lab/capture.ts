// Per-link packet capture: one tcpdump per chosen interface, inside the node's namespace, writing
// a pcap under the run folder. start() returns once every tcpdump says "listening" (so traffic
// sent after it is captured); stop() waits a settle time, sends SIGINT and waits for each
// tcpdump to exit, so packets still in flight are written (-U: flushed per packet,
// --immediate-mode: delivered without buffering delay). The per-file kernel drop counts tcpdump
// reports are returned, so a lost packet is never silent.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { decodeRecord, readPcapFile } from '../src/packet/index.ts';
import type { DecodedFrame, PcapRecord } from '../src/packet/index.ts';
import type { Lab, LabProcess } from './lab.ts';

export interface CapturedPacket {
  record: PcapRecord;
  /** The decoded frame, with checksum verdicts ('partial' = captured before tx offload filled it). */
  frame: DecodedFrame;
}

/** Reads and decodes a pcap (Ethernet, raw IP or Linux cooked). */
export async function decodePcap(file: string): Promise<CapturedPacket[]> {
  const pcap = await readPcapFile(file);
  if (pcap.linkType === undefined) {
    throw new Error(`${file}: link type ${pcap.linkTypeNumber} is not one the packet toolkit decodes (Ethernet, raw IP, Linux cooked)`);
  }
  return pcap.records.map((record) => ({ record, frame: decodeRecord(record) }));
}

export interface CapturePoint {
  node: string;
  /** Segment of the node's interface; default every interface of the node. */
  segment?: string;
}

export interface CaptureOptions {
  /** Interfaces to capture; default every interface of every node. */
  points?: CapturePoint[];
  /** Directory for the pcaps; default <lab.runDir>/capture-<n>. */
  dir?: string;
  /** A pcap filter expression (e.g. "udp port 7001 or icmp"). */
  filter?: string;
  /** Snap length; default 0 (whole frames). */
  snaplen?: number;
  /**
   * tcpdump's kernel buffer (-B), KiB; default 16384. With --immediate-mode libpcap uses a
   * TPACKET_V2 ring of snaplen-sized slots when the interface has offloads (GRO/TSO, as every
   * veth here): 2 MiB (its default) is 8 slots of 256 KiB, and a busy machine drops packets.
   */
  bufferKiB?: number;
}

export interface CaptureFile {
  node: string;
  segment: string;
  ifname: string;
  path: string;
}

export interface CaptureStats extends CaptureFile {
  captured: number;
  receivedByFilter: number;
  droppedByKernel: number;
}

let counter = 0;

function parseStats(stderr: string): { captured: number; receivedByFilter: number; droppedByKernel: number } {
  const num = (re: RegExp): number => Number(re.exec(stderr)?.[1] ?? NaN);
  return {
    captured: num(/(\d+) packets? captured/),
    receivedByFilter: num(/(\d+) packets? received by filter/),
    droppedByKernel: num(/(\d+) packets? dropped by kernel/),
  };
}

export class Capture {
  readonly dir: string;
  readonly files: CaptureFile[];
  #procs: LabProcess[];
  #stopped: Promise<CaptureStats[]> | undefined;

  private constructor(dir: string, files: CaptureFile[], procs: LabProcess[]) {
    this.dir = dir;
    this.files = files;
    this.#procs = procs;
  }

  static async start(lab: Lab, opts: CaptureOptions = {}): Promise<Capture> {
    const points: CapturePoint[] = opts.points ?? lab.topology.nodes.map((n) => ({ node: n.name }));
    const files: CaptureFile[] = [];
    for (const p of points) {
      const node = lab.node(p.node);
      const ifaces = p.segment === undefined ? node.ifaces : [lab.iface(p.node, p.segment)];
      for (const i of ifaces) files.push({ node: p.node, segment: i.segment, ifname: i.ifname, path: '' });
    }
    if (files.length === 0) throw new Error('capture: no interfaces chosen (check points: node and segment names)');
    const dir = opts.dir ?? path.join(lab.runDir, `capture-${++counter}`);
    mkdirSync(dir, { recursive: true });
    for (const f of files) f.path = path.join(dir, `${f.node}-${f.segment}.pcap`);
    const started = await Promise.allSettled(
      files.map((f) => {
        // -Z root: Debian's tcpdump drops to user tcpdump, which could not write the run folder.
        const args = [
          '-i',
          f.ifname,
          '-w',
          f.path,
          '-U',
          '--immediate-mode',
          '-n',
          '-s',
          String(opts.snaplen ?? 0),
          '-B',
          String(opts.bufferKiB ?? 16384),
          '-Z',
          'root',
        ];
        if (opts.filter !== undefined) args.push(opts.filter);
        return lab.spawn(f.node, 'tcpdump', args, { ready: /listening on/, readyTimeoutMs: 10_000 });
      }),
    );
    const procs = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(procs.map((p) => p.stop(500)));
      throw new Error(`capture: could not start tcpdump: ${(failed.reason as Error).message}`);
    }
    return new Capture(dir, files, procs);
  }

  /** Stops every tcpdump (after settleMs for in-flight packets) and returns its counts. */
  stop(settleMs = 100): Promise<CaptureStats[]> {
    this.#stopped ??= (async () => {
      await new Promise((r) => setTimeout(r, settleMs));
      for (const p of this.#procs) p.signal('SIGINT');
      const out: CaptureStats[] = [];
      for (const [k, p] of this.#procs.entries()) {
        const t = setTimeout(() => p.signal('SIGKILL'), 5000);
        await p.exited;
        clearTimeout(t);
        const f = this.files[k];
        if (f !== undefined) out.push({ ...f, ...parseStats(p.stderr()) });
      }
      return out;
    })();
    return this.#stopped;
  }

  /** The decoded packets of a node's interface (after stop()). */
  async packets(node: string, segment?: string): Promise<CapturedPacket[]> {
    if (this.#stopped === undefined) throw new Error('capture: call stop() before reading packets (tcpdump may still hold some)');
    await this.#stopped;
    return decodePcap(this.file(node, segment));
  }

  /** The pcap file of a node's interface (on `segment`, or its only one). */
  file(node: string, segment?: string): string {
    const f = this.files.find((x) => x.node === node && (segment === undefined || x.segment === segment));
    if (f === undefined)
      throw new Error(
        `capture: no pcap for ${node}${segment !== undefined ? ` on ${segment}` : ''} (captured: ${this.files.map((x) => `${x.node}/${x.segment}`).join(', ')})`,
      );
    return f.path;
  }
}
