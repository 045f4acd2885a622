// The whole pipeline of docs/datapath.md on one frame: parse, the TTL check, the fast path
// (established flows), and the slow path (ICMP errors, tracked flows changing state, new flows
// in new-flow.ts). Every packet ends in finish(): exactly one reason counted, one trace event.
// The FIB is empty in this model (sim/prog): a translated packet goes to the stack untouched
// beyond its NAT ('pass', fwd 'pass_fib'); the model never redirects.
import { ALGO, CT_F, XLATE } from '../schema/maps.ts';
import type { FwdResultName, ReasonName } from '../schema/maps.ts';
import type { FrameResult, Hook, Verdict } from '../datapath/packet-datapath.ts';
import { buildPeer, ctAccount, ctAlive, fastEligible, icmpNext, isPeerOf, tcpNext, udpNext } from './conntrack.ts';
import type { Counters } from './counters.ts';
import { natIcmpError, natRewrite } from './nat.ts';
import { newFlow } from './new-flow.ts';
import { FRAG_FIRST, FRAG_LATER, TCPF, parseFrame } from './parse.ts';
import type { ParsedPacket } from './parse.ts';
import { policerAdmit } from './policer.ts';
import { lcAdd, serviceLookup, usable } from './select.ts';
import type { Tables } from './tables.ts';
import { traceEvent } from './trace.ts';
import { IPPROTO, NO_SLOT, PEER_TOUCH_NS, ST, peerKey } from './types.ts';
import type { CtEntry, CtKey } from './types.ts';

/** What the trace reports of a packet (struct xlb_verdict). */
export interface VerdictInfo {
  svcId: number;
  epSlot: number;
  ctOld: number;
  ctNew: number;
}

/** One packet in flight: the frame being rewritten and what is known of it. */
export interface Ctx {
  d: Buffer;
  input: Buffer;
  p: ParsedPacket;
  v: VerdictInfo;
  ifindex: number;
  /** The datapath clock as read by the path that handles the packet (0 until read, as in the kernel's fast path). */
  now: bigint;
  fwd?: FwdResultName;
}

export interface PipelineEnv {
  hook: Hook;
  tables: Tables;
  counters: Counters;
  clock: () => bigint;
  rand: () => number;
}

export function finish(env: PipelineEnv, c: Ctx, verdict: Verdict, reason: ReasonName): FrameResult {
  env.counters.reason(reason, c.p.len);
  const frame = verdict === 'drop' ? c.input : c.d;
  return {
    verdict,
    frame,
    reason,
    ...(c.fwd !== undefined ? { fwd: c.fwd } : {}),
    trace: traceEvent(c, verdict, reason, env.clock()),
  };
}

/** Rewrite with e and hand the packet on (empty FIB: to the stack, counted pass_fib). */
export function translateAndForward(env: PipelineEnv, c: Ctx, e: CtEntry): Verdict {
  const faults = env.tables.config.faults;
  if (!(faults.has('reply-untranslated') && e.flags & CT_F.reply)) natRewrite(env.hook, c.d, c.p, e, faults);
  c.fwd = 'pass_fib';
  env.counters.forward('pass_fib', c.p.len);
  return 'pass';
}

/**
 * The fast path. Once a second (now - peer_touch > 1 s, not DSR) the peer key is looked up: E's
 * peer refreshes (last_seen) and the packet goes on; a missing or foreign peer hands the packet
 * to the slow path (docs/datapath.md "One lost side of a flow", rule 1), which rebuilds the peer
 * or ends a stale half. Returns undefined for that hand-over.
 */
function fastPath(env: PipelineEnv, c: Ctx, e: CtEntry): FrameResult | undefined {
  const t = env.tables;
  const p = c.p;
  let peer: CtEntry | undefined;
  const check = c.now - e.peerTouchNs > PEER_TOUCH_NS && (e.flags & CT_F.dsr) === 0;
  if (check) {
    peer = t.ct.lookup(peerKey(e, p.key));
    if (peer === undefined || !isPeerOf(peer, e, p.key)) return undefined;
  }
  c.v = { svcId: e.svcId, epSlot: e.epSlot, ctOld: e.state, ctNew: e.state };
  if ((e.flags & CT_F.reply) === 0 && !policerAdmit(t, e.svcId, c.now)) {
    env.counters.service(e.svcId, NO_SLOT, p.len, false, true);
    return finish(env, c, 'drop', 'drop_policed');
  }
  ctAccount(e, p, c.now);
  if (peer !== undefined) {
    peer.lastSeenNs = c.now;
    e.peerTouchNs = c.now;
  }
  env.counters.service(e.svcId, e.epSlot, p.len, false, false);
  return finish(env, c, translateAndForward(env, c, e), 'fast_path');
}

/** Records older than this are ignored (the identification is reused). */
const FRAG_TIMEOUT_NS = 30n * 1_000_000_000n;

/**
 * An IPv4 / IPv6 fragment of TCP / UDP (docs/datapath.md "Fragments"): the first of a live flow records
 * its datagram's ports and is translated like a packet of the flow; a later one takes the
 * recorded ports, and when their flow lives gets the address translation only. No flow: passed
 * untouched. Never creates, accounts or advances a flow.
 */
function slowFragment(env: PipelineEnv, c: Ctx): FrameResult {
  const t = env.tables;
  const p = c.p;
  const fk = `${p.key.family}/${p.key.saddr.toString('hex')}/${p.key.daddr.toString('hex')}/${p.fragId}/${p.key.proto}`;
  if (p.frag === FRAG_LATER) {
    const rec = t.frags.get(fk);
    if (rec === undefined || c.now - rec.ns > FRAG_TIMEOUT_NS) return finish(env, c, 'pass', 'pass_fragment_no_record');
    p.key.sport = rec.sport;
    p.key.dport = rec.dport;
  }
  const e = t.ct.lookup(p.key);
  if (e === undefined || !ctAlive(t.config.timeoutsS, e, c.now, t.config.faults.has('no-conntrack-expiry')))
    return finish(env, c, 'pass', 'pass_fragment');
  if (p.frag === FRAG_FIRST) t.frags.set(fk, { ns: c.now, sport: p.key.sport, dport: p.key.dport });
  c.v = { svcId: e.svcId, epSlot: e.epSlot, ctOld: e.state, ctNew: e.state };
  const use = p.frag === FRAG_LATER ? { ...e, xlate: e.xlate & (XLATE.saddr | XLATE.daddr) } : e;
  return finish(env, c, translateAndForward(env, c, use), 'tracked');
}

function slowIcmpError(env: PipelineEnv, c: Ctx): FrameResult {
  const t = env.tables;
  const p = c.p;
  const k: CtKey = {
    saddr: p.inner.daddr,
    daddr: p.inner.saddr,
    sport: p.inner.dport,
    dport: p.inner.sport,
    proto: p.inner.proto,
    family: p.inner.family,
  };
  const e = t.ct.lookup(k);
  if (
    e === undefined ||
    !ctAlive(t.config.timeoutsS, e, c.now, t.config.faults.has('no-conntrack-expiry')) ||
    k.family !== p.key.family ||
    t.config.faults.has('icmp-errors-untranslated')
  ) {
    return finish(env, c, 'pass', 'pass_icmp_untracked');
  }
  c.v = { svcId: e.svcId, epSlot: e.epSlot, ctOld: e.state, ctNew: e.state };
  if (e.xlate === 0) return finish(env, c, 'pass', 'icmp_error');
  natIcmpError(env.hook, c.d, p, e, k);
  c.fwd = 'pass_fib';
  env.counters.forward('pass_fib', p.len);
  return finish(env, c, 'pass', 'icmp_error');
}

/**
 * A live tracked flow in the slow path: the peer check (rebuild a lost or expired-foreign peer,
 * end a stale half whose peer key another live flow holds), then the state in both entries, then
 * translate. `adopted`: the forward entry was just rebuilt by a new flow from its live reply
 * entry (new-flow.ts), whose policer has already been asked.
 */
export function slowTracked(env: PipelineEnv, c: Ctx, e: CtEntry, adopted = false): FrameResult {
  const t = env.tables;
  const p = c.p;
  let fins = e.flags & (CT_F.finClient | CT_F.finBackend);
  let st = e.state;
  c.v = { svcId: e.svcId, epSlot: e.epSlot, ctOld: e.state, ctNew: e.state };
  let peer: CtEntry | undefined;
  if ((e.flags & CT_F.dsr) === 0) {
    const pk = peerKey(e, p.key);
    peer = t.ct.lookup(pk);
    if (peer !== undefined && !isPeerOf(peer, e, p.key)) {
      if (ctAlive(t.config.timeoutsS, peer, c.now, t.config.faults.has('no-conntrack-expiry'))) {
        // another flow took the tuple: this half is stale; its next client packet is a new flow
        // (no service or endpoint counter moves: the packet belongs to no flow any more)
        t.ct.delete(p.key);
        if (e.flags & CT_F.lcCounted) lcAdd(t, e.svcId, e.epSlot, -1);
        c.v.ctNew = ST.NONE;
        return finish(env, c, 'drop', 'drop_ct_failed');
      }
      peer = undefined;
    }
    if (peer === undefined) {
      // one entry of the flow is gone (LRU, deleteConntrack) or expired and reused: rebuild it
      peer = buildPeer(e, p.key, c.now);
      t.ct.put(pk, peer);
    }
    e.peerTouchNs = c.now;
  }
  let restart = false;
  if (p.key.proto === IPPROTO.tcp) {
    const step = tcpNext(t.config.rstSeqWindow, e, peer, p);
    if (step.state === 'rst_invalid' && t.config.faults.has('rst-always-accepted')) step.state = ST.CLOSED;
    if (step.state === 'rst_invalid') return finish(env, c, 'drop', 'drop_rst_invalid');
    st = step.state;
    fins = step.fins;
    restart = st === ST.SYN_SENT && e.state !== ST.SYN_SENT;
  } else if (p.key.proto === IPPROTO.udp) st = udpNext(e);
  else st = icmpNext(e);
  if (!adopted && (e.flags & CT_F.reply) === 0 && !policerAdmit(t, e.svcId, c.now)) {
    env.counters.service(e.svcId, NO_SLOT, p.len, false, true);
    return finish(env, c, 'drop', 'drop_policed');
  }
  if (restart) {
    // a restarted flow: sequence and acknowledgement numbers start over
    const known = CT_F.seqKnown | CT_F.ackKnown;
    e.flags &= ~known;
    if (peer !== undefined) peer.flags &= ~known;
    // a new connection on the same (usable) endpoint of an lc service: counted like a new flow
    if ((e.flags & CT_F.lcCounted) === 0 && serviceLookup(t, p.key)?.algo === ALGO.lc) {
      lcAdd(t, e.svcId, e.epSlot, 1);
      e.flags |= CT_F.lcCounted;
      if (peer !== undefined) peer.flags |= CT_F.lcCounted;
    }
  }
  if ((st === ST.TIME_WAIT || st === ST.CLOSED) && e.flags & CT_F.lcCounted) {
    lcAdd(t, e.svcId, e.epSlot, -1);
    e.flags &= ~CT_F.lcCounted;
    if (peer !== undefined) peer.flags &= ~CT_F.lcCounted;
  }
  // the backend answered: a flow created mid-stream becomes an ordinary one (ctAlive, fastEligible)
  const clear = CT_F.finClient | CT_F.finBackend | (e.flags & CT_F.reply ? CT_F.midstream : 0);
  e.state = st;
  e.flags = (e.flags & ~clear) | fins;
  ctAccount(e, p, c.now);
  if (peer !== undefined) {
    peer.state = st;
    peer.flags = (peer.flags & ~clear) | fins;
    peer.lastSeenNs = c.now;
  }
  c.v.ctNew = st;
  env.counters.service(e.svcId, e.epSlot, p.len, false, false);
  return finish(env, c, translateAndForward(env, c, e), 'tracked');
}

/**
 * Re-selection (docs/datapath.md "Re-selection"): a client's pure SYN on a live forward entry in
 * SYN_SENT, TIME_WAIT or CLOSED whose recorded endpoint is no longer usable ends the flow (lc
 * count released, its reply entry deleted when it is the peer, the forward entry deleted) and
 * returns true: the SYN is then a new flow.
 */
function endUnusableFlow(t: Tables, p: ParsedPacket, e: CtEntry): boolean {
  if (e.flags & CT_F.reply || p.key.proto !== IPPROTO.tcp) return false;
  if ((p.tcpFlags & (TCPF.syn | TCPF.ack | TCPF.rst | TCPF.fin)) !== TCPF.syn) return false;
  if (e.state !== ST.SYN_SENT && e.state !== ST.TIME_WAIT && e.state !== ST.CLOSED) return false;
  const svc = serviceLookup(t, p.key);
  if (svc !== undefined && svc.id === e.svcId && e.epSlot < svc.epCount) {
    const ep = t.endpoint(svc.id, svc.gen, e.epSlot);
    if (usable(ep, p.key.family) && ep.addr.equals(e.natDaddr)) return false;
  }
  if (e.flags & CT_F.lcCounted) lcAdd(t, e.svcId, e.epSlot, -1);
  if ((e.flags & CT_F.dsr) === 0) {
    const pk = peerKey(e, p.key);
    const peer = t.ct.lookup(pk);
    if (peer !== undefined && isPeerOf(peer, e, p.key)) t.ct.delete(pk);
  }
  t.ct.delete(p.key);
  return true;
}

export function processFrame(env: PipelineEnv, frame: Uint8Array, ifindex: number): FrameResult {
  const input = Buffer.from(frame);
  const d = Buffer.from(frame);
  const { rc, p } = parseFrame(d);
  const c: Ctx = { d, input, p, v: { svcId: 0, epSlot: NO_SLOT, ctOld: 0, ctNew: 0 }, ifindex, now: 0n };
  switch (rc) {
    case 'ok':
      break;
    case 'not_ip':
      return finish(env, c, 'pass', 'pass_not_ip');
    case 'fragment':
      if (p.frag !== 0 && p.ttl > 1) {
        c.now = env.clock();
        return slowFragment(env, c);
      }
      return finish(env, c, 'pass', 'pass_fragment');
    case 'other':
      return finish(env, c, 'pass', 'pass_no_service');
    case 'malformed':
      return finish(env, c, 'drop', 'drop_malformed');
  }
  if (p.ttl <= 1) return finish(env, c, 'pass', 'pass_ttl');
  const t = env.tables;
  let ctMiss = false;
  if (!p.icmpErr) {
    const e = t.ct.lookup(p.key);
    if (e === undefined) ctMiss = true;
    else if (fastEligible(e) && (p.tcpFlags & (TCPF.syn | TCPF.fin | TCPF.rst)) === 0) {
      c.now = env.clock();
      if (ctAlive(t.config.timeoutsS, e, c.now, t.config.faults.has('no-conntrack-expiry'))) {
        const r = fastPath(env, c, e);
        if (r !== undefined) return r;
      }
    }
  }
  // the slow path (the kernel's tail call) reads the clock itself
  c.now = env.clock();
  if (p.icmpErr) return slowIcmpError(env, c);
  if (!ctMiss) {
    const e = t.ct.lookup(p.key);
    if (e !== undefined && ctAlive(t.config.timeoutsS, e, c.now, t.config.faults.has('no-conntrack-expiry')) && !endUnusableFlow(t, p, e))
      return slowTracked(env, c, e);
  }
  return newFlow(env, c);
}
