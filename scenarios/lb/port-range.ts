// A port-range service: one entry serves every destination port in [5000, 5009], each rewritten
// to the endpoints' port 7001; a port just outside the range is no service of this VIP.
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { client1, svc } from '../_lib.ts';

export default scenario({
  description:
    'UDP port range 5000-5009 → endpoint port 7001: ports 5000, 5004 and 5009 are answered from the VIP at the port asked; 5010 is not a service (pass_no_service)',
  services: (topo) => [svc(topo, 'udp', { port: 5000, portEnd: 5009, endpoints: backendEndpoints(topo, 7001) })],
  async run({ client, expect, observe, captures, topo }) {
    for (const port of [5000, 5004, 5009]) {
      const r = await client({ proto: 'udp', target: topo.vip4, port, count: 2, payload: 8 });
      expect.allConnected(r, `port ${port} answered`);
    }
    const out = await client({ proto: 'udp', target: topo.vip4, port: 5010, count: 1, payload: 8, timeoutMs: 300 });
    expect.equal(out.summary.ok, 0, 'port 5010 (outside the range) is not answered');
    const obs = await observe();
    expect.reasons(obs, { new_flow: 6 });
    expect.ok(
      (obs.reasons.get('pass_no_service') ?? 0) >= 1,
      'the datagram to 5010 passed as no service',
      `pass_no_service ${obs.reasons.get('pass_no_service') ?? 0}`,
    );
    const links = await captures();
    const c = client1(topo);
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': topo.vip4, 'udp.sport': 5004 } }, count: 2 },
      'answers for 5004 come from VIP:5004',
    );
    expect.noPacket(
      links,
      { on: topo.backends.map((b) => b.name), pattern: { fields: { 'udp.dport': 5010 } }, sanity: { on: c.name } },
      'no backend sees the datagram to 5010',
    );
  },
});
