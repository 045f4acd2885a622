// Link layer decoding: Ethernet, 802.1Q/802.1ad tags, Linux cooked (SLL, SLL2).

import { formatMac } from './addr.ts';
import { isVlanTpid } from './constants.ts';
import type { CookedHeader, DecodedFrame, DecodeError, EthernetHeader, VlanTag } from './decoded.ts';

export const read16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

/** At most this many VLAN tags are decoded (a loop bound for hostile input; real frames have 1-2). */
export const MAX_VLAN_TAGS = 8;

export interface LinkResult {
  /** Offset of the network layer. */
  offset: number;
  etherType: number;
  error?: DecodeError;
}

function truncated(layer: DecodeError['layer'], b: Uint8Array, need: number, from: number): DecodeError {
  return { layer, offset: b.length, reason: `truncated: ${b.length - from} of ${need} header bytes` };
}

/** VLAN tags starting at `off` while `type` is a TPID; fills f.vlans. */
function decodeVlans(b: Uint8Array, off: number, type: number, f: DecodedFrame): LinkResult {
  while (isVlanTpid(type)) {
    if (f.vlans.length >= MAX_VLAN_TAGS) {
      return { offset: off, etherType: type, error: { layer: 'vlan', offset: off - 2, reason: `more than ${MAX_VLAN_TAGS} VLAN tags` } };
    }
    if (b.length < off + 4) return { offset: off, etherType: type, error: truncated('vlan', b, 4, off) };
    const tci = read16(b, off);
    const next = read16(b, off + 2);
    const tag: VlanTag = { offset: off - 2, tpid: type, pcp: tci >> 13, dei: (tci & 0x1000) !== 0, id: tci & 0xfff, type: next };
    f.vlans.push(tag);
    type = next;
    off += 4;
  }
  return { offset: off, etherType: type };
}

export function decodeEthernet(b: Uint8Array, f: DecodedFrame): LinkResult {
  if (b.length < 14) return { offset: 0, etherType: 0, error: truncated('ethernet', b, 14, 0) };
  const eth: EthernetHeader = { offset: 0, dst: formatMac(b, 0), src: formatMac(b, 6), type: read16(b, 12) };
  f.eth = eth;
  return decodeVlans(b, 14, eth.type, f);
}

function hexAddress(b: Uint8Array, off: number, len: number): string {
  const parts: string[] = [];
  for (let i = 0; i < Math.min(len, 8); i++) parts.push((b[off + i] ?? 0).toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** LINKTYPE_LINUX_SLL (16-byte header) and LINKTYPE_LINUX_SLL2 (20 bytes), as `tcpdump -i any` writes. */
export function decodeCooked(b: Uint8Array, kind: 'sll' | 'sll2', f: DecodedFrame): LinkResult {
  const need = kind === 'sll' ? 16 : 20;
  if (b.length < need) return { offset: 0, etherType: 0, error: truncated(kind, b, need, 0) };
  let h: CookedHeader;
  if (kind === 'sll') {
    h = {
      kind,
      offset: 0,
      packetType: read16(b, 0),
      arphrdType: read16(b, 2),
      address: hexAddress(b, 6, read16(b, 4)),
      protocol: read16(b, 14),
    };
  } else {
    h = {
      kind,
      offset: 0,
      protocol: read16(b, 0),
      ifindex: ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0,
      arphrdType: read16(b, 8),
      packetType: b[10]!,
      address: hexAddress(b, 12, b[11]!),
    };
  }
  f.cooked = h;
  return decodeVlans(b, need, h.protocol, f);
}
