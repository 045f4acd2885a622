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

/**
 * An entry is alive while now - last_seen <= its state's timeout (signed difference); a flow
 * created mid-stream whose backend has not answered yet (MIDSTREAM) gets at most SYN_SENT's.
 */
export function ctAlive(timeoutsS: readonly number[], e: CtEntry, now: bigint, noExpiry = false): boolean {
  if (noExpiry) return true;
  let secs = timeoutsS[e.state & 15] ?? 0;
  if (e.flags & CT_F.midstream) secs = Math.min(secs, timeoutsS[ST.SYN_SENT] ?? 0);
  return now - e.lastSeenNs <= BigInt(secs) * NSEC_PER_SEC;
}

/** ESTABLISHED / UDP_ESTABLISHED, except the reply entry of a mid-stream flow (the backend's first packet goes to the slow path). */
export function fastEligible(e: CtEntry): boolean {
  if ((e.flags & (CT_F.midstream | CT_F.reply)) === (CT_F.midstream | CT_F.reply)) return false;
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

/**
 * Whether p (found under e's peer key) is e's peer (docs/datapath.md "One lost side of a flow"):
 * the other direction (REPLY differs) and swap(p's nat tuple) = k, the key of e.
 */
export function isPeerOf(p: CtEntry, e: CtEntry, k: CtKey): boolean {
  return (
    ((p.flags ^ e.flags) & CT_F.reply) !== 0 &&
    p.natSaddr.equals(k.daddr) &&
    p.natDaddr.equals(k.saddr) &&
    p.natSport === k.dport &&
    p.natDport === k.sport
  );
}

/**
 * The other direction's entry for e (keyed by k): maps swap(e's nat tuple) back to swap(k). Used
 * for the reply entry of a new flow and for rebuilding a lost side (ct_build_peer): the sender's
 * sequence and acknowledgement are unknown in it (SEQ_KNOWN, ACK_KNOWN cleared).
 */
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
    lastAck: 0,
    state: e.state,
    flags: (e.flags ^ CT_F.reply) & ~(CT_F.seqKnown | CT_F.ackKnown),
    xlate: xlateSwap(e.xlate),
  };
}

/** Counts the packet; TCP: the sender's next sequence number, last acknowledgement and window. */
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
  if (p.tcpFlags & TCPF.ack) {
    e.lastAck = p.ack >>> 0;
    e.flags |= CT_F.ackKnown;
  }
  e.tcpWin = p.win;
}

function withinWindow(window: number, a: number, b: number): boolean {
  let d = (a - b) | 0;
  if (d < 0) d = -d | 0;
  return d >>> 0 <= window >>> 0;
}

/**
 * RST sanity (docs/datapath.md "RST sanity"): a sender whose sequence is known: within
 * rst_seq_window of its next sequence number. Unknown: a RST with ACK whose ack equals the
 * other side's next sequence number; a bare RST (no ACK) within rst_seq_window of the other
 * side's last acknowledgement (Linux answers a segment it has no connection for with
 * seq = that segment's ack).
 */
export function rstPlausible(window: number, e: CtEntry, peer: CtEntry | undefined, p: ParsedPacket): boolean {
  if (e.flags & CT_F.seqKnown) return withinWindow(window, p.seq, e.nextSeq);
  if (peer === undefined) return false;
  if (p.tcpFlags & TCPF.ack) return (peer.flags & CT_F.seqKnown) !== 0 && p.ack >>> 0 === peer.nextSeq;
  return (peer.flags & CT_F.ackKnown) !== 0 && withinWindow(window, p.seq, peer.lastAck);
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
  if (e.flags & CT_F.dsr) {
    // DSR: the LB sees the client's half only; the client's ACK after its SYN establishes the
    // flow, its FIN (from SYN_SENT or ESTABLISHED) ends it in TIME_WAIT
    if (f & TCPF.fin)
      return st === ST.SYN_SENT || st === ST.ESTABLISHED ? { state: ST.TIME_WAIT, fins: fins | CT_F.finClient } : { state: st, fins };
    if (f & TCPF.ack && st === ST.SYN_SENT) return { state: ST.ESTABLISHED, fins };
    return { state: st, fins };
  }
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
