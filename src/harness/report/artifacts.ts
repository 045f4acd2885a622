// What a result leaves in its artifacts folder for the HTML report besides the pcaps: the
// datapath's trace events (trace.json), its conntrack table at the end (conntrack.json) and the
// resolved topology (topology.json: every node's role and each interface's segment, MAC and
// addresses, which tell the report who sent a captured frame). Written by run-one after the
// observation, read back by the report.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DpCtEntry, DpTraceEvent } from '../../datapath/packet-datapath.ts';
import { resolveTopology } from '../../topology/topology.ts';
import type { Role, TopologySpec } from '../../topology/topology.ts';
import type { Observation } from '../world.ts';

export interface TopologyIface {
  segment: string;
  mac: string;
  ipv4: string;
  ipv6?: string;
}

export interface TopologyNode {
  name: string;
  role: Role;
  ifaces: TopologyIface[];
}

export interface ResultArtifacts {
  trace: DpTraceEvent[];
  conntrack: DpCtEntry[];
  nodes: TopologyNode[];
  /** `<node>-<segment>.pcap` files, absolute paths, sorted. */
  pcaps: string[];
}

// bigint times go to JSON as decimal strings and come back as bigints.
const toJson = (v: unknown): string => `${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2)}\n`;

/** Writes trace.json, conntrack.json and topology.json into a result's artifacts folder. */
export function saveObservation(dir: string, obs: Pick<Observation, 'trace' | 'conntrack'>, topology: TopologySpec): void {
  writeFileSync(path.join(dir, 'trace.json'), toJson(obs.trace));
  writeFileSync(path.join(dir, 'conntrack.json'), toJson(obs.conntrack));
  const nodes: TopologyNode[] = resolveTopology(topology, 'info0').nodes.map((n) => ({
    name: n.name,
    role: n.role,
    ifaces: n.ifaces.map((i) =>
      i.ipv6 === undefined
        ? { segment: i.segment, mac: i.mac, ipv4: i.ipv4 }
        : { segment: i.segment, mac: i.mac, ipv4: i.ipv4, ipv6: i.ipv6 },
    ),
  }));
  writeFileSync(path.join(dir, 'topology.json'), toJson(nodes));
}

function readJson<T>(file: string, fallback: T): T {
  if (!existsSync(file)) return fallback;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); delete it or rerun the scenario`);
  }
}

/** What a result's folder holds; missing files give empty lists (an older run, or a result that stopped early). */
export function loadResultArtifacts(dir: string | undefined): ResultArtifacts {
  if (dir === undefined || !existsSync(dir)) return { trace: [], conntrack: [], nodes: [], pcaps: [] };
  const trace = readJson<(Omit<DpTraceEvent, 'timeNs'> & { timeNs: string })[]>(path.join(dir, 'trace.json'), []).map((e) => ({
    ...e,
    timeNs: BigInt(e.timeNs),
  }));
  const conntrack = readJson<(Omit<DpCtEntry, 'createdNs' | 'lastSeenNs'> & { createdNs: string; lastSeenNs: string })[]>(
    path.join(dir, 'conntrack.json'),
    [],
  ).map((e) => ({
    ...e,
    createdNs: BigInt(e.createdNs),
    lastSeenNs: BigInt(e.lastSeenNs),
  }));
  const nodes = readJson<TopologyNode[]>(path.join(dir, 'topology.json'), []);
  const pcaps = readdirSync(dir)
    .filter((f) => f.endsWith('.pcap'))
    .sort()
    .map((f) => path.join(dir, f));
  return { trace, conntrack, nodes, pcaps };
}
