// The same service over IPv6: VIP and backends in fd00::/8, DNAT with the IPv6 pseudo-header
// checksums right, shares even.
import { backendEndpoints, scenario, SERVER_PORTS } from '../../src/harness/index.ts';

export default scenario({
  description: 'IPv6 TCP DNAT, round-robin over 3 backends: 6 connections to fd00:18:100::1, answers from the VIP',
  services: (topo) => {
    if (topo.vip6 === undefined) throw new Error('this scenario needs a dual-stack topology');
    return [
      {
        name: 'echo6',
        vip: topo.vip6,
        port: SERVER_PORTS.tcp,
        protocol: 'tcp',
        algorithm: 'rr',
        mode: 'dnat',
        endpoints: backendEndpoints(topo, SERVER_PORTS.tcp, 6),
      },
    ];
  },
  async run({ client, expect, observe, captures, topo }) {
    const vip6 = topo.vip6 ?? '';
    const r = await client({ proto: 'tcp', target: vip6, count: 6, payload: 100 });
    expect.allConnected(r);
    expect.spread(r, { roundRobin: topo.backends.map((b) => b.name) });
    const obs = await observe();
    expect.reasons(obs, { new_flow: 6 });
    const links = await captures();
    const c6 = topo.clients[0]?.ipv6 ?? '';
    expect.packet(
      links,
      { on: topo.clients[0]?.name ?? 'c1', pattern: { fields: { 'ip.src': vip6, 'ip.dst': c6, 'tcp.flags': 'S.' } }, count: 6 },
      'SYN-ACKs reach the client from the IPv6 VIP',
    );
    const b1 = topo.backends[0];
    if (b1?.ipv6 !== undefined)
      expect.packet(
        links,
        { on: b1.name, pattern: { fields: { 'ip.src': c6, 'ip.dst': b1.ipv6, 'tcp.flags': 'S' } }, count: 2 },
        'SYNs reach b1 at its IPv6 address',
      );
  },
});
