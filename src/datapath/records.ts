// The kernel's records in the packet interface's shapes, in one place: conntrack keys and
// entries (DpTuple, DpCtEntry), trace events (DpTraceEvent) and hook return codes (Verdict).
// Used by the prog backend (src/datapath/prog-datapath.ts, over its own maps) and the lab
// backend (lab/lb-maps.ts, over an agent's pinned maps), so both read the datapath the same way.
import { CT_F, CT_STATE, REASON, XLATE, ctKey } from '../schema/maps.ts';
import type { CtEntry, CtKey, CtStateName, ReasonName, TraceEvent } from '../schema/maps.ts';
import { formatIp } from '../controller/ip.ts';
import { addr16, protoName, protoNumber as keyProtoNumber } from './maps.ts';
import type { DpCtEntry, DpProto, DpTraceEvent, DpTuple, Hook, Verdict } from './packet-datapath.ts';

/** The endpoint slot a record carries when it has none (0xffff in C). */
export const NO_SLOT = 0xffff;

/** A routing table id no namespace has: FIB lookups in it return "not forwarded" (sim/prog, tests). */
export const EMPTY_FIB_TABLE = 0x7ffe;

/** A hook's return code, hook-neutral; a code the datapath never returns is `other N`. */
export function verdictOf(hook: Hook, retval: number): Verdict | `other ${number}` {
  if (hook === 'tc') return retval === 0 ? 'pass' : retval === 2 ? 'drop' : retval === 7 ? 'redirect' : `other ${retval}`;
  return retval === 2 ? 'pass' : retval === 1 ? 'drop' : retval === 3 ? 'tx' : retval === 4 ? 'redirect' : `other ${retval}`;
}

/** verdictOf, refusing a code the datapath never returns. */
export function verdictName(hook: Hook, code: number): Verdict {
  const v = verdictOf(hook, code);
  if (v.startsWith('other'))
    throw new Error(`${hook}: return code ${code} is no verdict the datapath returns (TC: OK/SHOT/REDIRECT; XDP: PASS/DROP/TX/REDIRECT)`);
  return v as Verdict;
}

/**
 * The DpProto of an IP protocol number. ICMP and ICMPv6 are both 'icmp' (the family tells them
 * apart). What the datapath does not track (non-IP frames, whose key is all zero; other IP
 * protocols) reads as 'tcp': DpProto has no spelling for those, and the reason (pass_not_ip, …)
 * says what they were.
 */
export function dpProto(proto: number): DpProto {
  return protoName(proto) ?? 'tcp';
}

export function protoNumber(t: Pick<DpTuple, 'proto' | 'family'>): number {
  return keyProtoNumber(t.proto, t.family);
}

export function dpTuple(k: CtKey): DpTuple {
  const family = k.family === 6 ? 6 : 4;
  return {
    family,
    proto: dpProto(k.proto),
    src: formatIp(k.saddr, family),
    dst: formatIp(k.daddr, family),
    sport: k.sport,
    dport: k.dport,
  };
}

/** The xlb_ct key bytes of a tuple. */
export function ctKeyBytes(t: DpTuple): Buffer {
  const s = addr16(t.src);
  const d = addr16(t.dst);
  if (s.family !== t.family || d.family !== t.family) throw new Error(`conntrack key: ${t.src} → ${t.dst} is not IPv${t.family}`);
  return ctKey.encode({ saddr: s.addr, daddr: d.addr, sport: t.sport, dport: t.dport, proto: protoNumber(t), family: t.family });
}

export function ctStateName(code: number, where: string): CtStateName {
  const s = CT_STATE[code];
  if (s === undefined)
    throw new Error(
      `${where} has conntrack state ${code}, which enum xlb_ct_state (CT_STATE in src/schema/maps.ts) does not name: rebuild the objects or update the schema`,
    );
  return s;
}

export function ctFlagNames(flags: number): string[] {
  return (Object.keys(CT_F) as (keyof typeof CT_F)[]).filter((n) => (flags & CT_F[n]) !== 0);
}

/** Maps a kernel timestamp to the one the caller reports (prog: its virtual clock; lab: as is). */
export type TimeMap = (ns: bigint) => bigint;
const asIs: TimeMap = (ns) => ns;

export function toDpCtEntry(k: CtKey, e: CtEntry, time: TimeMap = asIs): DpCtEntry {
  const key = dpTuple(k);
  return {
    key,
    reply: (e.flags & CT_F.reply) !== 0,
    state: ctStateName(e.state, `conntrack entry ${key.proto} ${key.src}:${key.sport} → ${key.dst}:${key.dport}`),
    serviceId: e.svc_id,
    endpointSlot: e.ep_slot === NO_SLOT ? -1 : e.ep_slot,
    nat: { src: formatIp(e.nat_saddr, key.family), dst: formatIp(e.nat_daddr, key.family), sport: e.nat_sport, dport: e.nat_dport },
    xlate: {
      saddr: (e.xlate & XLATE.saddr) !== 0,
      daddr: (e.xlate & XLATE.daddr) !== 0,
      sport: (e.xlate & XLATE.sport) !== 0,
      dport: (e.xlate & XLATE.dport) !== 0,
    },
    flags: ctFlagNames(e.flags),
    packets: Number(e.packets),
    bytes: Number(e.bytes),
    createdNs: time(e.created_ns),
    lastSeenNs: time(e.last_seen_ns),
  };
}

export function reasonName(code: number, where: string): ReasonName {
  const r = REASON[code];
  if (r === undefined)
    throw new Error(
      `${where} has reason ${code}, which enum xlb_reason (REASON in src/schema/maps.ts) does not name: rebuild the objects or update the schema`,
    );
  return r;
}

/**
 * One xlb_trace record. `time` maps its timestamp (a record whose clock was never read has 0:
 * `unreadTime` stands in); `ifindex` overrides the recorded device (prog reports the interface
 * the packet was given for, not the test run's stand-in).
 */
export function toDpTraceEvent(ev: TraceEvent, o: { time?: TimeMap; unreadTime?: bigint; ifindex?: number } = {}): DpTraceEvent {
  const hook: Hook = ev.hook === 1 ? 'xdp' : 'tc';
  const time = o.time ?? asIs;
  return {
    timeNs: ev.ts_ns === 0n && o.unreadTime !== undefined ? o.unreadTime : time(ev.ts_ns),
    tuple: dpTuple(ev.key),
    serviceId: ev.svc_id,
    ifindex: o.ifindex ?? ev.ifindex,
    reason: reasonName(ev.reason, 'a trace event'),
    endpointSlot: ev.ep_slot === NO_SLOT ? -1 : ev.ep_slot,
    verdict: verdictName(hook, ev.verdict),
    ctBefore: ctStateName(ev.ct_old, 'a trace event (before)'),
    ctAfter: ctStateName(ev.ct_new, 'a trace event (after)'),
    length: ev.pkt_len,
  };
}
