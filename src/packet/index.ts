// The packet toolkit: build, decode, describe, flow keys, checksums, pcap read/write.
export { buildFrame, buildIpPacket, payloadBytes, DEFAULT_DST_MAC, DEFAULT_SRC_MAC } from './build.ts';
export { decodeFrame, decodeIpPacket, type DecodeOptions } from './decode.ts';
export { checksumsOf, checksumProblems, fixChecksums, type ChecksumEntry, type FixChecksumsOptions } from './checks.ts';
export { SAMPLES, LINUX_SYN_OPTIONS, CLIENT4, VIP4, BACKEND4, CLIENT6, VIP6, BACKEND6 } from './samples.ts';
export { describe, type DescribeOptions } from './describe.ts';
export { flowOf, relatedFlowOf, reverseFlow, flowKeyString, sameFlow, type FlowKey, type FlowProto } from './flow.ts';
export { internetChecksum, pseudoHeaderSum, partialChecksum, sumWords, fold, onesEqual, updateChecksum16 } from './checksum.ts';
export { parseIp, parseIpv4, parseIpv6, parseMac, formatIpv4, formatIpv6, formatMac, familyOf, type IpFamily } from './addr.ts';
export { parseTcpFlags, formatTcpFlags, formatTcpOptions } from './tcp.ts';
export {
  readPcap,
  readPcapFile,
  readPcapBuffer,
  writePcap,
  pcapBytes,
  pcapGlobalHeader,
  pcapRecordBytes,
  decodeRecord,
  linkTypeName,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  type PcapRecord,
  type PcapFile,
  type WritableRecord,
  type WritePcapOptions,
} from './pcap.ts';
export { PcapWriter, type PcapWriterOptions } from './pcap-writer.ts';
export type * from './spec.ts';
export type * from './decoded.ts';
