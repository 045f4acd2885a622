// pcap files: read with pcap-parser, write by hand.
//
// Reading: the file is read into memory once, checked for pcapng (which pcap-parser cannot read)
// and handed to pcap-parser as ONE stream chunk. pcap-parser concatenates chunks with the
// deprecated `new Buffer()` (a runtime warning, and quadratic copying on big files); a single
// chunk avoids both. Nanosecond-resolution files (magic 0xa1b23c4d, `tcpdump
// --time-stamp-precision=nano`) are handed over with the magic rewritten to the microsecond one,
// and the sub-second field is read as nanoseconds.
//
// Writing: pcap-parser only parses, so the classic libpcap 2.4 format is written here directly
// (24-byte global header, 16-byte record headers, little-endian).

import { readFile, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import * as pcapParser from 'pcap-parser';
import { decodeFrame } from './decode.ts';
import type { DecodedFrame, LinkType } from './decoded.ts';

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;

const LINKTYPES: Record<number, LinkType> = {
  [LINKTYPE_ETHERNET]: 'ethernet',
  [LINKTYPE_RAW]: 'raw-ip',
  12: 'raw-ip', // DLT_RAW as some platforms number it
  14: 'raw-ip',
  228: 'raw-ip', // LINKTYPE_IPV4
  229: 'raw-ip', // LINKTYPE_IPV6
  [LINKTYPE_LINUX_SLL]: 'sll',
  [LINKTYPE_LINUX_SLL2]: 'sll2',
};

const LINKTYPE_NUMBERS: Record<LinkType, number> = {
  ethernet: LINKTYPE_ETHERNET,
  'raw-ip': LINKTYPE_RAW,
  sll: LINKTYPE_LINUX_SLL,
  sll2: LINKTYPE_LINUX_SLL2,
};

/** The decoder's name for a pcap link type number, or undefined if xlb does not decode it. */
export function linkTypeName(n: number): LinkType | undefined {
  return LINKTYPES[n];
}

export interface PcapRecord {
  /** 0-based position in the file. */
  index: number;
  tsSec: number;
  /** Sub-second part in nanoseconds (microsecond files give multiples of 1000). */
  tsNsec: number;
  capturedLength: number;
  /** Length on the wire; larger than capturedLength when the snaplen cut the packet. */
  originalLength: number;
  data: Buffer;
  /** The file's link type number (1 Ethernet, 101 raw IP, 113 SLL, 276 SLL2, …). */
  linkTypeNumber: number;
  /** The decoder's name for it; undefined for link types xlb does not decode. */
  linkType: LinkType | undefined;
}

export interface PcapFile {
  linkTypeNumber: number;
  linkType: LinkType | undefined;
  snaplen: number;
  precision: 'us' | 'ns';
  records: PcapRecord[];
  /** Bytes at the end that do not form a whole record (a capture killed mid-write). */
  trailingBytes: number;
}

const MAGIC_US_BE = 0xa1b2c3d4;
const MAGIC_NS_BE = 0xa1b23c4d;
const PCAPNG_MAGIC = 0x0a0d0d0a;

/** Parses a pcap file held in memory. `name` is used in error messages. */
export function readPcapBuffer(bytes: Buffer, name = 'pcap data'): Promise<PcapFile> {
  if (bytes.length === 0) {
    return Promise.reject(
      new Error(
        `${name}: empty file, not a pcap (was the capture stopped before it wrote its header? tcpdump -U writes each packet at once)`,
      ),
    );
  }
  if (bytes.length < 24) return Promise.reject(new Error(`${name}: ${bytes.length} bytes is shorter than the 24-byte pcap header`));
  const magicBE = bytes.readUInt32BE(0);
  if (magicBE === PCAPNG_MAGIC) {
    return Promise.reject(
      new Error(
        `${name} is pcapng (magic 0x0a0d0d0a), not pcap; convert it with ` +
          `'tshark -F pcap -r ${name} -w out.pcap' or 'editcap -F pcap ${name} out.pcap', ` +
          `or capture with 'tcpdump -w' (classic pcap) instead of dumpcap/tshark`,
      ),
    );
  }
  const magicLE = bytes.readUInt32LE(0);
  let precision: 'us' | 'ns';
  let data = bytes;
  if (magicBE === MAGIC_US_BE || magicLE === MAGIC_US_BE) precision = 'us';
  else if (magicBE === MAGIC_NS_BE || magicLE === MAGIC_NS_BE) {
    precision = 'ns';
    data = Buffer.from(bytes);
    if (magicBE === MAGIC_NS_BE) data.writeUInt32BE(MAGIC_US_BE, 0);
    else data.writeUInt32LE(MAGIC_US_BE, 0);
  } else {
    return Promise.reject(
      new Error(
        `${name}: unknown magic 0x${magicBE.toString(16).padStart(8, '0')}; expected a pcap file (0xa1b2c3d4 or 0xa1b23c4d, either byte order)`,
      ),
    );
  }
  const le = magicLE === MAGIC_US_BE || magicLE === MAGIC_NS_BE;
  const linkTypeNumber = le ? data.readUInt32LE(20) : data.readUInt32BE(20);
  const snaplen = le ? data.readUInt32LE(16) : data.readUInt32BE(16);

  return new Promise<PcapFile>((resolve, reject) => {
    const records: PcapRecord[] = [];
    let consumed = 24;
    const parser = pcapParser.parse(Readable.from([data]));
    parser.on('packet', (p) => {
      const h = p.header;
      consumed += 16 + h.capturedLength;
      records.push({
        index: records.length,
        tsSec: h.timestampSeconds,
        tsNsec: precision === 'ns' ? h.timestampMicroseconds : h.timestampMicroseconds * 1000,
        capturedLength: h.capturedLength,
        originalLength: h.originalLength,
        data: Buffer.from(p.data),
        linkTypeNumber,
        linkType: LINKTYPES[linkTypeNumber],
      });
    });
    parser.on('error', (e) => reject(new Error(`${name}: ${e.message}`)));
    parser.on('end', () =>
      resolve({ linkTypeNumber, linkType: LINKTYPES[linkTypeNumber], snaplen, precision, records, trailingBytes: data.length - consumed }),
    );
  });
}

/** Reads a whole pcap file (header facts + records). Rejects with advice on pcapng files. */
export async function readPcapFile(path: string): Promise<PcapFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read pcap ${path}: ${(e as Error).message}`);
  }
  return readPcapBuffer(bytes, path);
}

/** The records of a pcap file, each with its timestamp and link type. */
export async function readPcap(path: string): Promise<PcapRecord[]> {
  return (await readPcapFile(path)).records;
}

/** Decodes a record with its file's link type; a cut record (snaplen) is decoded as truncated, not as an error. */
export function decodeRecord(rec: PcapRecord): DecodedFrame {
  if (rec.linkType === undefined) {
    return {
      linkType: 'ethernet',
      length: rec.data.length,
      vlans: [],
      error: {
        layer: 'ethernet',
        offset: 0,
        reason: `pcap link type ${rec.linkTypeNumber} is not decoded (xlb reads 1 Ethernet, 101 raw IP, 113 SLL, 276 SLL2)`,
      },
    };
  }
  return decodeFrame(rec.data, rec.linkType, { allowTruncation: rec.capturedLength < rec.originalLength });
}

export type WritableRecord = Uint8Array | { data: Uint8Array; tsSec?: number; tsNsec?: number; originalLength?: number };

export interface WritePcapOptions {
  /** Default 262144 (tcpdump's). Longer records are cut to it, keeping their original length. */
  snaplen?: number;
  /** 'us' (default, readable by everything) or 'ns'. */
  precision?: 'us' | 'ns';
}

function linkTypeNumberOf(linkType: LinkType | number): number {
  return typeof linkType === 'number' ? linkType : LINKTYPE_NUMBERS[linkType];
}

/** The 24-byte global header of a little-endian pcap file. */
export function pcapGlobalHeader(linkType: LinkType | number = 'ethernet', options: WritePcapOptions = {}): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(options.precision === 'ns' ? MAGIC_NS_BE : MAGIC_US_BE, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeInt32LE(0, 8);
  h.writeUInt32LE(0, 12);
  h.writeUInt32LE(options.snaplen ?? 262144, 16);
  h.writeUInt32LE(linkTypeNumberOf(linkType), 20);
  return h;
}

/** One record (16-byte header + data cut to the snaplen). Without a timestamp: 0 s + `index` µs. */
export function pcapRecordBytes(r: WritableRecord, index: number, options: WritePcapOptions = {}): Buffer {
  const snaplen = options.snaplen ?? 262144;
  const full = r instanceof Uint8Array ? r : r.data;
  const data = full.length > snaplen ? full.subarray(0, snaplen) : full;
  const tsSec = r instanceof Uint8Array ? 0 : (r.tsSec ?? 0);
  const tsNsec = r instanceof Uint8Array || r.tsNsec === undefined ? index * 1000 : r.tsNsec;
  const orig = r instanceof Uint8Array || r.originalLength === undefined ? full.length : r.originalLength;
  const out = Buffer.alloc(16 + data.length);
  out.writeUInt32LE(tsSec, 0);
  out.writeUInt32LE(options.precision === 'ns' ? tsNsec : Math.floor(tsNsec / 1000), 4);
  out.writeUInt32LE(data.length, 8);
  out.writeUInt32LE(orig, 12);
  out.set(data, 16);
  return out;
}

/**
 * The bytes of a pcap file. Records without a timestamp get 0 s + index microseconds (so
 * fixtures are reproducible).
 */
export function pcapBytes(records: WritableRecord[], linkType: LinkType | number = 'ethernet', options: WritePcapOptions = {}): Buffer {
  return Buffer.concat([pcapGlobalHeader(linkType, options), ...records.map((r, i) => pcapRecordBytes(r, i, options))]);
}

/** Writes a classic pcap file (what tcpdump -r, tshark and Wireshark all read). */
export async function writePcap(
  path: string,
  records: WritableRecord[],
  linkType: LinkType | number = 'ethernet',
  options: WritePcapOptions = {},
): Promise<void> {
  await writeFile(path, pcapBytes(records, linkType, options));
}
