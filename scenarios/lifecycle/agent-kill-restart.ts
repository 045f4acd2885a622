// The agent is the control plane only: killed with SIGKILL (no cleanup at all) while connections
// are open, the datapath stays attached with its pinned maps and every open connection goes on;
// started again over the same pins and config file (what systemd does), it re-opens the maps
// without disturbing a flow, and new connections are balanced as before.
import { scenario } from '../../src/harness/index.ts';
import { startRounds, svc } from '../_lib.ts';

const NO_AGENT = 'sim and prog have no agent process: the controller runs inside the harness, so there is nothing to kill';

export default scenario({
  description:
    '6 TCP connections of 4 rounds; the agent killed -9 after round 1, a round with no agent, the agent restarted, 3 new connections, the last rounds: every round answered on its backend, the new connections balanced',
  backends: { sim: NO_AGENT, prog: NO_AGENT },
  services: (topo) => [svc(topo, 'tcp')],
  timeoutMs: 40_000,
  async run(ctx) {
    const { world, client, expect, observe, topo } = ctx;
    const lab = world.processes;
    if (lab === undefined) throw new Error('this World has no processes to kill (lab only)');
    const t = await startRounds(ctx, { proto: 'tcp', target: topo.vip4, count: 6, sport: 46_700, rounds: 4, payload: 100 });
    await lab.killAgent();
    await t.next();
    await lab.restartAgent();
    await t.next();
    const fresh = await client({ proto: 'tcp', target: topo.vip4, count: 3, payload: 50 });
    await t.next();
    const r = await t.report();
    expect.allConnected(r, 'every round of the open connections answered, with the agent dead and after its restart');
    expect.sameBackendPerConnection(r);
    expect.allConnected(fresh, 'new connections after the restart are answered');
    expect.spread(fresh, { roundRobin: topo.backends.map((b) => b.name) });
    expect.reasons(await observe(), { new_flow: 9 }, 'no open connection became a new flow');
  },
});
