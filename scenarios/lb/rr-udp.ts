// A UDP service: every datagram answered by a backend through the VIP, flows spread evenly,
// conntrack following UDP_NEW → UDP_SEEN → UDP_ESTABLISHED as the client speaks again.
import { backendEndpoints, scenario, SERVER_PORTS } from '../../src/harness/index.ts';

export default scenario({
  description: 'UDP DNAT, round-robin over 3 backends: 6 flows of 2 datagrams each, every answer from the VIP, UDP states in order',
  services: (topo) => [
    {
      name: 'dns-like',
      vip: topo.vip4,
      port: SERVER_PORTS.udp,
      protocol: 'udp',
      algorithm: 'rr',
      mode: 'dnat',
      endpoints: backendEndpoints(topo, SERVER_PORTS.udp),
    },
  ],
  async run({ client, expect, observe, captures, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip4, count: 6, rounds: 2, payload: 48 });
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    expect.spread(r, { roundRobin: topo.backends.map((b) => b.name) });
    const obs = await observe();
    expect.reasons(obs, { new_flow: 6 });
    const c = topo.clients[0]?.ipv4 ?? '';
    const first = r.results[0];
    if (first?.sport != null)
      expect.ctTransitions(obs, { clientIp: c, clientPort: first.sport }, ['UDP_NEW', 'UDP_SEEN', 'UDP_ESTABLISHED']);
    const links = await captures();
    expect.packet(
      links,
      { on: topo.clients[0]?.name ?? 'c1', pattern: { fields: { 'ip.src': topo.vip4, 'udp.sport': SERVER_PORTS.udp } }, count: 12 },
      'all 12 answers reach the client from the VIP',
    );
  },
});
