// Root: a reused lab World (src/harness/lab-pool.ts) gives its second result nothing of the
// first's: no conntrack entry, no service, counters from zero, an empty trace, the rr cursor at
// its start, and the first result's fixed client port usable again (its TIME_WAIT flushed); a
// World whose result touched its processes is not reused; closing the pool leaves nothing.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VIP, builtinTopology } from '../topology/builtins.ts';
import { resolveTopology } from '../topology/topology.ts';
import { closePooledLabWorlds, openPooledLabWorld } from './lab-pool.ts';
import { createLabWorld } from './lab-world.ts';
import type { ServiceInput, WorldOptions } from './world.ts';

const topology = builtinTopology('two-arm', { clients: 1, backends: 3, ipv6: true });
const backendIps = resolveTopology(topology, 'aaaaa')
  .nodes.filter((n) => n.role === 'backend')
  .map((n) => n.ifaces[0]?.ipv4 as string);
const web: ServiceInput = {
  name: 'web',
  vip: VIP.ipv4,
  port: 7000,
  protocol: 'tcp',
  algorithm: 'rr',
  mode: 'dnat',
  endpoints: backendIps.map((ip) => ({ ip, port: 7000 })),
};
const root = process.getuid?.() === 0;

(root ? test.serial : test.skip)('lab pool: the second result of a reused World sees none of the first', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlb-labpool-'));
  const opts = (n: number): WorldOptions => ({
    backend: 'lab',
    hook: 'tc',
    topology,
    seed: 1,
    artifactsDir: path.join(dir, String(n)),
    runId: `p${process.pid}`,
  });
  let created = 0;
  const create = (o: WorldOptions) => {
    created++;
    return createLabWorld(o);
  };
  try {
    const w1 = await openPooledLabWorld(opts(1), create);
    await w1.apply([web]);
    const r1 = await w1.client('c1', { proto: 'tcp', target: VIP.ipv4, count: 2, sport: 43_210, payload: 16 });
    t.is(r1.summary.ok, 2);
    t.deepEqual(
      r1.results.map((r) => r.backend),
      ['b1', 'b2'],
    );
    const o1 = await w1.observe();
    t.true(o1.conntrack.length >= 4);
    await w1.captures();
    await w1.close({ reuse: true });

    const w2 = await openPooledLabWorld({ ...opts(2), timeoutsS: { UDP_SEEN: 7 } }, create);
    t.is(created, 1, 'the parked World was reused');
    const o2 = await w2.observe();
    t.is(o2.conntrack.length, 0, 'no conntrack entry left');
    t.is(o2.counters.services.size, 0, 'no service left');
    t.is(o2.reasons.get('new_flow'), 0, 'counters from zero');
    t.is(
      o2.trace.filter((e) => e.reason !== 'pass_not_ip' && e.reason !== 'pass_no_service').length,
      0,
      'no trace event of the first result',
    );
    await w2.apply([web]);
    // The same fixed ports again: the client's TIME_WAIT sockets were flushed, the rr cursor reset.
    const r2 = await w2.client('c1', { proto: 'tcp', target: VIP.ipv4, count: 2, sport: 43_210, payload: 16 });
    t.is(r2.summary.ok, 2, JSON.stringify(r2.results));
    t.deepEqual(
      r2.results.map((r) => r.backend),
      ['b1', 'b2'],
      'round robin starts from the first endpoint again',
    );
    const o3 = await w2.observe();
    t.is(o3.reasons.get('new_flow'), 2);
    // A result that used the processes is not reused.
    await w2.processes?.stopServers('b3');
    await w2.captures();
    await w2.close({ reuse: true });
    const w3 = await openPooledLabWorld(opts(3), create);
    t.is(created, 2, 'a World whose servers were stopped is not reused');
    await w3.close({ reuse: true });
  } finally {
    await closePooledLabWorlds();
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(`p${process.pid}`));
    t.deepEqual(left, [], 'no namespace of the pool left');
    rmSync(dir, { recursive: true, force: true });
  }
});
