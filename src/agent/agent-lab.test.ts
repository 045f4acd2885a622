// End to end (root): the real `xlb agent` inside the LB namespace of a two-arm lab, a service
// added with the real `xlb lb add` client, real TCP clients reaching real backends through the
// TC datapath, /metrics counting it; then `kill -9` of the agent with long-lived connections
// open, a restart over the pinned maps, and every connection carrying on.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { Lab } from '../../lab/lab.ts';
import type { LabProcess } from '../../lab/lab.ts';
import { startLabAgent } from '../../lab/agent-process.ts';
import type { LabAgent } from '../../lab/agent-process.ts';
import { VIP } from '../topology/builtins.ts';
import { backendNodes, runClient, startClient, startServers } from '../../lab/traffic/tools.ts';

/** Lab with servers on the backends; every interface keeps the kernel's default offloads. */
async function labWithServers(): Promise<{ lab: Lab; servers: LabProcess[] }> {
  const lab = await Lab.up('two-arm', { params: { clients: 1, backends: 3, ipv6: true } });
  const servers = await startServers(lab, backendNodes(lab));
  return { lab, servers };
}

/** The agent on both LB interfaces (TC), maps pinned in the lab's pin directory. */
function startAgent(lab: Lab): Promise<LabAgent> {
  const ifaces = [lab.iface('lb', 'clients').ifname, lab.iface('lb', 'backends').ifname];
  return startLabAgent(lab, { ifaces, hook: 'tc', extraArgs: ['--ct-entries', '65536', '--max-services', '64'] });
}

test.serial('agent in the lab: PUT, traffic, metrics, kill -9 and restart keep every connection', async (t) => {
  const { lab } = await labWithServers();
  t.teardown(() => lab.close());
  let agent = await startAgent(lab);
  const xlb = agent.xlb;
  const ifaces = [lab.iface('lb', 'clients').ifname, lab.iface('lb', 'backends').ifname];
  const backends = lab.topology.nodes.filter((n) => n.role === 'backend').map((_, i) => `198.18.2.${11 + i}`);
  const added = await xlb(
    'lb',
    'add',
    'web',
    '--vip',
    VIP.ipv4,
    '--port',
    '7000',
    '--algorithm',
    'rr',
    ...backends.flatMap((b) => ['--endpoint', `${b}:7000`]),
  );
  t.regex(added, /web: created/);

  const report = await runClient(lab, 'c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: 30, concurrency: 3 });
  t.is(report.summary.ok, 30, JSON.stringify(report.summary));
  t.deepEqual(Object.keys(report.summary.byBackend).sort(), ['b1', 'b2', 'b3']);

  // IPv6: a second service on the IPv6 VIP, same backends (fd00:18:2::11…13).
  const backends6 = backends.map((_, i) => `fd00:18:2::${11 + i}`);
  t.regex(
    await xlb(
      'lb',
      'add',
      'web6',
      '--vip',
      VIP.ipv6,
      '--port',
      '7000',
      '--algorithm',
      'maglev',
      ...backends6.flatMap((b) => ['--endpoint', `[${b}]:7000`]),
    ),
    /web6: created/,
  );
  const report6 = await runClient(lab, 'c1', { proto: 'tcp', target: VIP.ipv6, port: 7000, count: 12, concurrency: 3 });
  t.is(report6.summary.ok, 12, JSON.stringify(report6.summary));

  const metrics = await agent.client.metrics();
  const metric = (re: RegExp): number => Number(re.exec(metrics)?.[1] ?? NaN);
  const svcPackets = metric(/^xlb_service_packets_total\{service="web"\} (\d+)$/m);
  // Each connection: at least SYN, ACK, data, FIN from the client and as many replies.
  t.true(svcPackets >= 30 * 4, `xlb_service_packets_total ${svcPackets}`);
  const epPackets = backends.map((b) =>
    metric(new RegExp(`^xlb_endpoint_packets_total\\{service="web",endpoint="${b.replace(/\./g, '\\.')}:7000"\\} (\\d+)$`, 'm')),
  );
  for (const n of epPackets) t.true(n > 0, `endpoint packets ${epPackets.join(',')}`);
  t.regex(metrics, /^xlb_endpoints\{service="web",state="active"\} 3$/m);

  const before = await agent.client.listServices();
  // Long-lived connections: round 1 now, round 2 after the agent was killed and restarted.
  const held = await startClient(lab, 'c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: 12, concurrency: 12, rounds: 2 });
  await new Promise((r) => setTimeout(r, 1500));
  const flows = JSON.parse(await xlb('ct', 'ls', '--json', '--service', 'web')) as { entries: { state: string }[] };
  t.true(flows.entries.filter((f) => f.state === 'ESTABLISHED').length >= 12, JSON.stringify(flows.entries.map((f) => f.state)));
  agent.process.signal('SIGKILL');
  const exit = await agent.process.exited;
  t.is(exit.signal, 'SIGKILL');
  agent = await agent.restart();
  t.regex(agent.process.stdout(), /"created":0,"updated":0,"deleted":0,"unchanged":2/);
  t.regex(agent.process.stdout(), /re-opened the pinned datapath maps/);
  await held.next();
  const heldReport = await held.report();
  t.is(heldReport.summary.errors, 0, JSON.stringify(heldReport.results.filter((r) => r.error !== null)));
  for (const r of heldReport.results) {
    t.is(r.backends.length, 2);
    t.is(r.backends[0], r.backends[1], `connection ${r.i} moved from ${r.backends[0]} to ${r.backends[1]}`);
  }
  const after = await agent.client.listServices();
  t.deepEqual(after, before);

  // The config file holds what the API did; edit it and SIGHUP: the agent applies the edit.
  const saved = readFileSync(agent.config, 'utf8');
  t.regex(saved, /name: "web"/);
  writeFileSync(
    agent.config,
    `${saved}  - name: http\n    vip: ${VIP.ipv4}\n    port: 80\n    algorithm: maglev\n    endpoints:\n${backends.map((b) => `      - { ip: ${b}, port: 80 }\n`).join('')}`,
  );
  agent.process.signal('SIGHUP');
  const t0 = Date.now();
  while (!agent.process.stdout().includes('config reloaded') && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
  t.regex(await xlb('lb', 'ls'), /^http\s+198\.18\.100\.1\s+80\s+tcp\s+maglev\s+dnat\s+3\/3 active/m);
  const http = await runClient(lab, 'c1', { proto: 'http', target: VIP.ipv4, port: 80, count: 6 });
  t.is(http.summary.ok, 6, JSON.stringify(http.summary));

  // SIGTERM: a graceful stop leaves the programs attached and the maps pinned: traffic goes on.
  agent.process.signal('SIGTERM');
  t.deepEqual(await agent.process.exited, { code: 0, signal: null });
  t.regex(agent.process.stdout(), /stopped; programs stay attached and maps pinned/);
  const filters = (await lab.exec('lb', 'tc', ['filter', 'show', 'dev', ifaces[0] as string, 'ingress'])).stdout;
  t.regex(filters, /xlb_tc_main/);
  const without = await runClient(lab, 'c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: 6 });
  t.is(without.summary.ok, 6, 'the datapath balances while no agent runs');
});

test.serial('agent in the lab: health checks take a dead backend out within one interval and bring it back', async (t) => {
  const { lab, servers } = await labWithServers();
  t.teardown(() => lab.close());
  const agent = await startAgent(lab);
  const xlb = agent.xlb;
  t.teardown(() => agent.stop());
  const backends = ['198.18.2.11', '198.18.2.12', '198.18.2.13'];
  await xlb(
    'lb',
    'add',
    'web',
    '--vip',
    VIP.ipv4,
    '--port',
    '7000',
    '--algorithm',
    'rr',
    '--health',
    'tcp',
    '--health-interval',
    '500',
    ...backends.flatMap((b) => ['--endpoint', `${b}:7000`]),
  );
  const active = async (): Promise<boolean[]> =>
    (JSON.parse(await xlb('lb', 'ls', 'web', '--json')) as { status: { endpoints: { active: boolean }[] } }).status.endpoints.map(
      (e) => e.active,
    );
  const waitFor = async (want: boolean[], ms: number): Promise<number> => {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      if (JSON.stringify(await active()) === JSON.stringify(want)) return Date.now() - t0;
      await new Promise((r) => setTimeout(r, 100));
    }
    return -1;
  };
  t.deepEqual(await active(), [true, true, true]);
  // b3's server stops: fall (3) failed probes at 500 ms intervals, applied when the third ends.
  await (servers[2] as LabProcess).stop();
  const downAfter = await waitFor([true, true, false], 5000);
  t.true(downAfter >= 0 && downAfter <= 4 * 500 + 1000, `b3 went down after ${downAfter} ms`);
  const r = await runClient(lab, 'c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: 12 });
  t.is(r.summary.ok, 12, JSON.stringify(r.summary));
  t.deepEqual(Object.keys(r.summary.byBackend).sort(), ['b1', 'b2']);
  t.regex(agent.process.stdout(), /"service":"web","endpoint":"198\.18\.2\.13:7000","up":false.*"msg":"endpoint down"/);
  const metrics = await agent.client.metrics();
  t.regex(metrics, /^xlb_endpoint_healthy\{service="web",endpoint="198\.18\.2\.13:7000"\} 0$/m);
  t.regex(metrics, /^xlb_endpoints\{service="web",state="unhealthy"\} 1$/m);
  t.true(
    Number(/^xlb_health_checks_total\{service="web",endpoint="198\.18\.2\.13:7000",result="fail"\} (\d+)$/m.exec(metrics)?.[1]) >= 3,
    metrics,
  );
  t.true(Number(/^xlb_health_checks_total\{service="web",endpoint="198\.18\.2\.11:7000",result="ok"\} (\d+)$/m.exec(metrics)?.[1]) >= 1);
  // It comes back: rise (2) good probes.
  await startServers(lab, ['b3']);
  const upAfter = await waitFor([true, true, true], 5000);
  t.true(upAfter >= 0, 'b3 did not come back');
  const r2 = await runClient(lab, 'c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: 12 });
  t.deepEqual(Object.keys(r2.summary.byBackend).sort(), ['b1', 'b2', 'b3']);
});
