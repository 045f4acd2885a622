// An ICMP error from a backend about a balanced flow (dnat): the endpoint port is closed, so
// the backend answers the datagram with port unreachable, quoting the translated packet. The LB
// finds the flow from the quote and translates the error both outside and inside, so the client
// gets it from the VIP, quoting the datagram it really sent (client → VIP:7001), and its socket
// can report ECONNREFUSED.
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { client1, svc } from '../_lib.ts';

export default scenario({
  description:
    'UDP dnat to a closed endpoint port: the backend port-unreachable reaches the client from the VIP, quoting client → VIP:7001, checksums valid (icmp_error)',
  services: (topo) => [svc(topo, 'udp', { mode: 'dnat', endpoints: backendEndpoints(topo, 7999) })],
  async run({ client, expect, observe, captures, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip4, count: 1, sport: 44_000, payload: 8, timeoutMs: 500 });
    expect.equal(r.summary.ok, 0, 'no answer (the port is closed)');
    const obs = await observe();
    expect.ok(
      (obs.reasons.get('icmp_error') ?? 0) >= 1,
      'the error was translated as icmp_error',
      `icmp_error ${obs.reasons.get('icmp_error') ?? 0}`,
    );
    const c = client1(topo);
    const links = await captures();
    expect.packet(
      links,
      {
        on: c.name,
        pattern: {
          fields: {
            'ip.src': topo.vip4,
            'ip.dst': c.ipv4,
            'icmp.type': 'dest-unreachable',
            'icmp.code': 3,
            'inner.ip.src': c.ipv4,
            'inner.ip.dst': topo.vip4,
            'inner.sport': 44_000,
            'inner.dport': 7001,
            checksums: 'ok',
          },
        },
      },
      'the client gets the error about its own datagram, from the VIP',
    );
  },
});
