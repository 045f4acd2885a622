import test from 'ava';
import { hostAddress, parsePrefix, contains } from '../src/topology/addr.ts';
import { BUILTINS, builtinTopology } from '../src/topology/builtins.ts';
import { renderDiagram } from './diagram.ts';
import { planUp } from './plan.ts';
import { resolveTopology, validateTopology } from '../src/topology/topology.ts';
import type { TopologySpec } from '../src/topology/topology.ts';
import { idOfIfname, idOfNetns, newRunId } from '../src/topology/naming.ts';

test('host addresses read alike in both families', (t) => {
  t.is(hostAddress(parsePrefix('198.18.1.0/24'), 11), '198.18.1.11');
  t.is(hostAddress(parsePrefix('fd00:18:1::/64'), 11), 'fd00:18:1::11');
  t.is(hostAddress(parsePrefix('fd00:18:2::/64'), 101), 'fd00:18:2::101');
  t.throws(() => hostAddress(parsePrefix('198.18.1.0/30'), 3), { message: /does not fit/ });
  t.true(contains(parsePrefix('198.18.0.0/15'), '198.19.255.1'));
  t.false(contains(parsePrefix('198.18.0.0/15'), '198.20.0.1'));
  t.true(contains(parsePrefix('fd00::/8'), 'fd00:18:100::1'));
});

test('run ids are 5 base36 chars and names carry them', (t) => {
  const id = newRunId();
  t.regex(id, /^[a-z][0-9a-z]{4}$/);
  const r = resolveTopology(builtinTopology('two-arm'), id);
  for (const n of r.nodes) {
    t.is(idOfNetns(n.netns), id);
    for (const i of n.ifaces) {
      t.true(i.ifname.length <= 15, i.ifname);
      t.is(idOfIfname(i.ifname), id);
    }
  }
  for (const l of r.links) for (const end of [l.a, l.b]) t.true(end.ifname.length <= 15 && idOfIfname(end.ifname) === id, end.ifname);
});

test('every built-in resolves at its maximum size with names of at most 15 chars', (t) => {
  for (const b of Object.values(BUILTINS)) {
    const r = resolveTopology(builtinTopology(b.name, { clients: b.maxClients, backends: b.maxBackends }), 'zzzzz');
    const names = r.links.flatMap((l) => [l.a.ifname, l.b.ifname]);
    t.true(
      names.every((n) => n.length <= 15),
      b.name,
    );
    t.is(new Set(names).size, names.length, `${b.name}: interface names are unique`);
    const macs = r.nodes.flatMap((n) => n.ifaces.map((i) => `${i.segment}/${i.mac}`));
    t.is(new Set(macs).size, macs.length, `${b.name}: MACs are unique per segment`);
  }
});

test('two-arm: addresses, VIP routes to the LB, no default route anywhere', (t) => {
  const r = resolveTopology(builtinTopology('two-arm', { clients: 2, backends: 3 }), 'abcde');
  t.deepEqual(
    r.nodes.map((n) => n.name),
    ['lb', 'c1', 'c2', 'b1', 'b2', 'b3'],
  );
  const c2 = r.nodes.find((n) => n.name === 'c2');
  t.is(c2?.ifaces[0]?.ipv4, '198.18.1.12');
  t.is(c2?.ifaces[0]?.ipv6, 'fd00:18:1::12');
  t.true(c2?.routes.some((x) => x.to === '198.18.100.0/24' && x.via === '198.18.1.1'));
  t.true(c2?.routes.some((x) => x.to === 'fd00:18:100::/64' && x.via === 'fd00:18:1::1'));
  for (const n of r.nodes) for (const x of n.routes) t.not(parsePrefix(x.to).length, 0, `${n.name} has a default route`);
  t.is(r.nodes.find((n) => n.name === 'lb')?.sysctls['net.ipv4.ip_forward'], '1');
  // 2 clients + lb on "clients" and 3 backends + lb on "backends": two switches.
  t.is(r.switches.length, 2);
  t.is(r.links.length, 3 + 4);
});

test('a two-member segment is a single veth pair, without a switch', (t) => {
  const r = resolveTopology(builtinTopology('two-arm', { clients: 1, backends: 1 }), 'abcde');
  t.is(r.switches.length, 0);
  t.deepEqual(
    r.links.map((l) => `${l.a.ifname}<->${l.b.ifname}`),
    ['xlbabcde-lb-0<->xlbabcde-c1-0', 'xlbabcde-lb-1<->xlbabcde-b1-0'],
  );
});

test('dsr: backends hold the VIPs locally and answer via the router', (t) => {
  const r = resolveTopology(builtinTopology('dsr', { backends: 2 }), 'abcde');
  const b1 = r.nodes.find((n) => n.name === 'b1');
  t.deepEqual(b1?.localPrefixes, ['198.18.100.0/24', 'fd00:18:100::/64']);
  t.true(b1?.routes.every((x) => x.via === '198.18.2.2' || x.via === 'fd00:18:2::2'));
  t.is(b1?.sysctls['net.ipv4.conf.all.arp_ignore'], '1');
  t.is(b1?.sysctls['net.ipv4.conf.all.arp_announce'], '2');
  const plan = planUp(r);
  const step = plan.steps.find((s) => s.netns === b1?.netns);
  t.true(step?.ipBatch.includes('route add local 198.18.100.0/24 dev lo table local'));
});

test('single stack and offload off show up in the plan', (t) => {
  const r = resolveTopology(builtinTopology('one-arm', { ipv6: false, offload: false, staticNeighbours: true, backends: 2 }), 'abcde');
  const plan = planUp(r);
  t.true(plan.hostBatch.every((l) => /^(netns add|link add) /.test(l)));
  const c1 = plan.steps.find((s) => s.netns === 'xlb-abcde-c1');
  t.false(c1?.ipBatch.some((l) => l.includes('fd00')));
  t.deepEqual(c1?.offloadOff, ['xlbabcde-c1-0']);
  // Static neighbours: c1 knows the lb and both backends.
  t.is(c1?.ipBatch.filter((l) => l.startsWith('neigh replace')).length, 3);
});

test('validation lists every problem with what to change', (t) => {
  const bad: TopologySpec = {
    name: 'bad',
    nodes: [
      { name: 'toolong', role: 'client' },
      { name: 'a', role: 'lb' },
      { name: 'b', role: 'backend', routes: [{ to: '0.0.0.0/0', via: '198.18.1.1' }] },
    ],
    segments: [
      {
        name: 'x',
        ipv4: '10.0.0.0/24',
        members: [
          { node: 'a', host: 1 },
          { node: 'b', host: 1 },
        ],
      },
      {
        name: 'y',
        ipv4: '198.18.5.0/24',
        ipv6: '2001:db8::/64',
        members: [
          { node: 'a', host: 1 },
          { node: 'zz', host: 2 },
        ],
      },
    ],
  };
  const e = t.throws(() => validateTopology(bad));
  const msg = e?.message ?? '';
  t.regex(msg, /name 'toolong' must be 1-4 chars/);
  t.regex(msg, /10\.0\.0\.0\/24' must lie inside 198\.18\.0\.0\/15/);
  t.regex(msg, /host number 1 is used twice/);
  t.regex(msg, /2001:db8::\/64' must lie inside fd00::\/8/);
  t.regex(msg, /node 'zz' is not declared/);
  t.regex(msg, /default route/);
});

test('the diagram names every node, interface and segment', (t) => {
  const r = resolveTopology(builtinTopology('two-arm', { backends: 3 }), 'abcde');
  const d = renderDiagram(r, 'demo');
  for (const n of r.nodes) {
    t.true(d.includes(`[${n.name}]`) || d.includes(` ${n.name}`), n.name);
    for (const i of n.ifaces) t.true(d.includes(i.ifname), i.ifname);
  }
  t.regex(d, /VIPs 198\.18\.100\.0\/24, fd00:18:100::\/64/);
  t.regex(d, /clients {2}198\.18\.1\.0\/24/);
});

test('built-in parameters are checked', (t) => {
  t.throws(() => builtinTopology('two-arm', { backends: 0 }), { message: /backends must be an integer 1-200/ });
  t.throws(() => builtinTopology('three-arm'), { message: /unknown topology 'three-arm'.*two-arm/ });
});

test('topology files: the example YAML loads; a broken one says where and what', async (t) => {
  const { loadTopologyFile, topologyFromArg } = await import('./load.ts');
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const here = path.dirname(new URL(import.meta.url).pathname);
  const spec = loadTopologyFile(path.join(here, 'topologies', 'routed.yaml'));
  t.is(spec.name, 'routed');
  const r = resolveTopology(spec, 'abcde');
  t.is(r.nodes.find((n) => n.name === 'b2')?.ifaces[0]?.offload, false);
  t.is(r.nodes.find((n) => n.name === 'lb')?.ifaces[0]?.mtu, 9000);
  t.is(r.switches.length, 1, 'only the three-member backends segment needs a switch');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlb-topo-'));
  const bad = path.join(dir, 'bad.json');
  writeFileSync(
    bad,
    JSON.stringify({
      name: 'x',
      nodes: [{ name: 'a', role: 'lb' }],
      segments: [{ name: 's', ipv4: '198.18.1.0/24', members: [{ node: 'a', host: 1 }] }],
    }),
  );
  t.throws(() => loadTopologyFile(bad), { message: /bad\.json: invalid topology 'x':[\s\S]*at least two members/ });
  writeFileSync(bad, '[1, 2');
  t.throws(() => loadTopologyFile(bad), { message: /not valid YAML\/JSON/ });
  t.throws(() => topologyFromArg(path.join(here, 'topologies', 'routed.yaml'), { backends: 2 }), {
    message: /apply to built-in topologies only/,
  });
});

test('veth ends get lab-unique ifindexes, never equal to their peer (linkwatch urgency)', (t) => {
  const r = resolveTopology(builtinTopology('dsr', { clients: 3, backends: 3 }), 'abcde');
  const all = r.links.flatMap((l) => [l.a.ifindex, l.b.ifindex]);
  t.is(new Set(all).size, all.length);
  t.true(all.every((i) => i >= 10));
  for (const n of r.nodes) for (const i of n.ifaces) t.true(all.includes(i.ifindex), `${i.ifname} has its link's ifindex`);
  const line = planUp(r).hostBatch.find((l) => l.startsWith('link add'));
  t.regex(line ?? '', /^link add \S+ index 10 netns \S+ type veth peer name \S+ index 11 netns \S+$/);
});
