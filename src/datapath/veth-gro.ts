// The XDP-without-GRO trap (docs/drops.md): a veth takes XDP_REDIRECTed / XDP_TX'd frames only
// while its peer has GRO on or an XDP program of its own (the peer's NAPI ring exists only then;
// the kernel clears the veth's NETDEV_XDP_ACT_NDO_XMIT otherwise). Without it every redirected
// frame is refused (xdp_redirect_err -EOPNOTSUPP) and nothing in xlb's counters says so: they
// count the redirect. So the XDP attach checks each veth's peer and warns, naming the fix.
//
// The check runs in the calling thread's network namespace (like attach) with ethtool and ip;
// a peer in another namespace is found through `ip netns list-id` (named namespaces only).
import { execFileSync } from 'node:child_process';

export interface VethPeerState {
  iface: string;
  peer: string;
  /** The peer's named namespace (`ip netns`), undefined when it is in this one. */
  peerNetns?: string;
  gro: boolean;
  xdp: boolean;
}

type Run = (cmd: string, args: string[]) => string;
const run: Run = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });

interface IpLink {
  ifindex: number;
  ifname: string;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
  xdp?: unknown;
}

function links(prefix: string[], r: Run, dev?: string): IpLink[] {
  return JSON.parse(
    r(prefix[0] as string, [...prefix.slice(1), 'ip', '-j', '-d', 'link', 'show', ...(dev !== undefined ? ['dev', dev] : [])]),
  ) as IpLink[];
}

/**
 * The peer of veth iface and whether it can take XDP frames, or undefined when iface is not a
 * veth. Throws when the peer cannot be found (a namespace that has no name, ethtool missing).
 */
export function vethPeerState(iface: string, r: Run = run, nsPath?: string): VethPeerState | undefined {
  // nsPath: look from that namespace (the drop tracer runs in the host's), else from this thread's
  const here = nsPath === undefined ? ['env'] : ['nsenter', `--net=${nsPath}`];
  const at = (cmd: string, args: string[]): string => r(here[0] as string, [...here.slice(1), cmd, ...args]);
  const [self] = links(here, r, iface);
  if (self?.linkinfo?.info_kind !== 'veth') return undefined;
  const m = /peer_ifindex:\s*(\d+)/.exec(at('ethtool', ['-S', iface]));
  if (m === null) throw new Error(`ethtool -S ${iface} shows no peer_ifindex`);
  const peerIndex = Number(m[1]);
  let prefix = here;
  let peerNetns: string | undefined;
  if (self.link_netnsid !== undefined) {
    const ids = JSON.parse(at('ip', ['-j', 'netns', 'list-id']) || '[]') as { nsid: number; name?: string }[];
    peerNetns = ids.find((x) => x.nsid === self.link_netnsid)?.name;
    if (peerNetns === undefined)
      throw new Error(`the peer of ${iface} is in namespace id ${self.link_netnsid}, which has no name under /run/netns`);
    prefix = ['nsenter', `--net=/run/netns/${peerNetns}`];
  }
  const peer = links(prefix, r).find((l) => l.ifindex === peerIndex);
  if (peer === undefined)
    throw new Error(`no interface with index ${peerIndex} (the peer of ${iface})${peerNetns !== undefined ? ` in ${peerNetns}` : ''}`);
  const k = r(prefix[0] as string, [...prefix.slice(1), 'ethtool', '-k', peer.ifname]);
  const gro = /^generic-receive-offload:\s*on/m.test(k);
  const out: VethPeerState = { iface, peer: peer.ifname, gro, xdp: peer.xdp !== undefined };
  if (peerNetns !== undefined) out.peerNetns = peerNetns;
  return out;
}

/** The warning for an XDP attach on iface, or undefined when iface is fine (or not a veth). */
export function xdpVethWarning(iface: string, r: Run = run): string | undefined {
  let s: VethPeerState | undefined;
  try {
    s = vethPeerState(iface, r);
  } catch (e) {
    return `XDP on veth ${iface}: could not read its peer's GRO state (${(e as Error).message}); if the peer has neither GRO nor an XDP program, every frame redirected into ${iface} is dropped: run ethtool -K <peer> gro on`;
  }
  if (s === undefined || s.gro || s.xdp) return undefined;
  const where = s.peerNetns !== undefined ? `nsenter --net=/run/netns/${s.peerNetns} ` : '';
  return `XDP on veth ${iface}: its peer ${s.peer}${s.peerNetns !== undefined ? ` (netns ${s.peerNetns})` : ''} has neither GRO nor an XDP program, so the kernel drops every frame xlb redirects or sends back into ${iface} (xdp_redirect_err -EOPNOTSUPP) while xlb's counters count them as forwarded (XDP-without-GRO); fix: ${where}ethtool -K ${s.peer} gro on`;
}
