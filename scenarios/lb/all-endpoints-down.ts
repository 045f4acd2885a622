// Every endpoint inactive: the service exists but nothing can serve it. Defined behaviour: each
// new flow's packet is dropped and counted (drop_no_endpoint); nothing reaches a backend.
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { client1, svc } from '../_lib.ts';

export default scenario({
  description:
    'every endpoint inactive: 4 UDP datagrams are each dropped as drop_no_endpoint (counted in the service drops), no backend sees one',
  allowDrops: ['drop_no_endpoint'],
  services: (topo) => [svc(topo, 'udp', { endpoints: backendEndpoints(topo, 7001).map((e) => ({ ...e, active: false })) })],
  async run({ client, expect, observe, captures, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip4, count: 4, payload: 8, timeoutMs: 300 });
    expect.equal(r.summary.ok, 0, 'no datagram answered');
    const obs = await observe();
    expect.reasons(obs, { drop_no_endpoint: 4, new_flow: 0 });
    expect.equal(obs.counters.drops.get('drop_no_endpoint') ?? 0, 4, 'the drops are counted by reason');
    expect.equal(obs.conntrack.length, 0, 'no conntrack entry was created');
    const links = await captures();
    expect.noPacket(
      links,
      { on: topo.backends.map((b) => b.name), pattern: { fields: { 'udp.dport': 7001 } }, sanity: { on: client1(topo).name } },
      'no backend sees the datagrams',
    );
  },
});
