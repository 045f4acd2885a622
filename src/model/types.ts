// The model's own records: the conntrack key and entry with the fields of the schema
// (src/schema/maps.ts: xlb_ct_key, xlb_ct_entry) in TypeScript types, and the constants of the
// pipeline. Addresses are 16-byte buffers (IPv4 in the first 4), ports numbers in host order
// (the schema's network-order fields decoded).
import { ctKey, CT_STATE } from '../schema/maps.ts';
import type { CtStateName } from '../schema/maps.ts';

export const IPPROTO = { icmp: 1, tcp: 6, udp: 17, icmp6: 58, hopopts: 0, routing: 43, fragment: 44, dstopts: 60 } as const;
export const NO_SLOT = 0xffff;
export const MAX_EP = 64;
/** Largest offset of a header field the datapath touches. */
export const MAX_OFF = 255;
/** Largest L4 offset the datapath balances (deeper headers: not balanced, passed). */
export const MAX_L4_OFF = 200;
export const PEER_TOUCH_NS = 1_000_000_000n;
export const SNAT_TRIES = 8;
export const SNAT_STRIDE = 7919;

export const ST: Record<CtStateName, number> = Object.fromEntries(CT_STATE.map((n, i) => [n, i])) as Record<CtStateName, number>;

export interface CtKey {
  saddr: Buffer;
  daddr: Buffer;
  sport: number;
  dport: number;
  proto: number;
  family: number;
}

export interface CtEntry {
  createdNs: bigint;
  lastSeenNs: bigint;
  packets: number;
  bytes: number;
  peerTouchNs: bigint;
  natSaddr: Buffer;
  natDaddr: Buffer;
  natSport: number;
  natDport: number;
  svcId: number;
  nextSeq: number;
  epSlot: number;
  tcpWin: number;
  /** The acknowledgement number of the sender's last packet with ACK (valid with CT_F.ackKnown). */
  lastAck: number;
  state: number;
  flags: number;
  xlate: number;
}

export function zeroKey(): CtKey {
  return { saddr: Buffer.alloc(16), daddr: Buffer.alloc(16), sport: 0, dport: 0, proto: 0, family: 0 };
}

export function keyString(k: CtKey): string {
  return `${k.family}/${k.proto}/${k.saddr.toString('hex')}/${k.daddr.toString('hex')}/${k.sport}/${k.dport}`;
}

/** The 40 bytes of struct xlb_ct_key (what the hash reads). */
export function keyBytes(k: CtKey): Buffer {
  return ctKey.encode({ saddr: k.saddr, daddr: k.daddr, sport: k.sport, dport: k.dport, proto: k.proto, family: k.family });
}

/** The key of the other direction's entry: the translated tuple, swapped. */
export function peerKey(e: CtEntry, k: CtKey): CtKey {
  return { saddr: e.natDaddr, daddr: e.natSaddr, sport: e.natDport, dport: e.natSport, proto: k.proto, family: k.family };
}

export function stateName(n: number): CtStateName {
  return CT_STATE[n] ?? 'NONE';
}
