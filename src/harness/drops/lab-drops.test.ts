// Root: the XDP-without-GRO case in a real lab (issue 12's done-when). A two-arm lab, the real
// agent at XDP, then GRO off and the lab's pass-through XDP program removed on every veth outside
// the LB (as a host whose veths were never set up for XDP): the LB's redirects into its veths are refused by the kernel, the client's
// connections time out, xlb's counters call the packets forwarded, and the lab World's drop
// diagnosis names the case, on the LB's interfaces, with the fix.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VIP, builtinTopology } from '../../topology/builtins.ts';
import { listStates } from '../../../lab/state.ts';
import { resolveTopology } from '../../topology/topology.ts';
import { createLabWorld } from '../lab-world.ts';
import { formatDrops } from './summary.ts';

const topology = builtinTopology('two-arm', { clients: 1, backends: 1 });

test.serial('lab (xdp): GRO off on the LB veths peers: the drop diagnosis names XDP-without-GRO on the LB', async (t) => {
  const artifactsDir = mkdtempSync(path.join(os.tmpdir(), 'xlb-drops-lab-'));
  const runId = `dgro${process.pid}`;
  const world = await createLabWorld({ backend: 'lab', hook: 'xdp', topology, seed: 1, artifactsDir, runId });
  t.teardown(async () => {
    await world.close();
    rmSync(artifactsDir, { recursive: true, force: true });
  });
  const state = listStates().states.find((s) => s.name.startsWith(`world-xdp-${runId}-`));
  if (state === undefined) return t.fail('no lab state file carries the run id');
  const resolved = resolveTopology(topology, state.id);
  const backend = resolved.nodes.find((n) => n.role === 'backend')?.ifaces[0]?.ipv4 as string;
  await world.apply([
    { name: 'web', vip: VIP.ipv4, port: 7000, protocol: 'tcp', algorithm: 'rr', mode: 'dnat', endpoints: [{ ip: backend, port: 7000 }] },
  ]);
  // every veth that is not the LB's own: node interfaces and switch ports
  const offs: [string, string][] = [];
  for (const n of resolved.nodes) if (n.role !== 'lb') for (const i of n.ifaces) offs.push([n.netns, i.ifname]);
  for (const sw of resolved.switches) for (const p of sw.ports) offs.push([sw.netns, p]);
  for (const [ns, dev] of offs) {
    execFileSync('nsenter', [`--net=/run/netns/${ns}`, 'ethtool', '-K', dev, 'gro', 'off']);
    execFileSync('nsenter', [`--net=/run/netns/${ns}`, 'ip', 'link', 'set', 'dev', dev, 'xdp', 'off']);
  }

  const report = await world.client('c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: 3, timeoutMs: 1500 });
  t.is(report.summary.ok, 0, 'no connection completes (the case reproduces)');
  const obs = await world.observe();
  t.true([...obs.fwd.values()].reduce((a, b) => a + b, 0) > 0, 'xlb counted the packets as forwarded');
  const d = world.drops?.();
  if (d === undefined) return t.fail('the lab World has no drop diagnosis');
  const text = formatDrops(d);
  t.log(text);
  const g = d.groups.find((x) => x.diagnosis?.startsWith('XDP-without-GRO') === true);
  t.truthy(g, text);
  t.is(g?.node, 'lb');
  t.true((g?.count ?? 0) >= 3, `at least every SYN (${g?.count})`);
  t.regex(g?.diagnosis ?? '', /gro on/);
});
