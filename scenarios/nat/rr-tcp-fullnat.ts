// Full NAT: the backend sees the LB's own address as the source (SNAT), the client sees only
// the VIP; both rewrites undone on the way back, checksums valid everywhere.
import { backendEndpoints, scenario, SERVER_PORTS } from '../../src/harness/index.ts';

export default scenario({
  description: 'TCP full NAT, round-robin over 3 backends: the backends see the SNAT address, the client only the VIP',
  services: (topo) => [
    {
      name: 'echo',
      vip: topo.vip4,
      port: SERVER_PORTS.tcp,
      protocol: 'tcp',
      algorithm: 'rr',
      mode: 'fullnat',
      endpoints: backendEndpoints(topo, SERVER_PORTS.tcp),
    },
  ],
  async run({ client, expect, observe, captures, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 6, payload: 200 });
    expect.allConnected(r);
    expect.spread(r, { roundRobin: topo.backends.map((b) => b.name) });
    const obs = await observe();
    expect.reasons(obs, { new_flow: 6 });
    const links = await captures();
    const client4 = topo.clients[0]?.ipv4 ?? '';
    const snat = topo.lb.segments.find((s) => s.segment === 'backends')?.ipv4 ?? '';
    for (const b of topo.backends) {
      expect.packet(
        links,
        {
          on: b.name,
          pattern: { fields: { 'ip.src': snat, 'ip.dst': b.ipv4, 'tcp.dport': SERVER_PORTS.tcp, 'tcp.flags': 'S' } },
          count: 2,
        },
        `SYNs on ${b.name} come from the SNAT address ${snat}`,
      );
    }
    expect.noPacket(
      links,
      { on: topo.backends.map((b) => b.name), pattern: { fields: { 'ip.src': client4 } }, sanity: { on: topo.clients.map((c) => c.name) } },
      'no backend ever sees the client address',
    );
    expect.packet(
      links,
      {
        on: topo.clients[0]?.name ?? 'c1',
        pattern: { fields: { 'ip.src': topo.vip4, 'ip.dst': client4, 'tcp.sport': SERVER_PORTS.tcp, 'tcp.flags': 'S.' } },
        count: 6,
      },
      'SYN-ACKs reach the client from the VIP, its own port restored',
    );
  },
});
