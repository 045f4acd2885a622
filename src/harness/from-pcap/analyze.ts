// Reads a field capture and works out what happened in it: the flows (5-tuples, who opened each),
// which addresses are clients, VIPs and backends, and a consistent map of every one of them into
// the lab's ranges (the default two-arm topology of src/harness/topo.ts), so that a scenario can
// replay the clients' packets in the lab's world, and the ICMP errors the backends sent (the one
// kind of backend packet the lab's own hosts cannot make again: they answer a replay, but only a
// router or a host with a smaller path MTU sends frag-needed).
import { decodeRecord, flowKeyString, flowOf, readPcapFile, reverseFlow } from '../../packet/index.ts';
import type { DecodedFrame, FlowKey } from '../../packet/index.ts';
import { topoInfo, twoArm } from '../topo.ts';
import type { TopoInfo } from '../topo.ts';

export interface FromPcapOptions {
  /** Addresses that are clients (else: the side that opens a flow). */
  clients?: string[];
  /** "IP:PORT" (IPv6: "[IP]:PORT") of the VIPs (else: where the clients send). */
  vips?: string[];
  /** Addresses that are backends (else: what answers behind a translation, when the capture sees it). */
  backends?: string[];
}

export interface CapturedFlow {
  /** The key as the opener sent it. */
  key: FlowKey;
  /** The index in the capture of its first packet. */
  first: number;
  packets: number;
  /** TCP: the opener's first packet was a SYN (a handshake in the capture). */
  handshake: boolean;
}

/** A captured packet the scenario injects: a client's packet to a VIP, or a backend's ICMP error. */
export interface ReplayPacket {
  /** Position in the capture. */
  index: number;
  /** Seconds since the capture's first packet. */
  t: number;
  /** The lab node that sends it (a client, or a backend for its ICMP errors). */
  node: string;
  frame: DecodedFrame;
}

/** An ICMP or ICMPv6 error (it quotes another packet): not a flow of its own. */
function isIcmpError(d: DecodedFrame): boolean {
  return d.icmp !== undefined && d.icmp.inner !== undefined;
}

export interface Vip {
  ip: string;
  port: number;
  proto: 'tcp' | 'udp';
}

export interface Analysis {
  file: string;
  records: number;
  /** Records that are not IPv4/IPv6 (ARP, …) or that the scenario does not replay (multicast, link-local). */
  skipped: { reason: string; count: number }[];
  flows: CapturedFlow[];
  clients: string[];
  vips: Vip[];
  backends: { ip: string; port?: number }[];
  /** Original address → lab address. */
  map: Map<string, string>;
  /** Lab names of the clients and backends, in order. */
  clientNodes: string[];
  topo: TopoInfo;
  /** The clients' packets and the backends' ICMP errors, in capture order (what the scenario injects). */
  packets: ReplayPacket[];
}

function parseVip(s: string): { ip: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (m === null || m[1] === undefined || m[2] === undefined) throw new Error(`--vip ${s}: give IP:PORT (IPv6: [IP]:PORT)`);
  return { ip: m[1], port: Number(m[2]) };
}

/** Addresses a scenario cannot stand in for: multicast, broadcast, link-local, unspecified. */
function notReplayable(ip: string): string | undefined {
  if (/^fe80:/i.test(ip)) return 'IPv6 link-local';
  if (/^ff/i.test(ip)) return 'IPv6 multicast';
  if (ip === '::' || ip === '0.0.0.0') return 'unspecified address';
  const first = Number(ip.split('.')[0]);
  if (!ip.includes(':') && (first >= 224 || ip === '255.255.255.255')) return 'IPv4 multicast/broadcast';
  return undefined;
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** Host `n` (1-based) of a VIP prefix's first address, in the same family. */
function vipAddress(topo: TopoInfo, family: 4 | 6, n: number): string {
  if (family === 4) {
    const p = topo.vip4.split('.');
    p[3] = String(Number(p[3]) + n - 1);
    return p.join('.');
  }
  const v6 = topo.vip6 ?? 'fd00:18:100::1';
  return v6.replace(/[0-9a-f]+$/i, (h) => (parseInt(h, 16) + n - 1).toString(16));
}

export async function analyzePcap(file: string, opts: FromPcapOptions = {}): Promise<Analysis> {
  const pcap = await readPcapFile(file); // refuses pcapng with the conversion command
  if (pcap.records.length === 0)
    throw new Error(`${file}: the capture holds no packet (only a pcap header); capture again while the traffic runs (tcpdump -U -w FILE)`);
  if (pcap.linkType === undefined)
    throw new Error(
      `${file}: pcap link type ${pcap.linkTypeNumber} is not decoded; capture on an Ethernet interface or with 'tcpdump -i any' (SLL)`,
    );
  const skipped = new Map<string, number>();
  const decoded: { index: number; t: number; d: DecodedFrame; key: FlowKey }[] = [];
  const t0 = (pcap.records[0]?.tsSec ?? 0) + (pcap.records[0]?.tsNsec ?? 0) / 1e9;
  for (const rec of pcap.records) {
    const d = decodeRecord(rec);
    const key = flowOf(d);
    if (d.error !== undefined && d.ip === undefined) {
      bump(skipped, `undecodable (${d.error.reason})`);
      continue;
    }
    if (key === undefined) {
      bump(skipped, 'not IP (ARP, LLDP, …)');
      continue;
    }
    const odd = notReplayable(key.dst) ?? notReplayable(key.src);
    if (odd !== undefined) {
      bump(skipped, odd);
      continue;
    }
    if (key.proto !== 'tcp' && key.proto !== 'udp' && key.proto !== 'icmp' && key.proto !== 'icmp6') {
      bump(skipped, `IP protocol ${key.protocol}`);
      continue;
    }
    decoded.push({ index: rec.index, t: rec.tsSec + rec.tsNsec / 1e9 - t0, d, key });
  }
  const skippedList = [...skipped].map(([reason, count]) => ({ reason, count }));
  if (decoded.length === 0) {
    const what = skippedList.map((s) => `${s.count} ${s.reason}`).join(', ');
    throw new Error(
      `${file}: no TCP, UDP or ICMP traffic between unicast IP addresses in ${pcap.records.length} packets (${what}); capture the service's traffic itself (e.g. tcpdump -i IFACE -w FILE 'tcp or udp')`,
    );
  }

  // Flows, keyed both ways; the opener is the sender of a SYN (without ACK), else of the first packet.
  const flows = new Map<string, CapturedFlow>();
  for (const p of decoded) {
    // An error belongs to the flow it quotes; counted as a flow it would make its sender a client.
    if (isIcmpError(p.d)) continue;
    const k = flowKeyString(p.key);
    const rk = flowKeyString(reverseFlow(p.key));
    const f = flows.get(k) ?? flows.get(rk);
    const syn = p.d.tcp !== undefined && (p.d.tcp.flags & 0x12) === 0x02;
    if (f === undefined) {
      flows.set(k, { key: p.key, first: p.index, packets: 1, handshake: syn });
    } else {
      f.packets += 1;
      // A capture that starts with the SYN-ACK: the one who sent the SYN is still the opener.
      if (syn && !f.handshake) Object.assign(f, { key: p.key, handshake: true });
    }
  }
  const flowList = [...flows.values()].sort((a, b) => a.first - b.first);

  const clients = opts.clients !== undefined && opts.clients.length > 0 ? [...opts.clients] : [];
  if (clients.length === 0) for (const f of flowList) if (!clients.includes(f.key.src)) clients.push(f.key.src);
  const isVipFlag = opts.vips !== undefined && opts.vips.length > 0;
  const vipFlags = (opts.vips ?? []).map(parseVip);
  const backendFlags = opts.backends ?? [];

  // VIPs: where the clients open flows to (or the flags). Backends: destinations the same client
  // socket (address and port) reaches through a translation, i.e. a second flow from the same
  // client port to another address (a capture that sees both sides of the LB), or the flags.
  const vips: Vip[] = [];
  const backends: { ip: string; port?: number }[] = backendFlags.map((ip) => ({ ip }));
  const bySocket = new Map<string, string>();
  for (const f of flowList) {
    if (!clients.includes(f.key.src)) continue;
    if (f.key.proto !== 'tcp' && f.key.proto !== 'udp') continue;
    const proto = f.key.proto;
    const sock = `${proto} ${f.key.src} ${f.key.sport}`;
    const seen = bySocket.get(sock);
    const flagged = isVipFlag ? vipFlags.some((v) => v.ip === f.key.dst && v.port === f.key.dport) : undefined;
    const isBackend =
      backendFlags.includes(f.key.dst) ||
      (flagged === false && seen !== undefined) ||
      (!isVipFlag && seen !== undefined && seen !== f.key.dst);
    if (isBackend) {
      if (!backends.some((b) => b.ip === f.key.dst)) backends.push({ ip: f.key.dst, port: f.key.dport });
      else for (const b of backends) if (b.ip === f.key.dst && b.port === undefined) b.port = f.key.dport;
      continue;
    }
    if (flagged === false) continue;
    if (seen === undefined) bySocket.set(sock, f.key.dst);
    if (!vips.some((v) => v.ip === f.key.dst && v.port === f.key.dport && v.proto === proto))
      vips.push({ ip: f.key.dst, port: f.key.dport, proto });
  }
  for (const v of vipFlags) {
    if (vips.some((x) => x.ip === v.ip && x.port === v.port)) continue;
    const f = flowList.find((x) => x.key.dst === v.ip && x.key.dport === v.port);
    vips.push({ ...v, proto: f?.key.proto === 'udp' ? 'udp' : 'tcp' });
  }
  if (vips.length === 0)
    throw new Error(
      `${file}: no client opens a TCP or UDP flow in this capture (clients: ${clients.join(', ') || 'none'}); name them with --client IP and the service with --vip IP:PORT`,
    );

  // The lab topology: as many clients and backends as the capture has (at least the default 1 and 3).
  const topo = topoInfo(twoArm({ clients: Math.max(1, clients.length), backends: Math.max(3, backends.length) }));
  const map = new Map<string, string>();
  const put = (orig: string, lab: string | undefined, what: string): void => {
    if (lab === undefined)
      throw new Error(`${file}: the lab topology has no ${what} address for ${orig} (IPv6 needs the dual-stack topology)`);
    if (!map.has(orig)) map.set(orig, lab);
  };
  clients.forEach((ip, i) => {
    const h = topo.clients[i];
    put(ip, ip.includes(':') ? h?.ipv6 : h?.ipv4, `client #${i + 1}`);
  });
  backends.forEach((b, i) => {
    const h = topo.backends[i];
    put(b.ip, b.ip.includes(':') ? h?.ipv6 : h?.ipv4, `backend #${i + 1}`);
  });
  const vipIps: Record<4 | 6, string[]> = { 4: [], 6: [] };
  for (const v of vips) {
    const fam = v.ip.includes(':') ? 6 : 4;
    if (!vipIps[fam].includes(v.ip)) vipIps[fam].push(v.ip);
    put(v.ip, vipAddress(topo, fam, vipIps[fam].indexOf(v.ip) + 1), 'VIP');
  }

  const clientNodes = clients.map((_, i) => topo.clients[i]?.name ?? `c${i + 1}`);
  const packets: ReplayPacket[] = [];
  for (const p of decoded) {
    const c = clients.indexOf(p.key.src);
    // What the clients sent to a VIP (their packets to a backend are the LB's translated copies),
    // and the backends' ICMP errors (about a flow's translated packet: the LB must translate them).
    if (c >= 0 && vips.some((v) => v.ip === p.key.dst)) {
      packets.push({ index: p.index, t: p.t, node: clientNodes[c] ?? `c${c + 1}`, frame: p.d });
      continue;
    }
    const b = backends.findIndex((x) => x.ip === p.key.src);
    if (b >= 0 && isIcmpError(p.d)) packets.push({ index: p.index, t: p.t, node: topo.backends[b]?.name ?? `b${b + 1}`, frame: p.d });
  }
  return {
    file,
    records: pcap.records.length,
    skipped: skippedList,
    flows: flowList,
    clients,
    vips,
    backends,
    map,
    clientNodes,
    topo,
    packets,
  };
}
