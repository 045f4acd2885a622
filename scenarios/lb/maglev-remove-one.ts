// Maglev's minimal disruption: removing one of five endpoints moves the flows that were on it
// (about 1/5) and almost none of the others (the table keeps ≥ 97 % of the other positions).
// The same 200 UDP tuples are sent before and after the change, each time as new flows (the
// entries expired in between), so only the table decides.
import { scenario, twoArm } from '../../src/harness/index.ts';
import type { ServiceInput, TopoInfo } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

const N = 200;
const SPORT = 20_000;

function service(topo: TopoInfo, without?: string): ServiceInput {
  const base = svc(topo, 'udp', { algorithm: 'maglev' });
  return { ...base, endpoints: topo.backends.filter((b) => b.name !== without).map((b) => ({ ip: b.ipv4, port: 7001 })) };
}

export default scenario({
  description: 'maglev over 5 endpoints, one removed: its flows (~1/5) move, at least 97 % of the other flows keep their endpoint',
  topology: twoArm({ backends: 5 }),
  timeoutsS: { UDP_SEEN: 10 },
  services: (topo) => [service(topo)],
  async run({ client, apply, advance, expect, topo }) {
    const before = await client({ proto: 'udp', target: topo.vip4, count: N, sport: SPORT, payload: 8 });
    expect.allConnected(before);
    expect.spread(before, { uniform: topo.backends.map((b) => b.name) }, 'spread over 5 before');
    await apply([service(topo, 'b5')]);
    await advance(11);
    const after = await client({ proto: 'udp', target: topo.vip4, count: N, sport: SPORT, payload: 8 });
    expect.allConnected(after);
    const onB5 = before.results.filter((c) => c.backend === 'b5').length;
    expect.ok(onB5 >= N * 0.1 && onB5 <= N * 0.3, 'about 1/5 of the flows were on b5', `${onB5} of ${N}`);
    expect.equal(after.summary.byBackend.b5 ?? 0, 0, 'no flow reaches the removed endpoint');
    const others = before.results.filter((c) => c.backend !== 'b5');
    const kept = others.filter((c) => after.results[c.i]?.backend === c.backend).length;
    expect.ok(kept >= others.length * 0.97, 'at least 97 % of the other flows kept their endpoint', `${kept} of ${others.length} kept`);
  },
});
