// A SYN retransmitted after its endpoint was made inactive (docs/datapath.md, Re-selection): the
// first endpoint is an address where nothing answers (a dead backend), so the flow stays in
// SYN_SENT; once the endpoint is inactive the recorded endpoint is no longer usable, the
// half-open flow is ended and the retransmit is a new flow on a live endpoint, instead of
// waiting forever on the dead one. (Had the backend answered, SYN_RECV, the flow would keep it.)
import { flowEntries, scenario } from '../../src/harness/index.ts';
import type { ServiceInput, TopoInfo } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, phantomClient, svc } from '../_lib.ts';

const SPORT = 46_300;
const DEAD = '198.18.2.99';

function service(topo: TopoInfo, deadActive: boolean): ServiceInput {
  return svc(topo, 'tcp', {
    endpoints: [
      { ip: DEAD, port: 7000, active: deadActive },
      { ip: backend(topo, 1).ipv4, port: 7000 },
    ],
  });
}

export default scenario({
  description:
    'SYN → a dead endpoint (SYN_SENT); it is made inactive; the retransmitted SYN ends that flow and is a new flow (new_flow twice) reaching b2',
  services: (topo) => [service(topo, true)],
  async run({ world, apply, expect, observe, captures, topo }) {
    const c = client1(topo);
    const src = phantomClient(topo);
    const syn = frameToLb(topo, c.name, { ip: { src, dst: topo.vip4 }, tcp: { sport: SPORT, dport: 7000, seq: 3000, flags: 'S' } });
    await world.inject(c.name, [syn]);
    expect.ctState(await observe(), { clientIp: src, clientPort: SPORT }, 'SYN_SENT', 'nothing answered the first SYN');
    await apply([service(topo, false)]);
    await world.inject(c.name, [syn]);
    const obs = await observe();
    expect.reasons(obs, { new_flow: 2 });
    expect.equal(
      flowEntries(obs, { clientIp: src, clientPort: SPORT })[0]?.nat.dst,
      backend(topo, 1).ipv4,
      'the flow now translates to b2',
    );
    const links = await captures();
    expect.packet(
      links,
      { on: 'b2', pattern: { fields: { 'ip.src': src, 'ip.dst': backend(topo, 1).ipv4, 'tcp.flags': 'S' } }, count: 1 },
      'the retransmit reaches b2',
    );
  },
});
