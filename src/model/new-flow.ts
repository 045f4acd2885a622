// The slow path for a packet of no live flow (docs/datapath.md "New flows"): service lookup,
// mid-stream policy, policer, full-NAT source address, endpoint selection, the two entries (the
// reply entry first, with the full-NAT source port search), translation, counters.
import { ALGO, CT_F, MODE, XLATE } from '../schema/maps.ts';
import type { FrameResult } from '../datapath/packet-datapath.ts';
import { buildPeer, ctAccount, ctAlive, isPeerOf } from './conntrack.ts';
import { TCPF } from './parse.ts';
import type { Ctx, PipelineEnv } from './pipeline.ts';
import { finish, slowTracked, translateAndForward } from './pipeline.ts';
import { policerAdmit } from './policer.ts';
import { flowHash, lcAdd, selectEndpoint, serviceLookup } from './select.ts';
import type { SvcEntry, Tables } from './tables.ts';
import { IPPROTO, NO_SLOT, SNAT_STRIDE, SNAT_TRIES, ST, peerKey } from './types.ts';
import type { CtEntry, CtKey } from './types.ts';

function isZero(a: Buffer): boolean {
  return a.every((b) => b === 0);
}

/** Full NAT source address: the service's, else the configuration's of the family. */
function snatAddr(svc: SvcEntry, t: Tables, family: number): Buffer | undefined {
  if (!isZero(svc.snat)) return svc.snat;
  const a = family === 4 ? t.config.snatV4 : t.config.snatV6;
  return isZero(a) ? undefined : a;
}

type ReplyOutcome = { kind: 'inserted' } | { kind: 'refused' } | { kind: 'adopt'; reply: CtEntry; key: CtKey };

/**
 * The reply entry `rev` of forward entry `fwd` (keyed `key`) under `rkey`, or the live reply
 * entry to adopt (docs/datapath.md "One lost side of a flow", rule 2: a live entry there that is
 * the new forward entry's peer: the flow lost only its forward entry). Not full NAT: one reply
 * key; a live foreign entry refuses. Full NAT: up to 8 source ports lo + (hash + i * 7919) mod
 * span (`fwd.natSport` and `rkey.dport` get the port), in order: a live peer is adopted; a pure
 * SYN takes the first free one (no live entry) and stops there; any other packet looks at all 8
 * and takes the first free one when none of them is its peer.
 */
function placeReply(
  t: Tables,
  key: CtKey,
  fwd: CtEntry,
  rev: CtEntry,
  rkey: CtKey,
  fullnat: boolean,
  pureSyn: boolean,
  now: bigint,
): ReplyOutcome {
  const alive = (e: CtEntry | undefined): e is CtEntry =>
    e !== undefined && ctAlive(t.config.timeoutsS, e, now, t.config.faults.has('no-conntrack-expiry'));
  if (!fullnat) {
    const cur = t.ct.lookup(rkey);
    if (alive(cur)) return isPeerOf(cur, fwd, key) ? { kind: 'adopt', reply: cur, key: rkey } : { kind: 'refused' };
    t.ct.put(rkey, rev);
    return { kind: 'inserted' };
  }
  let lo = t.config.snatPortMin;
  let hi = t.config.snatPortMax;
  if (lo === 0 || hi < lo) {
    lo = 32768;
    hi = 60999;
  }
  const span = hi - lo + 1;
  const start = flowHash(key);
  let free: number | undefined;
  for (let i = 0; i < SNAT_TRIES; i++) {
    const port = (lo + (((start + i * SNAT_STRIDE) >>> 0) % span)) & 0xffff;
    const cand: CtKey = { ...rkey, dport: port };
    const cur = t.ct.lookup(cand);
    if (alive(cur)) {
      if (isPeerOf(cur, fwd, key)) return { kind: 'adopt', reply: cur, key: cand };
      continue;
    }
    free ??= port;
    if (pureSyn) break;
  }
  if (free === undefined) return { kind: 'refused' };
  rkey.dport = free;
  fwd.natSport = free;
  t.ct.put(rkey, rev);
  return { kind: 'inserted' };
}

/**
 * The flood guard (docs/datapath.md "Flood guard", bpf/include/flood.h): counts one packet that
 * reached flow creation in the current one-second window; true when the window is over the rate.
 */
function floodCount(t: Tables, now: bigint): boolean {
  const rate = t.config.newFlowRate;
  if (rate === 0) return false;
  const f = t.flood;
  if (BigInt.asUintN(64, now - f.windowNs) >= 1_000_000_000n) {
    f.windowNs = now;
    f.count = 0;
  }
  f.count++;
  return f.count > rate;
}

export function newFlow(env: PipelineEnv, c: Ctx): FrameResult {
  const t = env.tables;
  const p = c.p;
  const k = p.key;
  const drop = (svcId: number, slot: number, reason: Parameters<typeof finish>[3]): FrameResult => {
    env.counters.service(svcId, slot, p.len, false, true);
    return finish(env, c, 'drop', reason);
  };
  const svc = serviceLookup(t, k);
  if (svc === undefined) return finish(env, c, 'pass', 'pass_no_service');
  c.v.svcId = svc.id;
  let midstream = false;
  if (k.proto === IPPROTO.tcp && (p.tcpFlags & (TCPF.syn | TCPF.ack | TCPF.rst | TCPF.fin)) !== TCPF.syn) {
    if (p.tcpFlags & TCPF.rst || t.config.unknownTcp === 1) return drop(svc.id, NO_SLOT, 'drop_midstream');
    midstream = true;
  }
  // an echo reply with no flow is not ours
  if ((k.proto === IPPROTO.icmp || k.proto === IPPROTO.icmp6) && k.dport !== 0) return finish(env, c, 'pass', 'pass_no_service');
  // the flood guard: every packet that may create a flow counts, mid-stream ones are refused over the rate
  if (floodCount(t, c.now) && midstream) return drop(svc.id, NO_SLOT, 'drop_flood');
  if (!policerAdmit(t, svc.id, c.now)) return drop(svc.id, NO_SLOT, 'drop_policed');
  let snat: Buffer | undefined;
  if (svc.mode === MODE.fullnat) {
    snat = snatAddr(svc, t, k.family);
    if (snat === undefined) return drop(svc.id, NO_SLOT, 'drop_snat_exhausted');
  }
  const slot = selectEndpoint(t, svc, k, c.now, env.rand);
  const ep = slot === NO_SLOT ? undefined : t.endpoint(svc.id, svc.gen, slot);
  if (ep === undefined) return drop(svc.id, NO_SLOT, 'drop_no_endpoint');
  c.v.epSlot = slot;

  const f: CtEntry = {
    createdNs: c.now,
    lastSeenNs: c.now,
    packets: 0,
    bytes: 0,
    peerTouchNs: c.now,
    natSaddr: Buffer.from(k.saddr),
    natDaddr: Buffer.from(ep.addr),
    natSport: k.sport,
    natDport: k.dport,
    svcId: svc.id,
    nextSeq: 0,
    epSlot: slot,
    tcpWin: 0,
    lastAck: 0,
    state: k.proto === IPPROTO.tcp ? (midstream ? ST.ESTABLISHED : ST.SYN_SENT) : k.proto === IPPROTO.udp ? ST.UDP_NEW : ST.ICMP_REQUEST,
    flags: midstream ? CT_F.midstream : 0,
    xlate: 0,
  };
  if (svc.mode === MODE.dsr) f.flags |= CT_F.dsr;
  else {
    f.xlate = XLATE.daddr;
    if ((k.proto === IPPROTO.tcp || k.proto === IPPROTO.udp) && ep.port !== 0 && ep.port !== k.dport) {
      f.natDport = ep.port;
      f.xlate |= XLATE.dport;
    }
    if (snat !== undefined) {
      f.natSaddr = Buffer.from(snat);
      // a source port, or the echo identifier, chosen per flow
      f.xlate |= XLATE.saddr | XLATE.sport;
    }
  }
  if (svc.algo === ALGO.lc) f.flags |= CT_F.lcCounted;
  ctAccount(f, p, c.now);
  if ((f.flags & CT_F.dsr) === 0) {
    const rev = buildPeer(f, k, c.now);
    const rkey = peerKey(f, k);
    rkey.saddr = Buffer.from(rkey.saddr);
    rkey.daddr = Buffer.from(rkey.daddr);
    const pureSyn = k.proto === IPPROTO.tcp && !midstream;
    const r = placeReply(t, k, f, rev, rkey, (f.xlate & XLATE.sport) !== 0, pureSyn, c.now);
    if (r.kind === 'refused') return drop(svc.id, slot, svc.mode === MODE.fullnat ? 'drop_snat_exhausted' : 'drop_ct_failed');
    if (r.kind === 'adopt') {
      // the flow lost only its forward entry: rebuild it from the reply entry, no flow counted
      const fwd = buildPeer(r.reply, r.key, c.now);
      t.ct.put(k, fwd);
      return slowTracked(env, c, fwd, true);
    }
  }
  const verdict = translateAndForward(env, c, f);
  t.ct.put(k, f);
  if (svc.algo === ALGO.lc) lcAdd(t, svc.id, slot, 1);
  c.v.ctNew = f.state;
  env.counters.service(svc.id, slot, p.len, true, false);
  return finish(env, c, verdict, midstream ? 'midstream_new' : 'new_flow');
}
