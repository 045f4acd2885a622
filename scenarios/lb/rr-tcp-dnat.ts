// Round-robin over three backends, TCP, DNAT: every connection answered, the shares even (exact
// on one CPU), every flow's first SYN reaching its backend with only the destination rewritten.
import { backendEndpoints, scenario, SERVER_PORTS } from '../../src/harness/index.ts';

export default scenario({
  description: 'TCP DNAT, round-robin over 3 backends: 9 connections, 3 each, client address preserved, replies from the VIP',
  services: (topo) => [
    {
      name: 'echo',
      vip: topo.vip4,
      port: SERVER_PORTS.tcp,
      protocol: 'tcp',
      algorithm: 'rr',
      mode: 'dnat',
      endpoints: backendEndpoints(topo, SERVER_PORTS.tcp),
    },
  ],
  async run({ client, expect, observe, captures, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 9, payload: 100 });
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    expect.spread(r, { roundRobin: topo.backends.map((b) => b.name) });
    const obs = await observe();
    expect.reasons(obs, { new_flow: 9 });
    const c = topo.clients[0]?.ipv4 ?? '';
    for (const conn of r.results) if (conn.sport !== null) expect.ctState(obs, { clientIp: c, clientPort: conn.sport }, 'TIME_WAIT');
    const links = await captures();
    const b1 = topo.backends[0];
    if (b1 === undefined) throw new Error('the topology has no backend');
    // DNAT: the backend sees the client's own address and its real port, never the VIP.
    expect.packet(
      links,
      {
        on: b1.name,
        pattern: { fields: { 'ip.src': c, 'ip.dst': b1.ipv4, 'tcp.dport': SERVER_PORTS.tcp, 'tcp.flags': 'S' } },
        count: 3,
        nowhereElse: true,
      },
      'SYNs on b1 with the destination rewritten, the client address kept',
    );
    expect.packet(
      links,
      { on: topo.clients[0]?.name ?? 'c1', pattern: { fields: { 'ip.src': topo.vip4, 'ip.dst': c, 'tcp.flags': 'S.' } }, count: 9 },
      'every SYN-ACK reaches the client from the VIP',
    );
    expect.noPacket(
      links,
      {
        on: topo.backends.map((b) => b.name),
        pattern: { fields: { 'ip.dst': topo.vip4 } },
        sanity: { on: topo.clients.map((x) => x.name) },
      },
      'no packet reaches a backend still addressed to the VIP',
    );
  },
});
