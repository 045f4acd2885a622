// The XDP-without-GRO case (issue 12, drop diagnosis): three throwaway namespaces
// (xlb-dgro-<id>-c|l|b, removed afterwards), xlb's XDP program on both LB veths, the backend's
// veth b0 with GRO off and no XDP program. The LB redirects every translated frame into l1, whose
// peer b0 has no NAPI ring to take XDP frames: the kernel frees them and nothing in xlb's counters
// says so. The drop tracer must name it; with GRO on at b0 the same traffic arrives and the
// tracer reports no such drop (the test can fail both ways).
import test from 'ava';
import { ifindex, inNetns } from '../../bpf/index.ts';
import { openHarness } from '../../datapath/prog-run.ts';
import { routedTrio } from '../../datapath/scratch-netns.ts';
import { DropTracer } from './tracer.ts';
import { formatDrops, summarizeDrops } from './summary.ts';

const VIP = '198.18.100.1';
const BACKEND = '198.18.1.11';
const PACKETS = 20;

let trioB = '';

async function run(groOnBackend: boolean): Promise<{ received: number; text: string; summary: ReturnType<typeof summarizeDrops> }> {
  const trio = routedTrio('dgro');
  trioB = trio.ns.b;
  const { ns, inside } = trio;
  let h: ReturnType<typeof openHarness> | undefined;
  let tracer: DropTracer | undefined;
  try {
    await trio.create();
    for (const dev of ['l0', 'l1']) await inside(ns.l, 'ethtool', '-K', dev, 'gro', 'on');
    await inside(ns.c, 'ethtool', '-K', 'c0', 'gro', 'on');
    await inside(ns.b, 'ethtool', '-K', 'b0', 'gro', groOnBackend ? 'on' : 'off');
    // XDP sees complete checksums only when the sender computes them
    await inside(ns.c, 'ethtool', '-K', 'c0', 'tx', 'off');
    // the LB knows the backend's MAC: XDP redirects instead of handing the frame to the stack
    await inside(ns.l, 'ping', '-c1', '-W2', BACKEND);
    h = openHarness('xdp', { config: { flags: 0, fib_table: 0, fib_cache_ms: 0 } });
    h.service({ id: 1, vip: VIP, port: 5353, proto: 'udp', mode: 'dnat', endpoints: [{ ip: BACKEND, port: 5353 }] });
    const dp = h.dp;
    inNetns(ns.l, () => {
      dp.attach(ifindex('l0'));
      dp.attach(ifindex('l1'));
    });
    tracer = DropTracer.start(
      Object.entries(ns).map(([k, n]) => ({ node: k === 'c' ? 'client' : k === 'l' ? 'lb' : 'backend', path: `/run/netns/${n}` })),
    );
    const server = inside(
      ns.b,
      'timeout',
      '8',
      'python3',
      '-c',
      [
        'import socket',
        's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        's.bind(("0.0.0.0", 5353)); s.settimeout(2); n = 0',
        'try:',
        '    while True: s.recv(2048); n += 1',
        'except socket.timeout: pass',
        'print(n)',
      ].join('\n'),
    );
    await new Promise((r) => setTimeout(r, 500));
    await inside(
      ns.c,
      'python3',
      '-c',
      [
        'import socket, time',
        's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        `for i in range(${PACKETS}):`,
        `    s.sendto(b"x" * 64, ("${VIP}", 5353)); time.sleep(0.01)`,
      ].join('\n'),
    );
    const received = Number(String((await server).stdout).trim());
    tracer.close();
    const summary = summarizeDrops(tracer.events, tracer.lost());
    return { received, text: formatDrops(summary), summary };
  } finally {
    tracer?.close();
    if (h) {
      const dp = h.dp;
      try {
        inNetns(ns.l, () => {
          dp.detach(ifindex('l0'));
          dp.detach(ifindex('l1'));
        });
      } catch {
        // the namespace may already be gone
      }
      h.close();
    }
    await trio.remove();
  }
}

test.serial('xdp: redirected frames into a veth whose peer has neither GRO nor XDP vanish, and the drop diagnosis names it', async (t) => {
  const r = await run(false);
  t.log(r.text);
  t.is(r.received, 0, 'the backend got nothing (the case reproduces)');
  const g = r.summary.groups.find((x) => x.diagnosis?.startsWith('XDP-without-GRO') === true);
  t.truthy(g, `a group diagnosed XDP-without-GRO:\n${r.text}`);
  if (g === undefined) return;
  t.is(g.node, 'lb');
  t.is(g.ifname, 'l0');
  t.is(g.to, 'lb/l1');
  // the kernel names it at the redirect (6.x: -EOPNOTSUPP) or at the bulk flush (older: -ENXIO)
  t.true(['xdp_redirect_err_eopnotsupp', 'xdp_xmit_failed_enxio'].includes(g.reason), g.reason);
  t.true(g.count >= PACKETS, `every frame counted (${g.count})`);
  t.regex(
    g.diagnosis ?? '',
    new RegExp(
      `XDP-without-GRO: XDP on l0 redirects into veth l1; its peer b0 \\(netns ${trioB}\\) has neither GRO.*fix: nsenter --net=/run/netns/${trioB} ethtool -K b0 gro on`,
    ),
  );
  t.regex(r.text, /XDP-without-GRO/);
});

test.serial('xdp: with GRO on at the peer the same frames arrive and no XDP-without-GRO drop is reported', async (t) => {
  const r = await run(true);
  t.log(r.text);
  t.is(r.received, PACKETS);
  t.false(
    r.summary.groups.some((g) => g.reason.startsWith('xdp_')),
    r.text,
  );
});
