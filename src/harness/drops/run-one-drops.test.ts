// Root: a failed lab result carries the drop diagnosis (issue 12). A scenario on the real lab at
// XDP whose run turns GRO off, and removes the lab's pass-through XDP program, on every veth
// outside the LB (XDP-without-GRO), then expects its
// connections to succeed: runOne fails it, and its log and <artifacts>/drops.json name the case.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtinTopology } from '../../topology/builtins.ts';
import { listStates } from '../../../lab/state.ts';
import { runOne } from '../run-one.ts';
import { scenario } from '../scenario.ts';
import type { DropSummary } from './summary.ts';

/** GRO off and no XDP program: the veth takes no XDP frame (docs/drops.md, XDP-without-GRO). */
function noXdpPath(netns: string, dev: string): void {
  execFileSync('nsenter', [`--net=/run/netns/${netns}`, 'ethtool', '-K', dev, 'gro', 'off']);
  execFileSync('nsenter', [`--net=/run/netns/${netns}`, 'ip', 'link', 'set', 'dev', dev, 'xdp', 'off']);
}

test.serial('runOne (lab, xdp): a result failed by XDP-without-GRO logs the diagnosis and writes drops.json', async (t) => {
  const artifactsDir = mkdtempSync(path.join(os.tmpdir(), 'xlb-drops-runone-'));
  t.teardown(() => rmSync(artifactsDir, { recursive: true, force: true }));
  const s = scenario({
    description: 'XDP-without-GRO: connections through the LB while its veth peers have GRO off',
    topology: builtinTopology('two-arm', { clients: 1, backends: 1 }),
    services: (topo) => [
      {
        name: 'web',
        vip: topo.vip4,
        port: 7000,
        protocol: 'tcp',
        algorithm: 'rr',
        mode: 'dnat',
        endpoints: topo.backends.map((b) => ({ ip: b.ipv4, port: 7000 })),
      },
    ],
    async run(ctx) {
      // this run's lab: the one whose run folder is inside our artifacts folder
      const st = listStates().states.find((x) => x.runDir.startsWith(artifactsDir));
      if (st === undefined) throw new Error('no lab state for this run');
      for (const n of st.topology.nodes) if (n.role !== 'lb') for (const i of n.ifaces) noXdpPath(n.netns, i.ifname);
      for (const sw of st.topology.switches) for (const p of sw.ports) noXdpPath(sw.netns, p);
      const r = await ctx.client({ proto: 'tcp', target: ctx.topo.vip4, port: 7000, count: 2, timeoutMs: 1500 });
      ctx.expect.allConnected(r);
    },
  });
  const { record } = await runOne({
    scenario: s,
    name: 'drops/xdp-without-gro',
    file: 'inline',
    backend: 'lab',
    hook: 'xdp',
    seed: 1,
    artifactsDir,
    keepOnFail: false,
    reproduce: '-',
  });
  t.is(record.status, 'failed');
  const log = record.log.join('\n');
  t.log(log);
  t.regex(log, /XDP-without-GRO: XDP on \S+ redirects into veth \S+; its peer \S+ \(netns \S+\) has neither GRO nor an XDP program/);
  const file = path.join(artifactsDir, 'drops.json');
  t.true(existsSync(file));
  const d = JSON.parse(readFileSync(file, 'utf8')) as DropSummary;
  t.true(
    d.groups.some(
      (g) => g.node === 'lb' && g.reason === 'xdp_redirect_err_eopnotsupp' && g.diagnosis?.startsWith('XDP-without-GRO') === true,
    ),
    JSON.stringify(d.groups),
  );
});
