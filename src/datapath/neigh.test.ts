// Forwarding edges with real traffic (issue 11, item 4): three throwaway namespaces
// (client, LB, backend; xlb-dpn-<id>-*, removed afterwards), TC or XDP on both LB veths, the
// LB has never resolved the backend's neighbour. A full-NAT packet handed to the stack carries
// the LB's own address as source, which the stack drops as a martian without resolving the
// neighbour: the first connection would never complete. With bpf_redirect_neigh (TC, and at XDP
// through its TC half xlb_xdp_neigh) it does.
import test from 'ava';
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { ifindex, inNetns } from '../bpf/index.ts';
import { openHarness } from './prog-run.ts';
import { routedTrio } from './scratch-netns.ts';
import type { Hook } from './loader.ts';
import { readFwdResults } from './maps.ts';

const VIP = '198.18.100.1';
const BACKEND = '198.18.1.11';

interface Case {
  hook: Hook;
  mode: 'fullnat' | 'dnat';
  /** the connection completes */
  completes: boolean;
  title: string;
}

const CASES: Case[] = [
  { hook: 'tc', mode: 'fullnat', completes: true, title: 'completes (bpf_redirect_neigh)' },
  { hook: 'tc', mode: 'dnat', completes: true, title: 'completes (bpf_redirect_neigh)' },
  // XDP hands such a packet to its TC half (xlb_xdp_neigh), which sends it with bpf_redirect_neigh
  // before the stack's input route sees it (until then DNAT went through the stack and full NAT
  // was dropped as a martian without accept_local)
  { hook: 'xdp', mode: 'dnat', completes: true, title: 'completes (XDP hands it to xlb_xdp_neigh at TC: bpf_redirect_neigh)' },
  { hook: 'xdp', mode: 'fullnat', completes: true, title: 'completes without accept_local (the stack never sees the LB-sourced packet)' },
];

for (const { hook, mode, completes, title } of CASES) {
  test.serial(`${hook} ${mode}: the first connection to a backend whose neighbour the LB has not resolved ${title}`, async (t) => {
    const trio = routedTrio('dpn');
    const { ns, inside } = trio;
    let h: ReturnType<typeof openHarness> | undefined;
    let server: ResultPromise | undefined;
    try {
      await trio.create();
      // XDP_REDIRECT / XDP_TX into a veth needs GRO (or an XDP program) on the receiving end
      for (const dev of ['l0', 'l1']) await inside(ns.l, 'ethtool', '-K', dev, 'gro', 'on');
      if (hook === 'xdp') {
        await inside(ns.c, 'ethtool', '-K', 'c0', 'gro', 'on');
        await inside(ns.b, 'ethtool', '-K', 'b0', 'gro', 'on');
      }
      // XDP needs complete checksums from the senders; at TC the client keeps TX offload (and
      // so TSO) on: its bulk data reaches the LB as GSO packets far larger than the MTU
      if (hook === 'xdp') await inside(ns.c, 'ethtool', '-K', 'c0', 'tx', 'off');
      await inside(ns.b, 'ethtool', '-K', 'b0', 'tx', 'off');
      const snat = Buffer.alloc(16);
      snat.set([198, 18, 1, 1]);
      // fib_cache_ms 0: every packet is looked up (the cached next hop skips the MTU check)
      h = openHarness(hook, { config: { flags: 0, fib_table: 0, fib_cache_ms: 0, snat_v4: snat } });
      h.service({ id: 1, vip: VIP, port: 80, mode, endpoints: [{ ip: BACKEND, port: 8080 }] });
      const dp = h.dp;
      inNetns(ns.l, () => {
        dp.attach(ifindex('l0'));
        dp.attach(ifindex('l1'));
      });
      server = inside(
        ns.b,
        'timeout',
        '15',
        'python3',
        '-c',
        [
          'import socket',
          's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
          `s.bind(("0.0.0.0", 8080)); s.listen(4); print("ready", flush=True)`,
          'c, _ = s.accept(); head = c.recv(4); n = 0',
          'while True:',
          '    b = c.recv(65536)',
          '    if not b: break',
          '    n += len(b)',
          'c.sendall(head.upper() + b" %d" % n); c.close()',
        ].join('\n'),
      );
      // listening before the client connects (a loaded machine can take seconds to start python)
      const srv = server;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the backend server did not start within 10 s')), 10_000);
        srv.stdout?.on('data', (b: Buffer) => {
          if (b.toString().includes('ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const client = await execa(
        'ip',
        [
          'netns',
          'exec',
          ns.c,
          'python3',
          '-c',
          [
            'import socket',
            's = socket.create_connection(("' + VIP + '", 80), timeout=4)',
            // then a bulk transfer: with GRO on at the LB, TC sees aggregates larger than the MTU
            's.settimeout(4); s.sendall(b"ping"); s.sendall(b"x" * 300000); s.shutdown(socket.SHUT_WR)',
            'print(s.recv(100).decode())',
          ].join('\n'),
        ],
        { reject: false },
      );
      if (!completes) {
        t.not(client.exitCode, 0, 'the connection does not complete');
        t.true(readFwdResults(h.dp).pass_no_neigh.packets > 0n, 'handed to the stack for want of a neighbour');
        return;
      }
      t.is(client.exitCode, 0, `client: ${client.stderr}`);
      t.is(client.stdout.trim(), 'PING 300000');
      const fwd = readFwdResults(h.dp);
      t.is(fwd.pass_no_neigh.packets, 0n, 'no packet was handed to the stack for want of a neighbour');
      // GRO aggregates (larger than the 1500 MTU) fit segment by segment: forwarded by the LB
      if (hook === 'tc') t.is(fwd.pass_fib.packets, 0n, 'no aggregate was called FRAG_NEEDED');
      // the kernel resolved the neighbour (bpf_redirect_neigh, at TC or XDP's TC half)
      const neigh = ((await inside(ns.l, 'ip', 'neigh', 'show', BACKEND)).stdout as string).trim();
      t.regex(neigh, /lladdr/);
    } finally {
      server?.kill();
      await server?.catch(() => undefined);
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
  });
}
