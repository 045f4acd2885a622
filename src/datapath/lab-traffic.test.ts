// The datapath attached in a two-arm lab (names xlb-<id>-*), real kernel TCP stacks on both
// sides, traffic through the VIP:
// - TC with non-linear skbs: a veth peer's TCP stack with scatter-gather and TSO on (the kernel
//   default) hands the LB skbs whose payload sits in page frags beyond data_end. The datapath
//   must read the headers (pulling them when needed) and check IP lengths against the whole
//   packet, not against the linear part.
// - XDP with three backends behind a bridge: redirected frames reach the backends only when the
//   receiving veths have GRO on (Lab.setGro); senders have tx checksum offload off, which XDP
//   requires (it cannot complete a partial checksum).
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { ifindex, inNetns } from '../bpf/index.ts';
import { Lab } from '../../lab/lab.ts';
import { VIP } from '../topology/builtins.ts';
import { backendNodes, runClient, startServers } from '../../lab/traffic/tools.ts';
import type { ClientReport } from '../traffic/types.ts';
import type { Hook } from './loader.ts';
import { openHarness } from './prog-run.ts';
import type { Harness } from './prog-run.ts';

interface LabRun {
  lab: Lab;
  h: Harness;
  report: ClientReport;
}

async function balanceInLab(t: ExecutionContext, hook: Hook, backends: number, payload: number, count: number): Promise<LabRun> {
  const lab = await Lab.up('two-arm', { params: { clients: 1, backends, ipv6: false, offload: hook === 'tc' } });
  t.teardown(() => lab.close());
  const nodes = backendNodes(lab);
  await startServers(lab, nodes);
  if (hook === 'xdp') await lab.setGro(true);
  const h = openHarness(hook, { config: { flags: 0, fib_table: 0 } });
  const lbIfs = [lab.iface('lb', 'clients').ifname, lab.iface('lb', 'backends').ifname];
  t.teardown(() => {
    try {
      inNetns(lab.netns('lb'), () => lbIfs.forEach((i) => h.dp.detach(ifindex(i))));
    } catch {
      // the lab may already be gone
    }
    h.close();
  });
  h.service({
    id: 1,
    vip: VIP.ipv4,
    port: 7000,
    endpoints: nodes.map((n) => ({ ip: lab.iface(n, 'backends').ipv4 as string, port: 7000 })),
  });
  inNetns(lab.netns('lb'), () => lbIfs.forEach((i) => h.dp.attach(ifindex(i))));
  const report = await runClient(lab, 'c1', {
    proto: 'tcp',
    target: VIP.ipv4,
    port: 7000,
    count,
    payload,
    concurrency: 10,
    timeoutMs: 5_000,
  });
  return { lab, h, report };
}

test('tc: TCP with payload in page frags (SG/TSO on) is balanced, nothing counted malformed', async (t) => {
  const { lab, h, report } = await balanceInLab(t, 'tc', 1, 60_000, 4);
  const features = (await lab.exec('c1', 'ethtool', ['-k', lab.iface('c1', 'clients').ifname])).stdout;
  t.regex(features, /scatter-gather: on/, 'the client sends with scatter-gather on');
  t.is(report.summary.ok, 4, JSON.stringify(report.results.map((r) => r.error)));
  for (const r of report.results) t.true(r.bytesReceived >= 60_000, `connection ${r.i} got ${r.bytesReceived} bytes back`);
  const reasons = h.reasons();
  t.is(reasons.drop_malformed, 0n);
  t.is(reasons.new_flow, 4n);
});

test('xdp: connections through a bridged backend segment are balanced over every backend', async (t) => {
  const { h, report } = await balanceInLab(t, 'xdp', 3, 2000, 30);
  t.is(report.summary.ok, 30, JSON.stringify(report.results.map((r) => r.error)));
  t.deepEqual(Object.keys(report.summary.byBackend).sort(), ['b1', 'b2', 'b3']);
  const reasons = h.reasons();
  t.is(reasons.new_flow, 30n);
  t.true(reasons.fast_path > 0n, 'established packets take the fast path');
});
