// Direct server return: the LB forwards the client's packets to the endpoint's MAC without
// rewriting them (the backends hold the VIP), and the backends answer the client directly, so
// the LB sees one direction only and keeps one entry per flow.
import { scenario } from '../../src/harness/index.ts';
import { builtinTopology } from '../../src/topology/builtins.ts';
import { client1, macOf, svc } from '../_lib.ts';

export default scenario({
  description: 'TCP DSR over 3 backends: 3 connections answered, the backends see the VIP as destination, one conntrack entry per flow',
  topology: builtinTopology('dsr', { clients: 1, backends: 3 }),
  services: (topo) => [svc(topo, 'tcp', { mode: 'dsr' })],
  async run({ client, expect, observe, captures, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 3, payload: 64 });
    expect.allConnected(r);
    expect.spread(r, { roundRobin: topo.backends.map((b) => b.name) });
    const obs = await observe();
    expect.equal(obs.conntrack.filter((e) => e.reply).length, 0, 'no reply entries');
    expect.equal(obs.conntrack.filter((e) => e.flags.includes('dsr')).length, 3, 'one DSR entry per flow');
    const links = await captures();
    const c = client1(topo);
    expect.packet(
      links,
      {
        on: 'b1',
        pattern: { fields: { 'eth.dst': macOf(topo, 'b1', 'backends'), 'ip.src': c.ipv4, 'ip.dst': topo.vip4, 'tcp.flags': 'S' } },
        count: 1,
        nowhereElse: false,
      },
      'b1 gets the SYN unrewritten, to the VIP',
    );
  },
});
