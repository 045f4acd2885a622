// `xlb demo`: the main job until the conformance suite exists. It brings up the default lab
// (two-arm: clients ↔ LB ↔ backends), starts the real `xlb agent` inside the LB namespace,
// programs services through the real `xlb lb add` client, sends real TCP/HTTP traffic from the
// clients to the VIPs, and shows what happened: which backend answered how often, the
// conntrack table with long-lived connections held open, and the datapath counters.
// Everything it creates carries the lab's run id and is removed on exit, failure and Ctrl-C.
// Exit 1 when any connection failed or a backend got no traffic.
import { act, command, integer, Option, runCommand } from '../src/cli-kit.ts';
import { Lab } from './lab.ts';
import { AGENT_API, startLabAgent } from './agent-process.ts';
import type { LabAgent } from './agent-process.ts';
import { VIP } from '../src/topology/builtins.ts';
import { backendNodes, runClient, startClient, startServers } from './traffic/tools.ts';
import type { ClientReport } from '../src/traffic/types.ts';
import { runChecks } from '../src/doctor.ts';

function section(title: string): void {
  console.log(`\n── ${title} ${'─'.repeat(Math.max(0, 72 - title.length))}`);
}

/** The distribution of a client's connections over backends, as a bar chart. */
export function distributionTable(report: ClientReport, backends: string[]): string {
  const total = report.summary.count;
  const lines = [`${'backend'.padEnd(8)} ${'conns'.padStart(6)} ${'share'.padStart(7)}`];
  for (const b of backends) {
    const n = report.summary.byBackend[b] ?? 0;
    const share = total > 0 ? n / total : 0;
    lines.push(`${b.padEnd(8)} ${String(n).padStart(6)} ${(share * 100).toFixed(1).padStart(6)}%  ${'█'.repeat(Math.round(share * 40))}`);
  }
  lines.push(`${'errors'.padEnd(8)} ${String(report.summary.errors).padStart(6)}`);
  return lines.join('\n');
}

const ALGORITHMS = ['rr', 'wrr', 'hash', 'maglev', 'lc', 'random'] as const;

interface Opts {
  hook: 'tc' | 'xdp';
  backends: number;
  connections: number;
  algorithm: (typeof ALGORITHMS)[number];
}

export async function main(argv: string[]): Promise<number> {
  const cmd = command(
    'demo',
    `Brings up the two-arm lab (1 client, N backends, dual stack), starts the xlb agent in the LB namespace, adds a TCP service on ${VIP.ipv4}:7000 and an HTTP service on [${VIP.ipv6}]:80, sends real traffic and prints the distribution, the conntrack table and the counters. Exit 1 when a connection failed or a backend got no traffic.`,
  )
    .addOption(
      new Option(
        '--hook <hook>',
        "attach point; with xdp the senders' tx checksum offload is turned off (XDP cannot see partial checksums, docs/datapath.md)",
      )
        .choices(['tc', 'xdp'])
        .default('tc'),
    )
    .addOption(new Option('--backends <n>', 'backends (1 to 8)').argParser(integer(1, 8)).default(3))
    .addOption(new Option('--connections <n>', 'TCP connections to the IPv4 service (1 to 5000)').argParser(integer(1, 5000)).default(300))
    .addOption(new Option('--algorithm <algo>', 'algorithm of both services').choices(ALGORITHMS).default('maglev'));
  act(cmd, () => run(cmd.opts<Opts>()));
  return runCommand(cmd, argv);
}

async function run(o: Opts): Promise<number> {
  const { hook, algorithm } = o;
  const nBackends = o.backends;
  const connections = o.connections;
  const problems: string[] = [];

  section('machine (xlb doctor)');
  const doctor = runChecks();
  for (const b of doctor.backends)
    console.log(`  ${b.backend.padEnd(5)} ${b.usable ? 'can run here' : `cannot run: ${b.blockers.join(', ')}`}`);
  if (doctor.backends.find((b) => b.backend === 'lab')?.usable !== true) {
    console.error('xlb demo: the lab cannot run on this machine; `xlb doctor` says why.');
    return 1;
  }

  section(`lab: two-arm, 1 client, ${nBackends} backends, dual stack`);
  // XDP cannot fix up a CHECKSUM_PARTIAL packet it redirects between veths: senders need tx
  // checksum offload off with the XDP hook. TC handles both, so the demo keeps the default on.
  const lab = await Lab.up('two-arm', { params: { clients: 1, backends: nBackends, ipv6: true, offload: hook === 'tc' } });
  let agent: LabAgent | undefined;
  try {
    console.log(lab.diagram());
    const backends = backendNodes(lab);
    await startServers(lab, backends);
    // XDP_REDIRECT into a veth is delivered only when the peer runs XDP or has GRO on.
    // XDP_TX back out of an interface needs an XDP program on its peer (bpf/lab_peer.bpf.c).
    if (hook === 'xdp') await Promise.all([lab.setGro(true), lab.attachPeerXdp('lb')]);

    const ifaces = [lab.iface('lb', 'clients').ifname, lab.iface('lb', 'backends').ifname];
    section(`agent in the LB namespace (${hook} on ${ifaces.join(', ')})`);
    agent = await startLabAgent(lab, { ifaces, hook: hook === 'xdp' ? 'xdp' : 'tc' });
    console.log(`agent pid ${agent.process.pid}, REST API on ${AGENT_API} inside ${lab.netns('lb')}, maps pinned in ${agent.pinDir}`);
    const xlb = agent.xlb;
    const v4 = backends.map((b) => lab.iface(b, 'backends').ipv4);
    const v6 = backends.map((b) => lab.iface(b, 'backends').ipv6);
    console.log(`$ xlb lb add tcp4 --vip ${VIP.ipv4} --port 7000 --algorithm ${algorithm} ...`);
    console.log(
      await xlb(
        'lb',
        'add',
        'tcp4',
        '--vip',
        VIP.ipv4,
        '--port',
        '7000',
        '--algorithm',
        algorithm,
        ...v4.flatMap((a) => ['--endpoint', `${a}:7000`]),
      ),
    );
    console.log(`$ xlb lb add http6 --vip ${VIP.ipv6} --port 80 --algorithm ${algorithm} ...`);
    console.log(
      await xlb(
        'lb',
        'add',
        'http6',
        '--vip',
        VIP.ipv6,
        '--port',
        '80',
        '--algorithm',
        algorithm,
        ...v6.flatMap((a) => ['--endpoint', `[${a}]:80`]),
      ),
    );
    console.log('$ xlb lb ls');
    console.log(await xlb('lb', 'ls'));

    section(`traffic: ${connections} TCP connections from c1 to ${VIP.ipv4}:7000 (10 at a time)`);
    const tcp = await runClient(lab, 'c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: connections, concurrency: 10 });
    console.log(distributionTable(tcp, backends));

    const httpCount = Math.min(60, connections);
    section(`traffic: ${httpCount} HTTP requests from c1 to [${VIP.ipv6}]:80 (new connection each)`);
    const http = await runClient(lab, 'c1', {
      proto: 'http',
      target: VIP.ipv6,
      port: 80,
      count: httpCount,
      concurrency: 5,
      keepAlive: false,
    });
    console.log(distributionTable(http, backends));

    section('conntrack: 6 long-lived connections held open (xlb ct ls --service tcp4 --state ESTABLISHED)');
    const held = await startClient(lab, 'c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: 6, concurrency: 6, rounds: 2 });
    await new Promise((r) => setTimeout(r, 1500));
    console.log(await xlb('ct', 'ls', '--service', 'tcp4', '--state', 'ESTABLISHED', '--limit', '20'));
    await held.next();
    const heldReport = await held.report();

    section('datapath counters (xlb stats)');
    console.log(await xlb('stats'));

    for (const [what, r] of [
      ['tcp4', tcp],
      ['http6', http],
      ['held', heldReport],
    ] as const) {
      if (r.summary.errors > 0) {
        const first = r.results.find((c) => c.error !== null);
        problems.push(`${what}: ${r.summary.errors} of ${r.summary.count} connections failed (first: ${first?.error ?? '?'})`);
      }
    }
    for (const b of backends) {
      if ((tcp.summary.byBackend[b] ?? 0) === 0) problems.push(`backend ${b} got none of the ${connections} TCP connections`);
    }
    section('result');
    if (problems.length > 0) {
      for (const p of problems) console.log(`FAIL  ${p}`);
    } else {
      console.log(
        `ok    ${tcp.summary.ok + http.summary.ok + heldReport.summary.ok} connections balanced over ${backends.length} backends, none failed`,
      );
    }
    return problems.length > 0 ? 1 : 0;
  } finally {
    await agent?.stop();
    await lab.close();
  }
}
