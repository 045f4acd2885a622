// Root tests: every built-in topology comes up, every node reaches what it should and nothing
// else, and no node has a route out of the lab. (No packet is ever sent outside the lab: the
// "no route out" checks use `ip route get`, which sends nothing.)
import { existsSync } from 'node:fs';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { Lab } from './lab.ts';
import { readState } from './state.ts';
import { builtinTopology } from '../src/topology/builtins.ts';
import { addrs, links, neighbours, offloadFeatures, routeGet, routes, tcFilters } from './observe.ts';
import { labNetnsNames } from './sweep.ts';

async function pings(lab: Lab, node: string, targets: string[]): Promise<Record<string, boolean>> {
  const res = await Promise.all(targets.map((a) => lab.exec(node, 'ping', ['-c1', '-W1', '-n', a], { reject: false })));
  return Object.fromEntries(targets.map((a, i) => [a, res[i]?.exitCode === 0]));
}

/** No default route in any family, nothing but lo and the declared interfaces, in every node. */
async function noWayOut(t: ExecutionContext, lab: Lab): Promise<void> {
  for (const n of lab.topology.nodes) {
    t.is(await routeGet(lab, n.name, '8.8.8.8'), null, `${n.name}: route to 8.8.8.8`);
    t.is(await routeGet(lab, n.name, '2001:4860:4860::8888'), null, `${n.name}: route to 2001:4860:4860::8888`);
    t.is(await routeGet(lab, n.name, '198.20.0.1'), null, `${n.name}: route just outside 198.18.0.0/15`);
    const names = (await links(lab, n.name)).map((l) => l.ifname).sort();
    t.deepEqual(names, ['lo', ...n.ifaces.map((i) => i.ifname)].sort(), `${n.name}: interfaces`);
  }
}

test('two-arm: client reaches lb and backends through it, backends reach clients, nothing leaves', async (t) => {
  const lab = await Lab.up('two-arm', { params: { clients: 1, backends: 3 } });
  try {
    const st = readState(lab.name);
    t.is(st?.status, 'up');
    t.is(st?.owner?.pid, process.pid);
    const c1 = await pings(lab, 'c1', [
      '198.18.1.1',
      '198.18.2.1',
      '198.18.2.11',
      '198.18.2.12',
      '198.18.2.13',
      'fd00:18:1::1',
      'fd00:18:2::13',
    ]);
    t.true(Object.values(c1).every(Boolean), JSON.stringify(c1));
    const b2 = await pings(lab, 'b2', ['198.18.2.1', '198.18.2.11', '198.18.1.11', 'fd00:18:1::11']);
    t.true(Object.values(b2).every(Boolean), JSON.stringify(b2));
    // The VIP prefix is routed to the LB from the client (the LB itself has no VIP: nothing answers).
    t.is((await routeGet(lab, 'c1', '198.18.100.7'))?.gateway, '198.18.1.1');
    t.is((await routeGet(lab, 'c1', 'fd00:18:100::7'))?.gateway, 'fd00:18:1::1');
    t.is((await routeGet(lab, 'b1', '198.18.1.11'))?.gateway, '198.18.2.1');
    // The LB forwards and has no route beyond its two segments.
    t.is((await lab.exec('lb', 'sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim(), '1');
    await noWayOut(t, lab);
  } finally {
    await lab.close();
  }
  t.false(existsSync(`/run/netns/${lab.netns('lb')}`));
  t.is(readState(lab.name), undefined);
});

test('one-arm: everyone on one segment, VIP routed to the lb', async (t) => {
  const lab = await Lab.up('one-arm', { params: { clients: 2, backends: 2 } });
  try {
    const c1 = await pings(lab, 'c1', ['198.18.1.1', '198.18.1.12', '198.18.1.101', '198.18.1.102', 'fd00:18:1::102']);
    t.true(Object.values(c1).every(Boolean), JSON.stringify(c1));
    t.is((await routeGet(lab, 'c2', '198.18.100.1'))?.gateway, '198.18.1.1');
    // Backends have no route for the VIPs or any other lab prefix: only their own segment.
    t.is(await routeGet(lab, 'b1', '198.18.100.1'), null);
    t.is(await routeGet(lab, 'b1', '198.18.2.11'), null);
    await noWayOut(t, lab);
  } finally {
    await lab.close();
  }
});

test('dsr: backends own the VIPs without answering ARP for them; replies go via the router', async (t) => {
  const lab = await Lab.up('dsr', { params: { clients: 1, backends: 2 } });
  try {
    const c1 = await pings(lab, 'c1', ['198.18.1.1', '198.18.1.2', '198.18.2.11', 'fd00:18:2::12']);
    t.true(Object.values(c1).every(Boolean), JSON.stringify(c1));
    t.is((await routeGet(lab, 'c1', '198.18.100.1'))?.gateway, '198.18.1.1', 'VIP via the lb');
    t.is((await routeGet(lab, 'c1', '198.18.2.11'))?.gateway, '198.18.1.2', 'backends via the router');
    t.is((await routeGet(lab, 'b1', '198.18.1.11'))?.gateway, '198.18.2.2', 'replies via the router');
    t.is((await routeGet(lab, 'b1', '198.18.100.9'))?.type, 'local');
    t.is((await routeGet(lab, 'b2', 'fd00:18:100::9'))?.type, 'local');
    // arp_ignore: the LB asking "who has 198.18.100.1" on the backend segment gets no answer.
    await lab.exec('lb', 'ip', ['route', 'add', '198.18.100.1/32', 'dev', lab.iface('lb', 'backends').ifname]);
    t.false((await pings(lab, 'lb', ['198.18.100.1']))['198.18.100.1'], 'a backend answered ARP for the VIP');
    await noWayOut(t, lab);
  } finally {
    await lab.close();
  }
});

test('two labs side by side; close is idempotent; single stack and offload off', async (t) => {
  const [a, b] = await Promise.all([
    Lab.up('two-arm', { params: { backends: 1 } }),
    Lab.up('two-arm', { params: { backends: 2, ipv6: false, offload: false } }),
  ]);
  try {
    t.not(a.id, b.id);
    // Same addresses, separate worlds.
    t.true((await pings(a, 'c1', ['198.18.2.11']))['198.18.2.11']);
    t.true((await pings(b, 'c1', ['198.18.2.12']))['198.18.2.12']);
    t.false((await pings(a, 'c1', ['198.18.2.12']))['198.18.2.12'], 'lab a has no b2');
    t.is(await routeGet(b, 'c1', 'fd00:18:2::11'), null, 'lab b is IPv4 only');
    const feat = await b.exec('c1', 'ethtool', ['-k', b.iface('c1').ifname]);
    t.regex(feat.stdout, /tx-checksumming: off/);
    const featA = await a.exec('c1', 'ethtool', ['-k', a.iface('c1').ifname]);
    t.regex(featA.stdout, /tx-checksumming: on/);
    await a.setOffload('c1', undefined, false);
    t.regex((await a.exec('c1', 'ethtool', ['-k', a.iface('c1').ifname])).stdout, /tx-checksumming: off/);
    t.false(a.iface('c1').offload);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  await a.close();
  t.false(existsSync(`/run/netns/${a.netns('c1')}`));
  t.false(existsSync(`/run/netns/${b.netns('c1')}`));
});

test('spawn: a long-running process in a node sees bpffs and is killed on close', async (t) => {
  const lab = await Lab.up('two-arm', { params: { backends: 1 } });
  let pid = 0;
  try {
    const p = await lab.spawn('lb', 'sh', ['-c', 'ls -d /sys/fs/bpf >/dev/null && echo ready; ip -br link; sleep 600'], { ready: /ready/ });
    pid = p.pid;
    t.true(p.stdout().includes(lab.iface('lb', 'backends').ifname), 'runs in the lb namespace');
    const st = readState(lab.name);
    t.true(st?.processes.some((x) => x.pid === pid));
    const one = await lab.exec('lb', 'sh', ['-c', 'exit 3'], { reject: false });
    t.is(one.exitCode, 3);
    await t.throwsAsync(lab.exec('lb', 'false'), { message: /exited with 1/ });
  } finally {
    await lab.close();
  }
  t.false(existsSync(`/proc/${pid}`), 'process gone after close');
});

test('a bring-up that fails half-way removes what it made and says why', async (t) => {
  // Valid on paper (the gateway is on a lab segment), impossible for c1: it is not on that segment.
  const spec = builtinTopology('two-arm', { backends: 1, ipv6: false });
  spec.nodes.find((n) => n.name === 'c1')?.routes?.push({ to: '198.18.50.0/24', via: '198.18.2.99' });
  const e = await t.throwsAsync(Lab.up(spec, { name: `failing-${process.pid}` }));
  t.regex(e?.message ?? '', /failed to come up and was removed: setting up xlb-[0-9a-z]{5}-c1: .*(gateway|Nexthop)/i);
  const id = /xlb-([0-9a-z]{5})-c1/.exec(e?.message ?? '')?.[1] ?? '?';
  t.deepEqual(
    labNetnsNames().filter((n) => n.startsWith(`xlb-${id}-`)),
    [],
  );
  t.is(readState(`failing-${process.pid}`), undefined);
});

test('observation helpers read addresses, routes, neighbours, tc filters and offload features', async (t) => {
  const lab = await Lab.up('two-arm', { params: { backends: 1, staticNeighbours: true } });
  try {
    const lbIf = lab.iface('lb', 'clients').ifname;
    const a = await addrs(lab, 'lb');
    t.true(a.some((x) => x.ifname === lbIf && x.addr_info.some((i) => i.local === '198.18.1.1' && i.prefixlen === 24)));
    t.true(a.some((x) => x.ifname === lbIf && x.addr_info.some((i) => i.local === 'fd00:18:1::1')));
    t.true((await routes(lab, 'c1')).some((r) => r.dst === '198.18.100.0/24' && r.gateway === '198.18.1.1'));
    t.true((await routes(lab, 'c1', 6)).some((r) => r.dst === 'fd00:18:100::/64'));
    t.true(
      (await neighbours(lab, 'c1')).some(
        (n) => n.dst === '198.18.1.1' && n.lladdr === lab.iface('lb', 'clients').mac && n.state.includes('PERMANENT'),
      ),
    );
    t.deepEqual(await tcFilters(lab, 'lb', lbIf, 'ingress'), []);
    await lab.exec('lb', 'tc', ['qdisc', 'add', 'dev', lbIf, 'clsact']);
    // u32 without an action: available on any kernel with clsact (matchall/gact may be modules).
    await lab.exec('lb', 'tc', ['filter', 'add', 'dev', lbIf, 'ingress', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0']);
    const f = (await tcFilters(lab, 'lb', lbIf, 'ingress')) as { kind?: string }[];
    t.true(
      f.some((x) => x.kind === 'u32'),
      JSON.stringify(f),
    );
    const feat = await offloadFeatures(lab, 'lb', lbIf);
    t.is(feat['tx-checksumming'], true);
    t.is((await links(lab, 'lb')).find((l) => l.ifname === lbIf)?.ifalias, 'clients');
  } finally {
    await lab.close();
  }
});
