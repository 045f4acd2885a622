// TC with non-linear skbs: a veth peer's TCP stack with scatter-gather and TSO on (the kernel
// default) hands the LB skbs whose payload sits in page frags beyond data_end. The datapath
// must read the headers (pulling them when needed) and check IP lengths against the whole
// packet, not against the linear part. Real traffic in a two-arm lab (names xlb-<id>-*),
// large echoed payloads through the VIP, offload left at its defaults on every sender.
import test from 'ava';
import { ifindex, inNetns } from '../bpf/index.ts';
import { Lab } from '../../lab/lab.ts';
import { VIP } from '../../lab/builtins.ts';
import { runClient, startServers } from '../../lab/traffic/tools.ts';
import { openHarness } from './test-support.ts';

test('tc: TCP with payload in page frags (SG/TSO on) is balanced, nothing counted malformed', async (t) => {
  const lab = await Lab.up('two-arm', { params: { clients: 1, backends: 1, ipv6: false } });
  t.teardown(() => lab.close());
  await startServers(lab, ['b1']);
  const features = (await lab.exec('c1', 'ethtool', ['-k', lab.iface('c1', 'clients').ifname])).stdout;
  t.regex(features, /scatter-gather: on/, 'the client sends with scatter-gather on');

  const h = openHarness('tc', { config: { flags: 0, fib_table: 0 } });
  const lbIfs = [lab.iface('lb', 'clients').ifname, lab.iface('lb', 'backends').ifname];
  t.teardown(() => {
    try {
      inNetns(lab.netns('lb'), () => lbIfs.forEach((i) => h.dp.detach(ifindex(i))));
    } catch {
      // the lab may already be gone
    }
    h.close();
  });
  h.service({ id: 1, vip: VIP.ipv4, port: 7000, endpoints: [{ ip: lab.iface('b1', 'backends').ipv4 as string, port: 7000 }] });
  inNetns(lab.netns('lb'), () => lbIfs.forEach((i) => h.dp.attach(ifindex(i))));

  const report = await runClient(lab, 'c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: 4, payload: 60_000, timeoutMs: 10_000 });
  t.is(report.summary.ok, 4, JSON.stringify(report.results.map((r) => r.error)));
  for (const r of report.results) t.true(r.bytesReceived >= 60_000, `connection ${r.i} got ${r.bytesReceived} bytes back`);
  const reasons = h.reasons();
  t.is(reasons.DROP_MALFORMED, 0n);
  t.is(reasons.NEW_FLOW, 4n);
});
