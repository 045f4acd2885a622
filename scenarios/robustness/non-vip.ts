// Traffic that is not for a VIP goes through the LB as through a router: untouched by the
// datapath (pass_no_service), no conntrack entry, and the host answers with its own address.
// b2 is not an endpoint of the service (so its own address reaching the client is no leak).
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, svc } from '../_lib.ts';

export default scenario({
  description:
    'UDP from the client straight to b2 (not a VIP): pass_no_service both ways, no entry, b2 sees the client, the client sees b2',
  services: (topo) => [svc(topo, 'udp', { endpoints: [backend(topo, 0), backend(topo, 2)].map((b) => ({ ip: b.ipv4, port: 7001 })) })],
  async run({ client, expect, observe, captures, topo }) {
    const b2 = backend(topo, 1);
    const c = client1(topo);
    const r = await client({ proto: 'udp', target: b2.ipv4, count: 2, payload: 20 });
    expect.allConnected(r);
    expect.spread(r, { exact: { b2: 2 } });
    const obs = await observe();
    expect.reasons(obs, { pass_no_service: 4, new_flow: 0 });
    expect.equal(obs.conntrack.length, 0, 'no conntrack entry');
    const links = await captures();
    expect.packet(
      links,
      {
        on: b2.name,
        pattern: { fields: { 'ip.src': c.ipv4, 'ip.dst': b2.ipv4, 'udp.dport': 7001, 'payload.length': 20 } },
        count: 2,
        nowhereElse: false,
      },
      'b2 gets the datagrams addressed to it',
    );
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': b2.ipv4, 'ip.dst': c.ipv4 } }, count: 2, nowhereElse: false },
      'the answers come from b2 itself',
    );
  },
});
