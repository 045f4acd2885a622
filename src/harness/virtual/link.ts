// Interfaces and segments of the virtual network. A segment with two members is a wire (a veth
// pair: every frame reaches the other end, which filters by MAC like a NIC); with more, a learning
// switch (a Linux bridge: frames go to the port that last sent from the destination MAC, unknown
// and broadcast/multicast destinations are flooded to every other port). The switch starts out
// knowing every member's MAC, as a bridge does once ARP/ND has run: the model has no ARP, and
// without it a host that never sends on a segment (the router of DSR replies) would have every
// frame to it flooded forever.
//
// Every interface records what it sends and what it receives, like `tcpdump -i IF` on it: into a
// LinkCapture (in memory) and into a pcap file whose timestamps are the virtual time. Frames are
// never modified after they were handed to `transmit` (a node that changes a frame copies it), so
// captures keep references instead of copies.
import { PcapWriter } from '../../packet/index.ts';
import { parseMac } from '../../packet/index.ts';
import type { LinkCapture } from '../world.ts';
import type { VirtualClock } from './clock.ts';

export interface IfaceInit {
  ifname: string;
  ifindex: number;
  mac: string;
  ipv4: string;
  ipv4Len: number;
  ipv6?: string;
  ipv6Len?: number;
  mtu: number;
}

/** What an interface hands a received frame to (its node). */
export type FrameSink = (iface: VIface, frame: Buffer) => void;

export class VIface {
  readonly node: string;
  readonly ifname: string;
  readonly ifindex: number;
  readonly mac: string;
  readonly macBytes: Uint8Array;
  readonly ipv4: string;
  readonly ipv4Len: number;
  readonly ipv6: string | undefined;
  readonly ipv6Len: number | undefined;
  readonly mtu: number;
  readonly capture: LinkCapture;
  segment!: Segment;
  stats = { txFrames: 0, rxFrames: 0, txBytes: 0, rxBytes: 0 };
  #clock: VirtualClock;
  #pcap: PcapWriter | undefined;
  #sink: FrameSink;

  constructor(node: string, init: IfaceInit, clock: VirtualClock, sink: FrameSink, pcapPath: string | undefined) {
    this.node = node;
    this.ifname = init.ifname;
    this.ifindex = init.ifindex;
    this.mac = init.mac;
    this.macBytes = parseMac(init.mac);
    this.ipv4 = init.ipv4;
    this.ipv4Len = init.ipv4Len;
    this.ipv6 = init.ipv6;
    this.ipv6Len = init.ipv6Len;
    this.mtu = init.mtu;
    this.#clock = clock;
    this.#sink = sink;
    this.#pcap = pcapPath === undefined ? undefined : new PcapWriter(pcapPath, 'ethernet', { precision: 'ns' });
    this.capture = { node, ifname: init.ifname, segment: '', packets: [] };
    if (pcapPath !== undefined) this.capture.pcapPath = pcapPath;
  }

  #record(frame: Buffer): void {
    const us = this.#clock.nowUs;
    this.capture.packets.push({ timeMs: us / 1000, frame });
    this.#pcap?.write({ data: frame, tsSec: Math.floor(us / 1e6), tsNsec: (us % 1e6) * 1000 });
  }

  /** Sends a frame onto the segment. The frame must not be modified afterwards. */
  transmit(frame: Buffer): void {
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    this.#record(frame);
    this.segment.carry(this, frame);
  }

  /** Called by the segment when a frame arrives. */
  receive(frame: Buffer): void {
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.#record(frame);
    this.#sink(this, frame);
  }

  flush(): void {
    this.#pcap?.flush();
  }

  close(): void {
    this.#pcap?.close();
  }
}

/** A MAC as one number (48 bits fit a double exactly). */
function macKey(b: Uint8Array, off: number): number {
  return (
    (b[off] ?? 0) * 2 ** 40 +
    (b[off + 1] ?? 0) * 2 ** 32 +
    (((b[off + 2] ?? 0) << 24) >>> 0) +
    ((b[off + 3] ?? 0) << 16) +
    ((b[off + 4] ?? 0) << 8) +
    (b[off + 5] ?? 0)
  );
}

export class Segment {
  readonly name: string;
  readonly members: VIface[] = [];
  /** Learned MAC -> port (switches only). */
  readonly fdb = new Map<number, VIface>();
  readonly #clock: VirtualClock;
  readonly #delayUs: number;
  /** Frames a switch flooded (destination unknown or broadcast). */
  flooded = 0;

  constructor(name: string, clock: VirtualClock, delayUs: number) {
    this.name = name;
    this.#clock = clock;
    this.#delayUs = delayUs;
  }

  attach(iface: VIface): void {
    iface.segment = this;
    iface.capture.segment = this.name;
    this.members.push(iface);
    this.fdb.set(macKey(iface.macBytes, 0), iface);
  }

  get isSwitch(): boolean {
    return this.members.length > 2;
  }

  carry(from: VIface, frame: Buffer): void {
    if (frame.length < 14) return;
    const send = (to: VIface): void => this.#clock.deliver(() => to.receive(frame), this.#delayUs);
    if (!this.isSwitch) {
      for (const m of this.members) if (m !== from) send(m);
      return;
    }
    this.fdb.set(macKey(frame, 6), from);
    const group = ((frame[0] ?? 0) & 1) === 1;
    const port = group ? undefined : this.fdb.get(macKey(frame, 0));
    if (port !== undefined) {
      if (port !== from) send(port);
      return;
    }
    this.flooded++;
    for (const m of this.members) if (m !== from) send(m);
  }
}
