// Stage 4 of docs/datapath.md ("NAT and checksums"): rewrite what an entry's xlate names, with
// the checksum differences applied in the spec's order; and the translation of ICMP errors
// about a tracked flow (outer addresses, embedded packet, embedded checksums, ICMP checksum).
// No TTL decrement here: in sim and prog nothing is forwarded by the LB itself (empty FIB).
import { XLATE } from '../schema/maps.ts';
import type { Hook } from '../datapath/packet-datapath.ts';
import { applyInner, applyL3, applyL4, csumAdd, writeBytesDiff, writePortDiff } from './checksum.ts';
import { FRAG_LATER, icmpEcho } from './parse.ts';
import type { ParsedPacket } from './parse.ts';
import { IPPROTO } from './types.ts';
import type { CtEntry, CtKey } from './types.ts';
import type { ModelFault } from './faults.ts';

function saddrOff(family: number, l3: number): number {
  return l3 + (family === 4 ? 12 : 8);
}
function daddrOff(family: number, l3: number): number {
  return l3 + (family === 4 ? 16 : 24);
}
function addrLen(family: number): number {
  return family === 4 ? 4 : 16;
}

/** Offset of the L4 checksum field (TCP 16, UDP 6, ICMP/ICMPv6 2), undefined for other protocols. */
function l4CsumOff(proto: number, l4: number): number | undefined {
  if (proto === IPPROTO.tcp) return l4 + 16;
  if (proto === IPPROTO.udp) return l4 + 6;
  if (proto === IPPROTO.icmp || proto === IPPROTO.icmp6) return l4 + 2;
  return undefined;
}

/** Applies e's translation to the frame in place. */
export function natRewrite(hook: Hook, d: Buffer, p: ParsedPacket, e: CtEntry, faults: ReadonlySet<ModelFault> = new Set()): void {
  const xl = e.xlate;
  const fam = p.key.family;
  const proto = p.key.proto;
  const udp = proto === IPPROTO.udp && !faults.has('udp-zero-checksum-filled');
  if (xl === 0) return;
  let adiff = 0;
  let pdiff = 0;
  if (xl & XLATE.saddr) adiff = writeBytesDiff(d, saddrOff(fam, p.l3Off), e.natSaddr, addrLen(fam), adiff);
  if (xl & XLATE.daddr) adiff = writeBytesDiff(d, daddrOff(fam, p.l3Off), e.natDaddr, addrLen(fam), adiff);
  if (proto === IPPROTO.tcp || udp) {
    if (xl & XLATE.sport) pdiff = writePortDiff(d, p.l4Off, e.natSport, pdiff);
    if (xl & XLATE.dport) pdiff = writePortDiff(d, p.l4Off + 2, e.natDport, pdiff);
  } else if (xl & (XLATE.sport | XLATE.dport)) {
    // the echo identifier plays the port
    pdiff = writePortDiff(d, p.l4Off + 4, xl & XLATE.sport ? e.natSport : e.natDport, pdiff);
  }
  if (fam === 4 && xl & (XLATE.saddr | XLATE.daddr)) applyL3(hook, d, p.l3Off + 10, adiff);
  // a later fragment has no L4 header (its checksum is in the first fragment)
  if (p.frag === FRAG_LATER) return;
  const csum = l4CsumOff(proto, p.l4Off);
  if (csum === undefined) return;
  // addresses are in the pseudo-header of TCP, UDP and ICMPv6, not of ICMP; two separate updates
  if (adiff !== 0 && proto !== IPPROTO.icmp) applyL4(hook, d, csum, adiff, udp);
  if (pdiff !== 0 && !faults.has('l4-checksum-stale')) applyL4(hook, d, csum, pdiff, udp);
}

/**
 * Translates an ICMP error about a tracked flow. The embedded packet went A -> B; e is the entry
 * keyed B -> A (ek). Returns the error's new source address.
 */
export function natIcmpError(hook: Hook, d: Buffer, p: ParsedPacket, e: CtEntry, ek: CtKey): Buffer {
  const fam = p.key.family;
  const xl = e.xlate;
  const iproto = p.inner.proto;
  const l3 = p.l3Off;
  const il3 = p.innerL3Off;
  const il4 = p.innerL4Off;
  const n = addrLen(fam);
  let newSaddr = Buffer.from(p.key.saddr);
  const reporterIsPeer = p.key.saddr.equals(ek.saddr);
  let odiff = 0;
  let iadiff = 0;
  let ipdiff = 0;
  let xdiff = 0;
  if (xl & XLATE.daddr) odiff = writeBytesDiff(d, daddrOff(fam, l3), e.natDaddr, n, odiff);
  if (xl & XLATE.saddr && reporterIsPeer) {
    odiff = writeBytesDiff(d, saddrOff(fam, l3), e.natSaddr, n, odiff);
    newSaddr = Buffer.from(e.natSaddr);
  }
  if (xl & XLATE.daddr) iadiff = writeBytesDiff(d, saddrOff(fam, il3), e.natDaddr, n, iadiff);
  if (xl & XLATE.saddr) iadiff = writeBytesDiff(d, daddrOff(fam, il3), e.natSaddr, n, iadiff);
  if (iproto === IPPROTO.tcp || iproto === IPPROTO.udp) {
    if (xl & XLATE.dport) ipdiff = writePortDiff(d, il4, e.natDport, ipdiff);
    if (xl & XLATE.sport) ipdiff = writePortDiff(d, il4 + 2, e.natSport, ipdiff);
  } else if (xl & (XLATE.sport | XLATE.dport)) {
    // embedded echo: the identifier is the source port of a request, the destination port of a reply
    const { request } = icmpEcho(p.inner.family, d[il4] ?? 0);
    if (request && xl & XLATE.dport) ipdiff = writePortDiff(d, il4 + 4, e.natDport, ipdiff);
    if (!request && xl & XLATE.sport) ipdiff = writePortDiff(d, il4 + 4, e.natSport, ipdiff);
  }
  if (fam === 4 && iadiff !== 0) xdiff = applyInner(d, il3 + 10, iadiff, false, xdiff);
  const icsum = l4CsumOff(iproto, il4);
  if (icsum !== undefined && (iadiff !== 0 || ipdiff !== 0)) {
    xdiff = applyInner(d, icsum, iproto === IPPROTO.icmp ? ipdiff : csumAdd(iadiff, ipdiff), iproto === IPPROTO.udp, xdiff);
  }
  if (fam === 4 && odiff !== 0) applyL3(hook, d, l3 + 10, odiff);
  applyL4(hook, d, p.l4Off + 2, csumAdd(csumAdd(iadiff, ipdiff), xdiff), false);
  if (fam === 6 && odiff !== 0) applyL4(hook, d, p.l4Off + 2, odiff, false);
  return newSaddr;
}
