// Root: the lab World end to end, per hook. A two-arm lab (1 client, 3 backends), the real agent
// programmed through apply(), 9 real TCP connections balanced round robin; then what observe()
// and captures() report, the clock moved by advance(), one entry deleted, and nothing of the run
// left after close().
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { VIP, builtinTopology } from '../topology/builtins.ts';
import { PIN_ROOT } from '../topology/naming.ts';
import { isAlive } from '../../lab/procs.ts';
import { listStates } from '../../lab/state.ts';
import { resolveTopology } from '../topology/topology.ts';
import { buildFrame, decodeFrame } from '../packet/index.ts';
import { AgentApiError } from '../agent/client.ts';
import { createLabWorld } from './lab-world.ts';
import { HOOKS } from './world.ts';
import type { ServiceInput } from './world.ts';

const topology = builtinTopology('two-arm', { clients: 1, backends: 3, ipv6: true });
// Addresses and MACs do not depend on the run id.
const resolved = resolveTopology(topology, 'aaaaa');
const backendIps = resolved.nodes.filter((n) => n.role === 'backend').map((n) => n.ifaces[0]?.ipv4 as string);
const c1 = resolved.nodes.find((n) => n.name === 'c1')?.ifaces[0];
const lbClients = resolved.nodes.find((n) => n.name === 'lb')?.ifaces.find((i) => i.segment === 'clients');

/** Nothing of run `id` left: namespaces, pins, state file, processes. */
function leftovers(id: string, name: string): string[] {
  const out: string[] = [];
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (netns.includes(`xlb-${id}-`)) out.push(`namespaces: ${netns}`);
  const pins = existsSync(PIN_ROOT) ? readdirSync(PIN_ROOT).filter((e) => e.startsWith(id)) : [];
  if (pins.length > 0) out.push(`pins: ${pins.join(', ')}`);
  if (listStates().states.some((s) => s.name === name)) out.push(`state file ${name}`);
  try {
    out.push(`processes: ${execFileSync('pgrep', ['-af', id], { encoding: 'utf8' })}`);
  } catch {
    // pgrep exit 1: no process
  }
  return out;
}

const web: ServiceInput = {
  name: 'web',
  vip: VIP.ipv4,
  port: 7000,
  protocol: 'tcp',
  algorithm: 'rr',
  mode: 'dnat',
  endpoints: backendIps.map((ip) => ({ ip, port: 7000 })),
};

for (const hook of HOOKS) {
  test.serial(`lab world (${hook}): 9 connections over 3 backends, observed, captured, cleaned up`, async (t) => {
    const artifactsDir = mkdtempSync(path.join(os.tmpdir(), `xlb-labworld-${hook}-`));
    const runId = `t${process.pid}`;
    const t0 = performance.now();
    const world = await createLabWorld({ backend: 'lab', hook, topology, seed: 1, artifactsDir, runId });
    const createMs = performance.now() - t0;
    let closed = false;
    t.teardown(async () => {
      if (!closed) await world.close();
      rmSync(artifactsDir, { recursive: true, force: true });
    });
    const state = listStates().states.find((s) => s.name.startsWith(`world-${hook}-${runId}-`));
    if (state === undefined) return t.fail('no lab state file carries the run id');
    const id = state.id;

    // The API's validation error comes back as the thrown message.
    const err = await t.throwsAsync(world.apply([{ ...web, algorithm: 'nope' as ServiceInput['algorithm'] }]), {
      instanceOf: AgentApiError,
    });
    t.is(err?.status, 400);
    t.regex(err?.message ?? '', /refused \(400\).*algorithm/s);
    await world.apply([web]);

    const t1 = performance.now();
    const report = await world.client('c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: 9 });
    const runMs = performance.now() - t1;
    t.is(report.summary.ok, 9, JSON.stringify(report.results.filter((r) => r.error !== null)));
    t.deepEqual(report.summary.byBackend, { b1: 3, b2: 3, b3: 3 });

    const obs = await world.observe();
    const flows = obs.flows.filter((f) => f.vip.ip === VIP.ipv4 && f.vip.port === 7000);
    t.is(flows.length, 9, JSON.stringify(obs.flows));
    for (const f of flows) t.true(['TIME_WAIT', 'CLOSED', 'FIN_WAIT', 'CLOSE_WAIT'].includes(f.state), `flow ${f.client.port}: ${f.state}`);
    const fwd = obs.conntrack.filter((e) => !e.reply && e.key.dst === VIP.ipv4 && e.key.dport === 7000);
    t.is(fwd.length, 9);
    for (const e of fwd) {
      t.true(backendIps.includes(e.nat.dst), e.nat.dst);
      t.deepEqual(e.xlate, { saddr: false, daddr: true, sport: false, dport: false });
      // The reply entry is keyed by what the backend sends back.
      const reply = obs.conntrack.find((r) => r.reply && r.key.src === e.nat.dst && r.key.sport === 7000 && r.key.dport === e.key.sport);
      t.truthy(reply, `no reply entry for ${e.key.src}:${e.key.sport}`);
      t.is(reply?.state, e.state);
    }
    t.is(obs.reasons.get('new_flow'), 9);
    t.true((obs.reasons.get('fast_path') ?? 0) + (obs.reasons.get('tracked') ?? 0) >= 9 * 4, JSON.stringify([...obs.reasons]));
    t.true([...obs.fwd.values()].reduce((a, b) => a + b, 0) > 0, JSON.stringify([...obs.fwd]));
    const [svcId] = [...obs.counters.services.keys()];
    t.true((obs.counters.services.get(svcId ?? -1)?.packets ?? 0) >= 9 * 8);
    t.deepEqual([...(obs.counters.endpoints.get(svcId ?? -1)?.keys() ?? [])], [0, 1, 2]);
    for (const c of obs.counters.endpoints.get(svcId ?? -1)?.values() ?? []) t.true(c.packets > 0);
    // Trace: each connection's SYN made NONE -> SYN_SENT on a new flow, and the flows went on.
    const opened = obs.trace.filter((e) => e.reason === 'new_flow' && e.ctBefore === 'NONE' && e.ctAfter === 'SYN_SENT');
    t.is(
      opened.length,
      9,
      JSON.stringify(obs.trace.slice(0, 5), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    );
    for (const e of opened) t.true(e.endpointSlot >= 0 && e.endpointSlot < 3 && e.serviceId === svcId && e.tuple.dport === 7000);
    t.true(obs.trace.some((e) => e.ctBefore !== 'ESTABLISHED' && e.ctAfter === 'ESTABLISHED'));
    t.true(obs.trace.some((e) => e.ctAfter === 'TIME_WAIT' || e.ctAfter === 'CLOSED'));
    t.true(
      obs.trace.every((e, i) => i === 0 || e.timeNs >= (obs.trace[i - 1]?.timeNs ?? 0n)),
      'trace events in order',
    );

    // One side of a flow lost: its forward entry deleted (while alive: the agent's sweep would
    // delete expired ones by itself).
    const one = fwd[0];
    if (one === undefined) return;
    t.true(await world.deleteConntrack(one));
    t.false(await world.deleteConntrack(one));
    const afterDelete = await world.observe();
    t.false(afterDelete.conntrack.some((e) => !e.reply && e.key.sport === one.key.sport && e.key.dst === VIP.ipv4));
    t.is(afterDelete.flows.filter((f) => f.vip.ip === VIP.ipv4).length, 8);

    // The datapath clock: past TIME_WAIT's 120 s the flows are gone from the listing (the raw
    // entries stay until the agent's sweep).
    await world.advance(130);
    t.is((await world.observe()).flows.filter((f) => f.vip.ip === VIP.ipv4).length, 0);
    // A raw SYN from c1 (AF_PACKET): a new flow of its own, on the next endpoint (b1 again);
    // c1's kernel has no socket for it and answers b1's SYN-ACK with a RST, which closes it.
    await world.inject('c1', [
      buildFrame({
        eth: { src: c1?.mac, dst: lbClients?.mac },
        ip: { src: c1?.ipv4 ?? '', dst: VIP.ipv4 },
        tcp: { sport: 45000, dport: 7000, flags: 'S' },
      }),
    ]);
    await new Promise((r) => setTimeout(r, 200));
    const obs2 = await world.observe();
    t.is(obs2.reasons.get('new_flow'), 10);
    t.like(
      obs2.conntrack.find((e) => !e.reply && e.key.sport === 45000),
      { state: 'CLOSED', nat: { dst: backendIps[0] } },
    );

    const links = await world.captures();
    const client = links.find((l) => l.node === 'c1');
    t.truthy(client?.pcapPath !== undefined && existsSync(client.pcapPath));
    t.true(
      (client?.packets ?? []).some((p) => decodeFrame(p.frame).ip?.dst === VIP.ipv4),
      'SYNs to the VIP on the client link',
    );
    for (const b of ['b1', 'b2', 'b3']) {
      const l = links.find((x) => x.node === b);
      t.truthy(l?.pcapPath !== undefined && existsSync(l.pcapPath), b);
      t.true(
        (l?.packets ?? []).some((p) => decodeFrame(p.frame).tcp?.dport === 7000),
        `${b}: no packet to port 7000`,
      );
      t.true((l?.packets ?? []).every((p) => p.timeMs >= 0 && p.timeMs < 120_000));
    }

    const t2 = performance.now();
    await world.close();
    closed = true;
    const closeMs = performance.now() - t2;
    t.deepEqual(leftovers(id, state.name), []);
    for (const p of state.processes) t.false(isAlive(p.pid, p.start), `${p.command} still runs`);
    t.log(`${hook}: world up ${createMs.toFixed(0)} ms, 9 connections ${runMs.toFixed(0)} ms, close ${closeMs.toFixed(0)} ms`);
  });
}

test.serial('lab world: an agent that cannot start fails createLabWorld with its message, and nothing is left', async (t) => {
  const artifactsDir = mkdtempSync(path.join(os.tmpdir(), 'xlb-labworld-fail-'));
  t.teardown(() => rmSync(artifactsDir, { recursive: true, force: true }));
  const runId = `f${process.pid}`;
  const err = await t.throwsAsync(
    createLabWorld({ backend: 'lab', hook: 'tc', topology, seed: 1, artifactsDir, runId, objectDir: artifactsDir }),
  );
  t.regex(err?.message ?? '', /could not start and was removed: .*there is no xlb_tc\.bpf\.o in it/s);
  const m = /lab (\S+) id ([0-9a-z]{5})\)/.exec(err?.message ?? '');
  if (m === null) return t.fail(`the error names no lab: ${err?.message}`);
  t.deepEqual(leftovers(m[2] as string, m[1] as string), []);
});

test.serial('lab world: keep() leaves the lab running without an owner; xlb lab down removes it', async (t) => {
  const artifactsDir = mkdtempSync(path.join(os.tmpdir(), 'xlb-labworld-keep-'));
  const runId = `k${process.pid}`;
  const world = await createLabWorld({
    backend: 'lab',
    hook: 'tc',
    topology,
    seed: 1,
    artifactsDir,
    runId,
    objectDir: path.resolve('build/bpf'),
  });
  const state = listStates().states.find((s) => s.name.includes(`-${runId}-`));
  t.teardown(async () => {
    if (state !== undefined && listStates().states.some((s) => s.name === state.name))
      execFileSync(path.resolve('xlb'), ['lab', 'down', '--name', state.name], { stdio: 'ignore' });
    rmSync(artifactsDir, { recursive: true, force: true });
  });
  if (state === undefined) return t.fail('no lab state for the run');
  await world.apply([web]);
  const how = world.keep?.() ?? '';
  t.regex(how, new RegExp(`xlb lab down --name ${state.name}`));
  await t.throwsAsync(world.close(), { message: /close\(\) after keep\(\)/ });
  t.is(listStates().states.find((s) => s.name === state.name)?.owner, null);
  // Still balancing, through the agent left running.
  const r = await world.client('c1', { proto: 'tcp', target: VIP.ipv4, port: 7000, count: 3 });
  t.is(r.summary.ok, 3);
  execFileSync(path.resolve('xlb'), ['lab', 'down', '--name', state.name], { stdio: 'ignore' });
  // The processes `down` killed were this process's children: their exits must not bring the state file back.
  await new Promise((r) => setTimeout(r, 500));
  t.deepEqual(leftovers(state.id, state.name), []);
});

test.serial('lab world: Ctrl-C (SIGINT) with the agent, tcpdump and a client running leaves nothing', (t) => {
  const fixture = fileURLToPath(new URL('./lab-world-sigint.fixture.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, 'xdp'], { encoding: 'utf8', timeout: 60_000 });
  const run = JSON.parse(r.stdout.split('\n')[0] ?? '{}') as { name?: string; id?: string; artifactsDir?: string };
  if (run.artifactsDir !== undefined) rmSync(run.artifactsDir, { recursive: true, force: true });
  t.is(r.status, 130, `${r.stdout}\n${r.stderr}`);
  if (run.id === undefined || run.name === undefined) return t.fail(`the fixture printed no lab: ${r.stdout}${r.stderr}`);
  t.deepEqual(leftovers(run.id, run.name), []);
});
