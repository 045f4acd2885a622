// The virtual network: the lab's topology declaration (src/topology/topology.ts) turned into
// in-process nodes, interfaces and segments on one virtual clock. Names, addresses, MACs and ifindexes are
// exactly what `resolveTopology` gives the lab, so a sim/prog capture reads like a lab one.
//
// Neighbours are static: every node knows the MAC of every address on its segments (no ARP, no
// ND in the model or in its captures; the lab's `staticNeighbours` does the same on real links).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LinkCapture } from '../world.ts';
import { resolveTopology } from '../../topology/topology.ts';
import type { ResolvedTopology, TopologySpec } from '../../topology/topology.ts';
import { Rng, VirtualClock } from './clock.ts';
import { VNode } from './ip.ts';
import { Segment, VIface } from './link.ts';
import { startServers } from './servers.ts';

export interface NetworkOptions {
  seed: number;
  /** Where the per-interface pcaps go; none are written without it. */
  artifactsDir?: string;
  /** One-way delay of a link, µs (default 50). */
  linkDelayUs?: number;
  /** TCP TIME_WAIT, ms (default 60 000, Linux's TCP_TIMEWAIT_LEN). */
  timeWaitMs?: number;
  /** Run the lab's servers on every backend node, named after the node (default true). */
  servers?: boolean;
  clock?: VirtualClock;
  /** Run id in interface names (default 'vnet0': 5 chars like a lab id). */
  id?: string;
}

export const DEFAULT_LINK_DELAY_US = 50;
export const DEFAULT_TIME_WAIT_MS = 60_000;

export class VirtualNetwork {
  readonly clock: VirtualClock;
  readonly topology: ResolvedTopology;
  readonly nodes = new Map<string, VNode>();
  readonly segments = new Map<string, Segment>();
  readonly ifaces: VIface[] = [];

  constructor(spec: TopologySpec, opts: NetworkOptions) {
    this.clock = opts.clock ?? new VirtualClock();
    this.topology = resolveTopology(spec, opts.id ?? 'vnet0');
    const delay = opts.linkDelayUs ?? DEFAULT_LINK_DELAY_US;
    if (opts.artifactsDir !== undefined) mkdirSync(opts.artifactsDir, { recursive: true });
    for (const s of spec.segments) this.segments.set(s.name, new Segment(s.name, this.clock, delay));
    for (const rn of this.topology.nodes) {
      const node = new VNode(rn, {
        clock: this.clock,
        rng: new Rng(opts.seed, rn.name),
        timeWaitMs: opts.timeWaitMs ?? DEFAULT_TIME_WAIT_MS,
      });
      for (const ri of rn.ifaces) {
        const pcap = opts.artifactsDir === undefined ? undefined : join(opts.artifactsDir, `${rn.name}-${ri.segment}.pcap`);
        const iface = new VIface(rn.name, ri, this.clock, (i, f) => node.receive(i, f), pcap);
        node.addIface(iface);
        this.segments.get(ri.segment)?.attach(iface);
        this.ifaces.push(iface);
      }
      node.addRoutes(rn.routes);
      this.nodes.set(rn.name, node);
    }
    // Static neighbours: everyone on a segment knows everyone else's addresses.
    for (const seg of this.segments.values()) {
      for (const a of seg.members) {
        const node = this.node(a.node);
        for (const b of seg.members) {
          if (b === a) continue;
          node.addNeighbour(b.ipv4, b.mac);
          if (b.ipv6 !== undefined) node.addNeighbour(b.ipv6, b.mac);
        }
      }
    }
    if (opts.servers ?? true) for (const n of this.nodes.values()) if (n.role === 'backend') startServers(n, n.name);
  }

  node(name: string): VNode {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`virtual network: no node '${name}' (nodes: ${[...this.nodes.keys()].join(', ')})`);
    return n;
  }

  /** The interface of `node` on `segment` (default: its first). */
  iface(node: string, segment?: string): VIface {
    const n = this.node(node);
    const i = segment === undefined ? n.ifaces[0] : n.ifaces.find((x) => x.segment.name === segment);
    if (i === undefined)
      throw new Error(
        `virtual network: node '${node}' has no interface${segment === undefined ? '' : ` on segment '${segment}'`} (segments: ${n.ifaces.map((x) => x.segment.name).join(', ')})`,
      );
    return i;
  }

  /** Every interface's capture (packets so far); pcaps flushed. */
  captures(): LinkCapture[] {
    return this.ifaces.map((i) => {
      i.flush();
      return { ...i.capture, packets: [...i.capture.packets] };
    });
  }

  /** Drops per node and reason (non-zero only). */
  drops(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, n] of this.nodes) if (n.drops.size > 0) out[name] = Object.fromEntries(n.drops);
    return out;
  }

  close(): void {
    for (const i of this.ifaces) i.close();
  }
}
