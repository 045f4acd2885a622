// Maglev when an endpoint is added: about 1/6 of the flows move, and they move to the new one
// (a flow between two old endpoints is a disruption Maglev keeps rare).
import { scenario, twoArm } from '../../src/harness/index.ts';
import type { ServiceInput, TopoInfo } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

const N = 240;
const SPORT = 21_000;

function service(topo: TopoInfo, n: number): ServiceInput {
  return { ...svc(topo, 'udp', { algorithm: 'maglev' }), endpoints: topo.backends.slice(0, n).map((b) => ({ ip: b.ipv4, port: 7001 })) };
}

export default scenario({
  description: 'maglev over 5 endpoints, a sixth added: about 1/6 of the flows move, and almost all of those to the new endpoint',
  topology: twoArm({ backends: 6 }),
  timeoutsS: { UDP_SEEN: 10 },
  services: (topo) => [service(topo, 5)],
  async run({ client, apply, advance, expect, topo }) {
    const before = await client({ proto: 'udp', target: topo.vip4, count: N, sport: SPORT, payload: 8 });
    expect.allConnected(before);
    expect.equal(before.summary.byBackend.b6 ?? 0, 0, 'b6 is not in the service yet');
    await apply([service(topo, 6)]);
    await advance(11);
    const after = await client({ proto: 'udp', target: topo.vip4, count: N, sport: SPORT, payload: 8 });
    expect.allConnected(after);
    const moved = before.results.filter((c) => after.results[c.i]?.backend !== c.backend);
    const toNew = moved.filter((c) => after.results[c.i]?.backend === 'b6').length;
    expect.ok(moved.length >= N * 0.08 && moved.length <= N * 0.3, 'about 1/6 of the flows moved', `${moved.length} of ${N} moved`);
    expect.ok(toNew >= moved.length * 0.9, 'the flows that moved went to the new endpoint', `${toNew} of ${moved.length} to b6`);
  },
});
