// Stage 2 of docs/datapath.md ("Connection tracking"): the table (two entries per flow, LRU),
// liveness on the model's clock, the peer entry, accounting, and the TCP / UDP / ICMP state
// machines with RST sanity. Pure functions over CtEntry plus one table class.
import { CT_F, XLATE } from '../schema/maps.ts';
import { LruMap } from './lru.ts';
import { TCPF } from './parse.ts';
import type { ParsedPacket } from './parse.ts';
import { IPPROTO, ST, keyString } from './types.ts';
import type { CtEntry, CtKey } from './types.ts';
import { NSEC_PER_SEC } from './clock.ts';

export interface CtRecord {
  key: CtKey;
  entry: CtEntry;
}

export class CtTable {
  private readonly lru: LruMap<CtRecord>;

  constructor(capacity: number) {
    this.lru = new LruMap(capacity);
  }

  lookup(k: CtKey): CtEntry | undefined {
    return this.lru.get(keyString(k))?.entry;
  }

  peek(k: CtKey): CtEntry | undefined {
    return this.lru.peek(keyString(k))?.entry;
  }

  put(k: CtKey, e: CtEntry): void {
    this.lru.set(keyString(k), { key: { ...k, saddr: Buffer.from(k.saddr), daddr: Buffer.from(k.daddr) }, entry: e });
  }

  delete(k: CtKey): boolean {
    return this.lru.delete(keyString(k));
  }

  records(): CtRecord[] {
    return [...this.lru.entries()].map(([, r]) => r);
  }

  get size(): number {
    return this.lru.size;
  }
}

/** An entry is alive while now - last_seen <= its state's timeout (signed difference). */
export function ctAlive(timeoutsS: readonly number[], e: CtEntry, now: bigint, noExpiry = false): boolean {
  if (noExpiry) return true;
  const timeout = BigInt(timeoutsS[e.state & 15] ?? 0) * NSEC_PER_SEC;
  return now - e.lastSeenNs <= timeout;
}

export function fastEligible(e: CtEntry): boolean {
  return e.state === ST.ESTABLISHED || e.state === ST.UDP_ESTABLISHED;
}

export function xlateSwap(x: number): number {
  let out = 0;
  if (x & XLATE.saddr) out |= XLATE.daddr;
  if (x & XLATE.daddr) out |= XLATE.saddr;
  if (x & XLATE.sport) out |= XLATE.dport;
  if (x & XLATE.dport) out |= XLATE.sport;
  return out;
}

/** The other direction's entry for e (keyed by k): maps swap(e's nat tuple) back to swap(k). */
export function buildPeer(e: CtEntry, k: CtKey, now: bigint): CtEntry {
  return {
    createdNs: e.createdNs,
    lastSeenNs: now,
    packets: 0,
    bytes: 0,
    peerTouchNs: 0n,
    natSaddr: Buffer.from(k.daddr),
    natDaddr: Buffer.from(k.saddr),
    natSport: k.dport,
    natDport: k.sport,
    svcId: e.svcId,
    nextSeq: 0,
    epSlot: e.epSlot,
    tcpWin: 0,
    state: e.state,
    flags: (e.flags ^ CT_F.reply) & ~CT_F.seqKnown,
    xlate: xlateSwap(e.xlate),
  };
}

/** Counts the packet; TCP: the sender's next sequence number (only forward) and window. */
export function ctAccount(e: CtEntry, p: ParsedPacket, now: bigint): void {
  e.lastSeenNs = now;
  e.packets++;
  e.bytes += p.len;
  if (p.key.proto !== IPPROTO.tcp) return;
  const end = (p.seq + p.payload + (p.tcpFlags & TCPF.syn ? 1 : 0) + (p.tcpFlags & TCPF.fin ? 1 : 0)) >>> 0;
  if ((e.flags & CT_F.seqKnown) === 0 || ((end - e.nextSeq) | 0) > 0) {
    e.nextSeq = end;
    e.flags |= CT_F.seqKnown;
  }
  e.tcpWin = p.win;
}

/**
 * RST sanity (docs/datapath.md): within rst_seq_window of the sender's next sequence number;
 * with the sender's sequence unknown, an ACK equal to the other side's next sequence number.
 * Datapath v2 (3) widens the second rule to a bare RST whose seq equals that number.
 */
export function rstPlausible(window: number, e: CtEntry, peer: CtEntry | undefined, p: ParsedPacket): boolean {
  if (e.flags & CT_F.seqKnown) {
    let d = (p.seq - e.nextSeq) | 0;
    if (d < 0) d = -d | 0;
    return d >>> 0 <= window >>> 0;
  }
  if (peer !== undefined && p.tcpFlags & TCPF.ack && peer.flags & CT_F.seqKnown) return p.ack === peer.nextSeq;
  return false;
}

export interface TcpStep {
  /** The next state, or 'rst_invalid'. */
  state: number | 'rst_invalid';
  /** The FIN flags the entries hold afterwards. */
  fins: number;
}

/** The TCP state after packet p seen by entry e (before accounting). */
export function tcpNext(rstWindow: number, e: CtEntry, peer: CtEntry | undefined, p: ParsedPacket): TcpStep {
  const f = p.tcpFlags;
  const st = e.state;
  const fromClient = (e.flags & CT_F.reply) === 0;
  let fins = e.flags & (CT_F.finClient | CT_F.finBackend);
  if (f & TCPF.rst) return { state: rstPlausible(rstWindow, e, peer, p) ? ST.CLOSED : 'rst_invalid', fins };
  if (f & TCPF.syn && !(f & TCPF.ack)) {
    if (fromClient && (st === ST.CLOSED || st === ST.TIME_WAIT)) return { state: ST.SYN_SENT, fins: 0 };
    return { state: st, fins };
  }
  if (f & TCPF.syn) return { state: !fromClient && st === ST.SYN_SENT ? ST.SYN_RECV : st, fins };
  if (f & TCPF.fin) {
    if (st !== ST.SYN_RECV && st !== ST.ESTABLISHED && st !== ST.FIN_WAIT) return { state: st, fins };
    fins |= fromClient ? CT_F.finClient : CT_F.finBackend;
    return { state: fins === (CT_F.finClient | CT_F.finBackend) ? ST.CLOSE_WAIT : ST.FIN_WAIT, fins };
  }
  if (f & TCPF.ack) {
    if (st === ST.SYN_RECV && fromClient) return { state: ST.ESTABLISHED, fins };
    if (st === ST.CLOSE_WAIT) return { state: ST.TIME_WAIT, fins };
  }
  return { state: st, fins };
}

export function udpNext(e: CtEntry): number {
  const reply = (e.flags & CT_F.reply) !== 0;
  if (reply && e.state === ST.UDP_NEW) return ST.UDP_SEEN;
  if (!reply && e.state === ST.UDP_SEEN) return ST.UDP_ESTABLISHED;
  return e.state;
}

export function icmpNext(e: CtEntry): number {
  return e.flags & CT_F.reply ? ST.ICMP_REPLY : ST.ICMP_REQUEST;
}
