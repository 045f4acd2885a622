// Helpers shared by the scenarios (files starting with `_` are not scenarios): services from the
// topology, raw frames from a node with the Ethernet addresses the topology gives it (the same
// deterministic MACs on sim, prog and lab), and checks over whole captures.
import { resolveTopology } from '../src/topology/topology.ts';
import { backendEndpoints, flowEntries, SERVER_PORTS, twoArm } from '../src/harness/index.ts';
import type { LinkCapture, Observation, ScenarioContext, ServiceInput, TopoInfo } from '../src/harness/index.ts';
import type { DpServiceKey } from '../src/controller/datapath.ts';
import { VirtualWorld } from '../src/harness/virtual-world.ts';
import type { World } from '../src/harness/world.ts';
import { decodeFields, findPackets } from '../src/harness/packet-match.ts';
import { buildFrame } from '../src/packet/index.ts';
import type { FrameSpec } from '../src/packet/index.ts';
import { slow } from '../src/slow.ts';

type Proto = 'tcp' | 'udp';

/** A service on the first VIP (IPv4, or IPv6 with family 6) over every backend at the server port. */
export function svc(topo: TopoInfo, protocol: Proto, over: Partial<ServiceInput> = {}, family: 4 | 6 = 4): ServiceInput {
  const vip = family === 4 ? topo.vip4 : topo.vip6;
  if (vip === undefined) throw new Error('this scenario needs a dual-stack topology');
  return {
    name: protocol === 'tcp' ? 'echo' : 'dns-like',
    vip,
    port: SERVER_PORTS[protocol],
    protocol,
    algorithm: 'rr',
    mode: 'dnat',
    endpoints: backendEndpoints(topo, SERVER_PORTS[protocol], family),
    ...over,
  };
}

/** The first client's name and addresses. */
export function client1(topo: TopoInfo): { name: string; ipv4: string; ipv6: string } {
  const c = topo.clients[0];
  if (c === undefined) throw new Error('the topology has no client');
  return { name: c.name, ipv4: c.ipv4, ipv6: c.ipv6 ?? '' };
}

/** A backend by index (0: b1). */
export function backend(topo: TopoInfo, i: number): { name: string; ipv4: string; ipv6: string } {
  const b = topo.backends[i];
  if (b === undefined) throw new Error(`the topology has no backend #${i + 1}`);
  return { name: b.name, ipv4: b.ipv4, ipv6: b.ipv6 ?? '' };
}

// Resolved once per topology: resolving parses and validates every address and prefix, and a
// flood scenario builds thousands of frames from one topology (3,000 resolutions were 75 % of
// robustness/midstream-flood's time). The spec is not changed during a run.
const resolved = new WeakMap<TopoInfo['spec'], ReturnType<typeof resolveTopology>>();
function resolvedOf(topo: TopoInfo): ReturnType<typeof resolveTopology> {
  let r = resolved.get(topo.spec);
  if (r === undefined) {
    r = resolveTopology(topo.spec, 'mac0');
    resolved.set(topo.spec, r);
  }
  return r;
}

/** The MAC of a node's interface on a segment (default: its first), as every backend assigns it. */
export function macOf(topo: TopoInfo, node: string, segment?: string): string {
  const n = resolvedOf(topo).nodes.find((x) => x.name === node);
  const i = segment === undefined ? n?.ifaces[0] : n?.ifaces.find((x) => x.segment === segment);
  if (i === undefined) throw new Error(`topology: node '${node}' has no interface${segment === undefined ? '' : ` on '${segment}'`}`);
  return i.mac;
}

/** The segment a node shares with the LB. */
function segmentToLb(topo: TopoInfo, node: string): string {
  const r = resolvedOf(topo);
  const mine = r.nodes.find((x) => x.name === node)?.ifaces ?? [];
  const lb = r.nodes.find((x) => x.name === topo.lb.name)?.ifaces ?? [];
  const s = mine.find((i) => lb.some((l) => l.segment === i.segment));
  if (s === undefined) throw new Error(`topology: node '${node}' shares no segment with the LB`);
  return s.segment;
}

/** A frame from `node` to the LB on their shared segment (the IP header's addresses are the spec's: they may be spoofed). */
export function frameToLb(topo: TopoInfo, node: string, spec: Omit<FrameSpec, 'eth'>): Uint8Array {
  const seg = segmentToLb(topo, node);
  return buildFrame({ ...spec, eth: { src: macOf(topo, node, seg), dst: macOf(topo, topo.lb.name, seg) } });
}

/** One packet of a capture, as `xlb scenario from-pcap` writes them: n its position, t seconds since the first. */
export interface CapturedPacket {
  n: number;
  node: string;
  t: number;
  spec: Omit<FrameSpec, 'eth'>;
}

/**
 * Injects a capture's packets in order, each from its node (frameToLb: the lab's MACs, every
 * checksum recomputed). Gaps of a second or more move the clock (conntrack timeouts see them);
 * shorter ones do not. The replay loop of every scenario `xlb scenario from-pcap` writes.
 */
export async function replayCapture(ctx: Pick<ScenarioContext, 'world' | 'advance' | 'topo'>, packets: CapturedPacket[]): Promise<void> {
  let clock = 0;
  for (const p of packets) {
    const gap = Math.floor(p.t - clock);
    if (gap >= 1) {
      await ctx.advance(gap);
      clock += gap;
    }
    await ctx.world.inject(p.node, [frameToLb(ctx.topo, p.node, p.spec)]);
  }
}

/** "node/segment: field=value" of every captured packet whose checksums are not all valid. */
export function badChecksums(links: LinkCapture[], nodes?: string[]): string[] {
  const out: string[] = [];
  for (const l of links) {
    if (nodes !== undefined && !nodes.includes(l.node)) continue;
    for (const p of l.packets) {
      const f = decodeFields(p.frame);
      if (f.checksums !== 'ok')
        out.push(
          `${l.node}/${l.segment} at ${p.timeMs.toFixed(1)} ms: ${String(f.checksums)} (${String(f['ip.src'])} → ${String(f['ip.dst'])})`,
        );
    }
  }
  return out;
}

/** Which backend answered each connection (by index), from a report. */
export function backendsOf(r: { results: { backend: string | null }[] }): (string | null)[] {
  return r.results.map((c) => c.backend);
}

/**
 * An address on the clients' segment that no node owns: frames injected from the client with it
 * as their source are a client whose answers are lost (no neighbour answers for it), so the
 * scenario alone decides every segment that client sends (no stack of its own resets anything).
 */
export function phantomClient(topo: TopoInfo): string {
  const c = client1(topo).ipv4.split('.');
  c[3] = '77';
  return c.join('.');
}

/**
 * One lost side of a flow, in the middle of a transfer: two connections from fixed ports, one
 * round each; then conn 0 loses its forward entry and conn 1 its reply entry; 2 s pass (the fast
 * path checks the peer once a second), and the remaining rounds run. docs/datapath.md ("One lost
 * side of a flow"): the flow heals and carries on both ways, on the same endpoint.
 */
export async function loseOneSide(ctx: ScenarioContext, proto: 'tcp' | 'udp', family: 4 | 6 = 4): Promise<void> {
  const { topo, expect } = ctx;
  const c = client1(topo);
  const cip = family === 4 ? c.ipv4 : c.ipv6;
  const target = family === 4 ? topo.vip4 : (topo.vip6 ?? '');
  const sport = proto === 'tcp' ? 43_000 : 43_100;
  const t = await startRounds(ctx, { proto, target, count: 2, sport, rounds: 4, payload: 300 });
  const before = await ctx.observe();
  const fwd = flowEntries(before, { clientIp: cip, clientPort: sport })[0];
  const rep = flowEntries(before, { clientIp: cip, clientPort: sport + 1 })[1];
  if (fwd === undefined || rep === undefined) throw new Error('the two flows have no conntrack entries after their first round');
  expect.ok(await ctx.world.deleteConntrack(fwd), 'the forward entry of conn 0 deleted');
  expect.ok(await ctx.world.deleteConntrack(rep), 'the reply entry of conn 1 deleted');
  await ctx.advance(2);
  await t.next();
  await ctx.advance(2);
  await t.next();
  await t.next();
  const r = await t.report();
  expect.allConnected(r, 'both connections completed every round');
  expect.sameBackendPerConnection(r);
  const obs = await ctx.observe();
  for (const p of [sport, sport + 1])
    expect.equal(flowEntries(obs, { clientIp: cip, clientPort: p }).length, 2, `conn on port ${p} has both entries again`);
  expect.reasons(obs, { new_flow: 2 }, 'no new flow was counted for the healed ones');
  const links = await ctx.captures();
  for (const b of topo.backends) {
    const bip = family === 4 ? b.ipv4 : (b.ipv6 ?? '');
    expect.noPacket(
      links,
      {
        on: c.name,
        pattern: { fields: { 'ip.dst': cip, 'ip.src': bip } },
        sanity: { on: c.name, pattern: { fields: { 'ip.dst': cip, 'ip.src': target } } },
      },
      `no untranslated packet from ${b.name} reached the client`,
    );
  }
}

/**
 * startClient whose first round has finished when it returns, on every backend. The virtual
 * World returns once the first round is done; the lab's (lab/traffic/tools.ts startClient)
 * returns as soon as the process started, so a change made "after round 1" could race it. On
 * lab this waits (at most 5 s) until every connection's reply entry has counted the first
 * round's answer (TCP: SYN-ACK, banner, echo; UDP: the answer), or with `forwardPackets` (DSR:
 * no reply entry) until every forward entry counted that many. Needs a fixed `sport`.
 */
export async function startRounds(
  ctx: ScenarioContext,
  req: Parameters<ScenarioContext['startClient']>[0],
  opts: { forwardPackets?: number } = {},
): Promise<Awaited<ReturnType<ScenarioContext['startClient']>>> {
  const t = await ctx.startClient(req);
  if (ctx.backend !== 'lab') return t;
  if (req.sport === undefined || req.sport === 0) throw new Error('startRounds: give a fixed sport (the lab wait finds the flows by port)');
  const c = client1(ctx.topo);
  const ip = req.target.includes(':') ? c.ipv6 : c.ipv4;
  const want = req.proto === 'udp' ? 1 : 3;
  const ports = Array.from({ length: req.count ?? 1 }, (_, i) => (req.sport ?? 0) + i);
  // 5 s on a real machine; scaled under emulation (a TCG guest of the kernel matrix is 10-50×
  // slower, and an unscaled wait there let the scenario observe before the first round was done).
  const waitMs = slow(5000);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const obs = await ctx.observe();
    const done = (p: number): boolean => {
      const [fwd, rep] = flowEntries(obs, { clientIp: ip, clientPort: p });
      return opts.forwardPackets === undefined ? (rep?.packets ?? 0) >= want : (fwd?.packets ?? 0) >= opts.forwardPackets;
    };
    if (ports.every(done)) break;
    if (Date.now() >= deadline) {
      ctx.log(`startRounds: the first round was not seen in conntrack within ${waitMs} ms; observing anyway`);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return t;
}

/** differentialOff of scenarios whose packets end before their L4 protocol is known. */
export const PROTO0_DISAGREEMENT =
  'known model/kernel disagreement: a packet that ends before its L4 protocol is known (malformed, a fragment) has protocol 0 in its trace tuple, which DpProto cannot say; src/datapath/prog-datapath.ts dpProto() renders it tcp, src/model/trace.ts icmp';

/** The nodes (of `nodes`) with at least one captured packet matching `fields`. */
export function nodesThatSaw(links: LinkCapture[], nodes: string[], fields: Record<string, string | number | boolean>): string[] {
  return nodes.filter(
    (n) =>
      findPackets(
        links.filter((l) => l.node === n),
        fields,
      ).length > 0,
  );
}

/**
 * The default two-arm topology with static neighbours on the LB. At XDP a translated packet whose
 * next hop is not resolved is handed to the XDP object's TC half (bpf_redirect_neigh,
 * docs/datapath.md, Forwarding; nat/xdp-fullnat-unresolved-neighbour.ts shows that path), at TC
 * the LB sends it with bpf_redirect_neigh. Scenarios about the translation itself use this
 * topology so that they test the same path (a resolved next hop) on every hook.
 */
export function resolvedTwoArm(p: Parameters<typeof twoArm>[0] = {}): ReturnType<typeof twoArm> {
  return twoArm({ staticNeighbours: true, ...p });
}

/** Why a VLAN scenario means nothing on sim and prog (their LB forwards through a virtual stack). */
export const VLAN_NOT_HERE =
  "the LB's datapath passes a translated frame to the node's stack here (empty FIB), and a stack without VLAN devices drops a tagged frame (src/harness/virtual: VLAN-tagged frames are dropped, counted), so whether the LB forwards the tag is a lab question (the datapath forwards it itself there)";

/**
 * An address on the backends' segment that no node owns (b1's with host part .77): an endpoint
 * there never answers, so a flow to it is one-way and the scenario alone speaks for the backend
 * (frames injected from b1's interface with it as their source).
 */
export function phantomBackend(topo: TopoInfo): string {
  const b = backend(topo, 0).ipv4.split('.');
  b[3] = '77';
  return b.join('.');
}

/** The service counters of a service id as every backend reports them (flows and drops 0 when not reported). */
export function serviceCounters(
  obs: Pick<Observation, 'counters'>,
  id: number,
): { packets: number; bytes: number; flows: number; drops: number } {
  const s = obs.counters.services.get(id);
  return { packets: s?.packets ?? 0, bytes: s?.bytes ?? 0, flows: s?.flows ?? 0, drops: s?.drops ?? 0 };
}

/** Why an ICMP echo service scenario means nothing on lab. */
export const ECHO_NOT_ON_LAB =
  "the desired state cannot declare an ICMP echo service (Service.protocol is tcp | udp, so the agent's REST API refuses one); the datapath's own echo services are written below the controller, which only sim and prog (the datapath in this process) can reach";

/** The service id the echo helper uses: far above the ids the controller hands out for a scenario's few services. */
export const ECHO_SERVICE_ID = 60;

/**
 * An ICMP echo service on `vip` (port 0, protocol icmp: docs/datapath.md, Services) with rr over
 * `endpoints`, written straight into the datapath's maps through its control interface (the
 * controller has no echo services). sim and prog only (ECHO_NOT_ON_LAB).
 */
export function putEchoService(world: World, vip: string, mode: 'dnat' | 'fullnat', endpoints: string[]): void {
  if (!(world instanceof VirtualWorld))
    throw new Error(`putEchoService: the ${world.backend} World has no in-process datapath (declare backends: { lab: ECHO_NOT_ON_LAB })`);
  const dp = world.dut.control;
  dp.writeGeneration(
    ECHO_SERVICE_ID,
    0,
    'rr',
    endpoints.map((ip) => ({ ip, port: 0, weight: 1, active: true })),
  );
  // protocol 'icmp' is outside the controller's Protocol; both datapaths' putService take it (src/datapath/maps.ts Proto, src/model/control.ts ModelServiceKey).
  const key = { vip, port: 0, protocol: 'icmp' } as unknown as DpServiceKey;
  dp.putService({
    key,
    id: ECHO_SERVICE_ID,
    portEnd: 0,
    mode,
    algorithm: 'rr',
    persistenceTimeoutS: 0,
    policer: { ratePps: 0, burst: 0 },
    endpointCount: endpoints.length,
    generation: 0,
  });
}
