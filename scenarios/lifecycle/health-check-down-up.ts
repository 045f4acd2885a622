// Health checks (the agent's probes, docs/controller-agent.md): with a TCP check every 500 ms
// that takes an endpoint down after one failure and up after one success, b2's servers stopped
// take b2 out of the service within one interval (plus the probe's timeout): new connections all
// go to b1 and b3; b2's servers started again bring it back within one interval: new
// connections reach all three again.
import { scenario } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

const NOT_HERE =
  "health checks are the agent's probes over the lab's real network; sim and prog run the controller in the harness with no prober";
const INTERVAL_MS = 500;
const TIMEOUT_MS = 300;
/** One interval, the probe's timeout, and a margin for the agent's writing the new generation. */
const WAIT_MS = INTERVAL_MS + TIMEOUT_MS + 300;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export default scenario({
  description:
    'TCP health check every 500 ms (fall 1, rise 1): b2 stopped → gone within one interval (6 new connections on b1/b3); b2 started → back within one interval (6 new connections on all three)',
  backends: { sim: NOT_HERE, prog: NOT_HERE },
  services: (topo) => [
    svc(topo, 'tcp', { healthCheck: { type: 'tcp', intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS, rise: 1, fall: 1 } }),
  ],
  timeoutMs: 40_000,
  async run({ world, client, expect, topo }) {
    const lab = world.processes;
    if (lab === undefined) throw new Error('this World has no processes to stop (lab only)');
    const all = topo.backends.map((b) => b.name);
    await sleep(WAIT_MS);
    const before = await client({ proto: 'tcp', target: topo.vip4, count: 6, payload: 32 });
    expect.allConnected(before);
    expect.spread(before, { roundRobin: all });
    await lab.stopServers('b2');
    await sleep(WAIT_MS);
    const down = await client({ proto: 'tcp', target: topo.vip4, count: 6, payload: 32 });
    expect.allConnected(down, 'with b2 down every new connection is answered');
    expect.spread(down, { roundRobin: all.filter((b) => b !== 'b2') });
    await lab.startServers('b2');
    await sleep(WAIT_MS);
    const up = await client({ proto: 'tcp', target: topo.vip4, count: 6, payload: 32 });
    expect.allConnected(up, 'with b2 back every new connection is answered');
    expect.spread(up, { roundRobin: all });
  },
});
