// A pcap file written record by record, for long recordings (e.g. every link of a simulation):
// records are buffered and appended with synchronous writes, so a crash loses at most the
// buffered ones and the file is always a valid pcap up to its last whole record.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { LinkType } from './decoded.ts';
import { pcapGlobalHeader, pcapRecordBytes, type WritableRecord, type WritePcapOptions } from './pcap.ts';

export interface PcapWriterOptions extends WritePcapOptions {
  /** Flush to the file when this many bytes are buffered (default 64 KiB; 0 = every record). */
  bufferBytes?: number;
}

export class PcapWriter {
  readonly path: string;
  #fd: number | undefined;
  #options: PcapWriterOptions;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #count = 0;

  /** Creates (or truncates) `path` and writes the global header. */
  constructor(path: string, linkType: LinkType | number = 'ethernet', options: PcapWriterOptions = {}) {
    this.path = path;
    this.#options = options;
    try {
      this.#fd = openSync(path, 'w');
    } catch (e) {
      throw new Error(`cannot create pcap ${path}: ${(e as Error).message}`);
    }
    try {
      writeSync(this.#fd, pcapGlobalHeader(linkType, options));
    } catch (e) {
      closeSync(this.#fd);
      this.#fd = undefined;
      throw new Error(`cannot write pcap ${path}: ${(e as Error).message}`);
    }
  }

  /** Records written so far. */
  get count(): number {
    return this.#count;
  }

  write(record: WritableRecord): void {
    if (this.#fd === undefined) throw new Error(`pcap ${this.path} is closed; open a new PcapWriter to write more`);
    const bytes = pcapRecordBytes(record, this.#count, this.#options);
    this.#count++;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (this.#pendingBytes >= (this.#options.bufferBytes ?? 65536)) this.flush();
  }

  flush(): void {
    if (this.#fd === undefined || this.#pending.length === 0) return;
    writeSync(this.#fd, Buffer.concat(this.#pending));
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  /** Flushes and closes; further close() calls do nothing. */
  close(): void {
    if (this.#fd === undefined) return;
    this.flush();
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
