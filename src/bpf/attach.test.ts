// XDP and TC attachment on a veth in throwaway namespaces, with real traffic (ping) moving the
// counters, run-time stats, replace semantics and clean detach. Needs root.
import test from 'ava';
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { BpfError, BpfObject, detachTc, detachXdp, enableStats, ifindex, inNetns, tcAttached, u32, xdpAttached } from './index.ts';
import { runId, testObject } from './test-support.ts';

const OBJ = testObject('binding_test');

interface Lab {
  nsA: string;
  nsB: string;
  ifB: string;
  remove(): Promise<void>;
}

// Namespaces still alive: removed synchronously if the run is interrupted (Ctrl-C, kill), since
// teardown hooks do not run then.
const alive = new Set<string>();
function removeAliveSync(): void {
  for (const ns of alive) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  alive.clear();
}
process.once('exit', removeAliveSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    removeAliveSync();
    process.kill(process.pid, sig);
  });
}

/** Two namespaces joined by a veth pair, 198.18.0.1/30 ↔ 198.18.0.2/30; nothing else is reachable. */
async function makeLab(): Promise<Lab> {
  const id = runId();
  const nsA = `xlb-bt-${id}-a`;
  const nsB = `xlb-bt-${id}-b`;
  const ifA = `xlb${id}a`;
  const ifB = `xlb${id}b`;
  const remove = async (): Promise<void> => {
    await execa('ip', ['netns', 'del', nsA], { reject: false });
    await execa('ip', ['netns', 'del', nsB], { reject: false });
    alive.delete(nsA);
    alive.delete(nsB);
  };
  alive.add(nsA);
  alive.add(nsB);
  try {
    await execa('ip', ['netns', 'add', nsA]);
    await execa('ip', ['netns', 'add', nsB]);
    await execa('ip', ['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    await execa('ip', ['-n', nsA, 'addr', 'add', '198.18.0.1/30', 'dev', ifA]);
    await execa('ip', ['-n', nsB, 'addr', 'add', '198.18.0.2/30', 'dev', ifB]);
    for (const [ns, dev] of [
      [nsA, ifA],
      [nsB, ifB],
    ] as const) {
      await execa('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      await execa('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (e) {
    await remove();
    throw e;
  }
  return { nsA, nsB, ifB, remove };
}

async function ping(lab: Lab, count: number): Promise<void> {
  await execa('ip', ['netns', 'exec', lab.nsA, 'ping', '-q', '-c', String(count), '-i', '0.05', '-W', '2', '198.18.0.2'], {
    timeout: 20_000,
  });
}

test('XDP (native and generic) and TC ingress see real traffic, then detach cleanly', async (t) => {
  const lab = await makeLab();
  t.teardown(() => lab.remove());
  const obj = BpfObject.open(OBJ);
  t.teardown(() => obj.close());
  const stats = enableStats();
  t.teardown(() => stats.close());
  const counters = obj.map('counters');
  const xdp = obj.program('xdp_count');
  const tc = obj.program('tc_count');
  const ifx = inNetns(lab.nsB, () => ifindex(lab.ifB));
  t.true(ifx > 0);

  inNetns(lab.nsB, () => {
    t.is(xdpAttached(ifx), undefined);
    xdp.attachXdp(ifx, 'native');
    tc.attachTc(ifx, 'ingress');
  });
  const att = inNetns(lab.nsB, () => xdpAttached(ifx));
  t.is(att?.mode, 'native');
  t.is(att?.progId, xdp.info().id);
  t.is(
    inNetns(lab.nsB, () => tcAttached(ifx, 'ingress')),
    tc.info().id,
  );

  // Attaching again without replace fails with a clear error; with replace it succeeds.
  const busy = t.throws(() => inNetns(lab.nsB, () => xdp.attachXdp(ifx, 'native')), { instanceOf: BpfError });
  t.regex(busy?.message ?? '', /replace: true/);
  inNetns(lab.nsB, () => xdp.attachXdp(ifx, 'native', { replace: true }));
  const dupTc = t.throws(() => inNetns(lab.nsB, () => tc.attachTc(ifx, 'ingress')), { instanceOf: BpfError });
  t.is(dupTc?.errno, 'EEXIST');
  inNetns(lab.nsB, () => tc.attachTc(ifx, 'ingress', { replace: true }));

  const runsBefore = xdp.stats().runCount;
  await ping(lab, 5);
  const xdpSeen = counters.sumPerCpuU64(u32(0)) ?? 0n;
  const tcSeen = counters.sumPerCpuU64(u32(1)) ?? 0n;
  t.true(xdpSeen >= 5n, `xdp counted ${xdpSeen}`);
  t.true(tcSeen >= 5n, `tc counted ${tcSeen}`);
  const st = xdp.stats();
  t.true(st.runCount - runsBefore >= 5n, `run_cnt moved by ${st.runCount - runsBefore}`);
  t.true(st.runTimeNs > 0n);

  inNetns(lab.nsB, () => {
    detachXdp(ifx);
    detachTc(ifx, 'ingress');
  });
  t.is(
    inNetns(lab.nsB, () => xdpAttached(ifx)),
    undefined,
  );
  t.is(
    inNetns(lab.nsB, () => tcAttached(ifx, 'ingress')),
    undefined,
  );
  // Detaching twice is a no-op.
  inNetns(lab.nsB, () => {
    detachXdp(ifx);
    detachTc(ifx, 'ingress');
  });
  // The baseline is read after the detach: a frame that arrived between the reads above and the
  // detach (an ARP reply, an IPv6 router solicitation) was rightly counted (seen once: 7 for 6).
  const xdpDetached = counters.sumPerCpuU64(u32(0)) ?? 0n;
  const tcDetached = counters.sumPerCpuU64(u32(1)) ?? 0n;
  await ping(lab, 3);
  t.is(counters.sumPerCpuU64(u32(0)), xdpDetached, 'no XDP counting after detach');
  t.is(counters.sumPerCpuU64(u32(1)), tcDetached, 'no TC counting after detach');

  // Generic mode, and TC egress with a non-default handle/priority.
  inNetns(lab.nsB, () => {
    xdp.attachXdp(ifx, 'generic');
    tc.attachTc(ifx, 'egress', { handle: 7, priority: 3 });
  });
  t.is(inNetns(lab.nsB, () => xdpAttached(ifx))?.mode, 'generic');
  await ping(lab, 3);
  t.true((counters.sumPerCpuU64(u32(0)) ?? 0n) >= xdpSeen + 3n);
  t.true((counters.sumPerCpuU64(u32(1)) ?? 0n) >= tcSeen + 3n, 'egress replies counted');
  inNetns(lab.nsB, () => {
    detachXdp(ifx, 'generic');
    detachTc(ifx, 'egress', { handle: 7, priority: 3 });
  });
  t.is(
    inNetns(lab.nsB, () => xdpAttached(ifx)),
    undefined,
  );
  t.is(
    inNetns(lab.nsB, () => tcAttached(ifx, 'egress', { handle: 7, priority: 3 })),
    undefined,
  );
});

test('clear errors for an unknown interface and namespace', (t) => {
  const e = t.throws(() => ifindex('xlb-nonexistent0'), { instanceOf: BpfError });
  t.is(e?.errno, 'ENODEV');
  const ns = t.throws(() => inNetns('xlb-bt-missing-ns', () => 1), { instanceOf: BpfError });
  t.is(ns?.errno, 'ENOENT');
  t.regex(ns?.message ?? '', /ip netns ls/);
});
