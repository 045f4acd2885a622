// Many services on one LB: 60 UDP services on one VIP (ports 6000-6059), service k balanced to
// the single backend k mod 3. Each answer must come from its own service's backend: service
// lookup by (VIP, port) never mixes them up. 60, not the 100: sim/prog and the lab's agent
// are opened with room for 64 service ids.
import { scenario } from '../../src/harness/index.ts';
import type { TopoInfo } from '../../src/harness/index.ts';

const N = 60;

function services(topo: TopoInfo) {
  return Array.from({ length: N }, (_, k) => {
    const b = topo.backends[k % topo.backends.length];
    return {
      name: `svc${k}`,
      vip: topo.vip4,
      port: 6000 + k,
      protocol: 'udp' as const,
      algorithm: 'rr' as const,
      mode: 'dnat' as const,
      endpoints: [{ ip: b?.ipv4 ?? '', port: 7001 }],
    };
  });
}

export default scenario({
  description: '60 UDP services on one VIP (ports 6000-6059), each with its own backend: every service answered by exactly its backend',
  services,
  // 60 queries one after another take 20-40 s on a lab under CI load: with the default UDP_SEEN
  // timeout (30 s) the agent's sweep collected the first flows before the observation (final
  // states 52 vs prog's 60 in one CI run). What is checked here is service lookup, not expiry.
  timeoutsS: { UDP_SEEN: 600 },
  async run({ client, expect, observe, topo }) {
    const wrong: string[] = [];
    for (let k = 0; k < N; k++) {
      // Distinct source ports: under DNAT two services on one endpoint:port share reply tuples
      // (nat/dnat-reply-collision.ts), which a random ephemeral port would hit now and then.
      const r = await client({ proto: 'udp', target: topo.vip4, port: 6000 + k, count: 1, sport: 48_000 + k, payload: 4 });
      const want = topo.backends[k % topo.backends.length]?.name;
      if (r.results[0]?.backend !== want) wrong.push(`port ${6000 + k}: ${r.results[0]?.backend ?? 'no answer'} (want ${want ?? '?'})`);
    }
    expect.equal(wrong, [], 'every service answered by its own backend');
    expect.reasons(await observe(), { new_flow: N });
  },
});
