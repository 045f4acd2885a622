// The XDP attach warns about a veth whose peer has neither GRO nor an XDP program (the
// XDP-without-GRO trap, docs/drops.md). Throwaway namespaces xlb-vgro-<id>…, removed afterwards.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { inNetns } from '../bpf/index.ts';
import { openKernelDatapath } from './kernel-datapath.ts';
import { routedTrio, withVethNamespace } from './scratch-netns.ts';
import { xdpVethWarning } from './veth-gro.ts';

test.serial(
  'xdpVethWarning: a peer in the same namespace without GRO is named with the fix; GRO on or not a veth: no warning',
  async (t) => {
    await withVethNamespace('vgro', '02:00:00:00:00:01', async (ns, ip) => {
      await execa('nsenter', [`--net=/run/netns/${ns}`, 'ethtool', '-K', 'xlb1', 'gro', 'off']);
      const w = inNetns(ns, () => xdpVethWarning('xlb0'));
      t.regex(w ?? '', /veth xlb0: its peer xlb1 has neither GRO nor an XDP program/);
      t.regex(w ?? '', /fix: ethtool -K xlb1 gro on$/);
      await execa('nsenter', [`--net=/run/netns/${ns}`, 'ethtool', '-K', 'xlb1', 'gro', 'on']);
      t.is(
        inNetns(ns, () => xdpVethWarning('xlb0')),
        undefined,
      );
      await ip('link', 'set', 'lo', 'up');
      t.is(
        inNetns(ns, () => xdpVethWarning('lo')),
        undefined,
      );
    });
  },
);

test.serial(
  'xlb XDP attach: warns for the veth whose peer (another namespace) has GRO off, not for the one whose peer has it on',
  async (t) => {
    const trio = routedTrio('vgro');
    const { ns, inside } = trio;
    const pinDir = `/sys/fs/bpf/xlb/test-vgro-${randomBytes(4).toString('hex')}`;
    const warnings: { iface: unknown; message: string }[] = [];
    let dph: ReturnType<typeof openKernelDatapath> | undefined;
    try {
      await trio.create();
      await inside(ns.c, 'ethtool', '-K', 'c0', 'gro', 'on');
      await inside(ns.b, 'ethtool', '-K', 'b0', 'gro', 'off');
      dph = openKernelDatapath({
        hook: 'xdp',
        pinDir,
        removePinsOnClose: true,
        ctEntries: 1024,
        maxServices: 4,
        onWarning: (f, message) => warnings.push({ iface: f.iface, message }),
      });
      const h = dph;
      inNetns(ns.l, () => {
        h.attach('l0');
        h.attach('l1');
      });
      t.is(warnings.length, 1, JSON.stringify(warnings));
      t.is(warnings[0]?.iface, 'l1');
      t.regex(
        warnings[0]?.message ?? '',
        new RegExp(
          `its peer b0 \\(netns ${ns.b}\\) has neither GRO nor an XDP program.*XDP-without-GRO.*fix: nsenter --net=/run/netns/${ns.b} ethtool -K b0 gro on`,
        ),
      );
    } finally {
      if (dph) {
        const h = dph;
        try {
          inNetns(ns.l, () => {
            h.detach('l0');
            h.detach('l1');
          });
        } catch {
          // the namespace may already be gone
        }
        h.close();
      }
      await trio.remove();
    }
  },
);
