// The trace event of a packet (docs/datapath.md "Trace"): the tuple as parsed when the pipeline
// stopped (zero fields beyond that), service id, ifindex, reason, endpoint slot (-1: none),
// verdict, conntrack state before and after, frame length, and the time of the run (the packet
// interface reports the run's time where the kernel's event holds 0, "clock not read").
import type { DpProto, DpTraceEvent, DpTuple, Verdict } from '../datapath/packet-datapath.ts';
import { formatIpv4, formatIpv6 } from '../packet/addr.ts';
import type { ReasonName } from '../schema/maps.ts';
import type { Ctx } from './pipeline.ts';
import { IPPROTO, NO_SLOT, stateName } from './types.ts';
import type { CtKey } from './types.ts';

/** As the prog backend spells it: the contract's DpProto has no name for untracked protocols, they read 'tcp'. */
function protoName(n: number): DpProto {
  return n === IPPROTO.udp ? 'udp' : n === IPPROTO.icmp || n === IPPROTO.icmp6 ? 'icmp' : 'tcp';
}

/** A model key as the packet interface's tuple (family 0, i.e. non-IP, is shown as IPv4 zeros, protocol 'tcp'). */
export function tupleOf(k: CtKey): DpTuple {
  const family = k.family === 6 ? 6 : 4;
  return {
    family,
    proto: protoName(k.proto),
    src: family === 4 ? formatIpv4(k.saddr.subarray(0, 4)) : formatIpv6(k.saddr),
    dst: family === 4 ? formatIpv4(k.daddr.subarray(0, 4)) : formatIpv6(k.daddr),
    sport: k.sport,
    dport: k.dport,
  };
}

export function traceEvent(c: Ctx, verdict: Verdict, reason: ReasonName, runNs: bigint): DpTraceEvent {
  return {
    timeNs: c.now === 0n ? runNs : c.now,
    tuple: tupleOf(c.p.key),
    serviceId: c.v.svcId,
    ifindex: c.ifindex,
    reason,
    endpointSlot: c.v.epSlot === NO_SLOT ? -1 : c.v.epSlot,
    verdict,
    ctBefore: stateName(c.v.ctOld),
    ctAfter: stateName(c.v.ctNew),
    length: c.p.len,
  };
}
