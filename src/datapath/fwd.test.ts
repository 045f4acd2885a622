// Forwarding with the kernel's routes and neighbours: BPF_PROG_TEST_RUN inside a throwaway
// network namespace (xlb-dpt-<id>, removed afterwards) holding a veth pair, a route to the
// backends and one permanent neighbour. Known neighbour: new MACs and a redirect (XDP_TX at
// XDP, egress == ingress); unknown neighbour: TC bpf_redirect_neigh, XDP passed with the hand-off metadata for its TC half, counted; the fast path uses
// the flow's next-hop cache, and a new flow to the same endpoint the endpoint's next-hop cache.
import test from 'ava';
import { execa } from 'execa';
import { ifindex, inNetns, xdpMd } from '../bpf/index.ts';
import { CT_STATE } from '../schema/maps.ts';
import { buildFrame } from '../packet/index.ts';
import { HOOKS, openHarness } from './prog-run.ts';
import { readFwdResults } from './maps.ts';
import { withVethNamespace } from './scratch-netns.ts';

const CLIENT = '198.18.0.10';
const VIP = '198.18.100.1';
const B1 = '198.18.1.11';
const B2 = '198.18.1.12';
const B1_MAC = '02:00:00:00:b1:01';

const LB_MAC = '02:00:00:00:00:aa';

/** The veth namespace with the LB's address, a permanent neighbour for B1 and forwarding on. */
function withNetns(fn: (ns: string, lbMac: string) => Promise<void> | void): Promise<void> {
  return withVethNamespace('dpt', LB_MAC, async (ns, ip) => {
    await ip('addr', 'add', '198.18.1.1/24', 'dev', 'xlb0');
    await ip('neigh', 'replace', B1, 'lladdr', B1_MAC, 'dev', 'xlb0', 'nud', 'permanent');
    await execa('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.all.forwarding=1']);
    await fn(ns, LB_MAC);
  });
}

for (const hook of HOOKS) {
  test.serial(
    `${hook}: FIB lookup in a namespace: known neighbour redirected with new MACs, unknown one sent with bpf_redirect_neigh (XDP: through its TC half), cache on the fast path`,
    async (t) => {
      await withNetns((ns, lbMac) => {
        // no FIB table override: the namespace's main table decides
        const h = openHarness(hook, { config: { flags: 0, fib_table: 0, fib_cache_ms: 60_000 } });
        try {
          h.service({ id: 1, vip: VIP, port: 80, algo: 'rr', endpoints: [{ ip: B1, port: 80 }] });
          h.service({ id: 2, vip: VIP, port: 81, algo: 'rr', endpoints: [{ ip: B2, port: 80 }] });
          inNetns(ns, () => {
            const dev = ifindex('xlb0');
            const syn = buildFrame({
              eth: { src: '02:00:00:00:00:c1', dst: lbMac },
              ip: { src: CLIENT, dst: VIP },
              tcp: { sport: 1000, dport: 80, flags: 'S' },
            });
            const r = h.run(syn, dev);
            t.is(r.verdict, hook === 'xdp' ? 'tx' : 'redirect');
            // forwarded by the LB: new MACs, TTL decremented (64 -> 63, IPv4 checksum updated)
            t.deepEqual(
              r.data,
              buildFrame({
                eth: { src: lbMac, dst: B1_MAC },
                ip: { src: CLIENT, dst: B1, ttl: 63 },
                tcp: { sport: 1000, dport: 80, flags: 'S' },
              }),
            );
            h.run(buildFrame({ ip: { src: B1, dst: CLIENT }, tcp: { sport: 80, dport: 1000, seq: 5, ack: 1, flags: 'SA' } }), dev);
            h.run(buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 1000, dport: 80, seq: 1, ack: 6, flags: 'A' } }), dev);
            const est = h.run(
              buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 1000, dport: 80, seq: 1, ack: 6, flags: 'PA' }, payload: 'x' }),
              dev,
            );
            t.is(est.verdict, hook === 'xdp' ? 'tx' : 'redirect');
            t.deepEqual(
              est.data,
              buildFrame({
                eth: { src: lbMac, dst: B1_MAC },
                ip: { src: CLIENT, dst: B1, ttl: 63 },
                tcp: { sport: 1000, dport: 80, seq: 1, ack: 6, flags: 'PA' },
                payload: 'x',
              }),
            );
            // a new flow to the same endpoint takes the endpoint's next hop from its cache
            const before = readFwdResults(h.dp).cached.packets;
            const syn2 = buildFrame({
              eth: { src: '02:00:00:00:00:c1', dst: lbMac },
              ip: { src: '198.18.0.11', dst: VIP },
              tcp: { sport: 2000, dport: 80, flags: 'S' },
            });
            const r2 = h.run(syn2, dev);
            t.is(r2.verdict, hook === 'xdp' ? 'tx' : 'redirect');
            t.deepEqual(
              r2.data,
              buildFrame({
                eth: { src: lbMac, dst: B1_MAC },
                ip: { src: '198.18.0.11', dst: B1, ttl: 63 },
                tcp: { sport: 2000, dport: 80, flags: 'S' },
              }),
            );
            t.is(readFwdResults(h.dp).cached.packets, before + 1n, 'the second flow to B1 used the endpoint next-hop cache');
            // neighbour unknown. TC: sent with bpf_redirect_neigh (the kernel resolves the
            // neighbour and writes the MACs after the program), so the LB forwards it itself:
            // translated, TTL decremented, MACs not touched by the program. XDP: the same packet
            // passed with struct xlb_xdp_meta in front of it (the test run returns the metadata
            // with the frame) for its TC half's bpf_redirect_neigh: magic "XLBN", the egress
            // ifindex, the next hop (family AF_INET, B2).
            const unknown = h.run(buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 1001, dport: 81, flags: 'S' } }), dev);
            const translated = buildFrame({ ip: { src: CLIENT, dst: B2, ttl: 63 }, tcp: { sport: 1001, dport: 80, flags: 'S' } });
            if (hook === 'tc') {
              t.is(unknown.verdict, 'redirect');
              t.deepEqual(unknown.data, translated);
            } else {
              const meta = Buffer.alloc(28);
              meta.writeUInt32LE(0x584c424e, 0);
              meta.writeUInt32LE(dev, 4);
              meta.writeUInt32LE(2, 8);
              Buffer.from(B2.split('.').map(Number)).copy(meta, 12);
              t.is(unknown.verdict, 'pass');
              t.deepEqual(unknown.data, Buffer.concat([meta, translated]));
            }
          });
          const fwd = readFwdResults(h.dp);
          t.is(fwd.pass_no_neigh.packets, 0n, 'XDP hands an unknown neighbour to its TC half too (redirect)');
          t.true(fwd.cached.packets >= 1n, 'the established packet used the next-hop cache');
          t.is(fwd.pass_fib.packets, 1n, 'the reply to the client (no route to 198.18.0.0/24 in the namespace)');
        } finally {
          h.close();
        }
      });
    },
  );
}

// XDP, neighbour unknown, and no room for the hand-off metadata (a driver that refuses
// bpf_xdp_adjust_meta, or, as here, a frame whose metadata room another XDP program already
// filled to the kernel's limit): the old path of the spec ("Forwarding"): the translated packet to the stack,
// XDP_PASS, TTL kept, the metadata there left as it was, counted xlb_fwd[PASS_NO_NEIGH] and not
// REDIRECT; the flow is created as usual.
test.serial(
  'xdp: unknown neighbour with the metadata room taken: translated, passed to the stack with its TTL, counted pass_no_neigh',
  async (t) => {
    await withNetns((ns, lbMac) => {
      const h = openHarness('xdp', { config: { flags: 0, fib_table: 0, fib_cache_ms: 60_000 } });
      try {
        h.service({ id: 2, vip: VIP, port: 81, algo: 'rr', endpoints: [{ ip: B2, port: 80 }] });
        inNetns(ns, () => {
          const dev = ifindex('xlb0');
          const frame = buildFrame({
            eth: { src: '02:00:00:00:00:c1', dst: lbMac },
            ip: { src: CLIENT, dst: VIP },
            tcp: { sport: 1002, dport: 81, flags: 'S' },
          });
          // The most metadata a test run takes (the headroom less struct xdp_frame, or the
          // metadata limit, whichever is smaller: 216 bytes on 6.18): with it
          // bpf_xdp_adjust_meta has no room left for struct xlb_xdp_meta. The largest size a test
          // run accepts (EINVAL above it), found by trying from the u8 limit down.
          const runWithMeta = (size: number): ReturnType<typeof h.dp.main.testRun> => {
            const ctx = xdpMd({ ingressIfindex: dev });
            ctx.writeUInt32LE(size, 0); // xdp_md.data: the first `size` bytes of the input are metadata
            ctx.writeUInt32LE(size + frame.length, 4); // xdp_md.data_end
            return h.dp.main.testRun({ data: Buffer.concat([Buffer.alloc(size, 0xa5), frame]), ctx });
          };
          const before = readFwdResults(h.dp);
          let meta = 252;
          let r: ReturnType<typeof h.dp.main.testRun> | undefined;
          for (; meta >= 32; meta -= 4) {
            try {
              r = runWithMeta(meta);
              break;
            } catch {
              // refused: too much metadata for this kernel's test run, try less
            }
          }
          if (r === undefined) return t.fail('no metadata size from 252 down to 32 bytes was accepted by the test run');
          t.log(`${meta} bytes of metadata in front of the frame`);
          const other = Buffer.alloc(meta, 0xa5);
          t.is(r.retval, 2, 'XDP_PASS');
          t.deepEqual(
            r.data,
            Buffer.concat([
              other,
              buildFrame({
                eth: { src: '02:00:00:00:00:c1', dst: lbMac },
                ip: { src: CLIENT, dst: B2 },
                tcp: { sport: 1002, dport: 80, flags: 'S' },
              }),
            ]),
            'translated (destination and port), TTL 64 kept, MACs and the other metadata untouched',
          );
          const after = readFwdResults(h.dp);
          t.is(after.pass_no_neigh.packets, before.pass_no_neigh.packets + 1n);
          t.is(after.redirect.packets, before.redirect.packets, 'not handed to the TC half');
          t.is(h.flow({ src: CLIENT, dst: VIP, sport: 1002, dport: 81, proto: 'tcp' })?.state, CT_STATE.indexOf('SYN_SENT'));
        });
      } finally {
        h.close();
      }
    });
  },
);

for (const hook of HOOKS) {
  test.serial(
    `${hook}: forwarding decrements the IPv4 TTL (checksum updated) and the IPv6 hop limit; TTL/hop limit <= 1 goes to the stack untouched, counted`,
    async (t) => {
      await withNetns(async (ns, lbMac) => {
        const ip = (...args: string[]): Promise<unknown> => execa('ip', ['-n', ns, ...args]);
        await ip('addr', 'add', 'fd00:1::1/64', 'dev', 'xlb0', 'nodad');
        await ip('neigh', 'replace', 'fd00:1::11', 'lladdr', B1_MAC, 'dev', 'xlb0', 'nud', 'permanent');
        await execa('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
        const h = openHarness(hook, { config: { flags: 0, fib_table: 0, fib_cache_ms: 60_000 } });
        try {
          h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 80 }] });
          h.service({ id: 2, vip: 'fd00:100::1', port: 80, endpoints: [{ ip: 'fd00:1::11', port: 80 }] });
          const fwdVerdict = hook === 'xdp' ? 'tx' : 'redirect';
          const eth = { src: '02:00:00:00:00:c1', dst: lbMac };
          const out = { src: lbMac, dst: B1_MAC };
          inNetns(ns, () => {
            const dev = ifindex('xlb0');
            h.reasonDelta();
            // TTL 1 (IPv4) and hop limit 1 (IPv6): untouched, to the stack, no flow created
            for (const [src, dst] of [
              [CLIENT, VIP],
              ['fd00:2::10', 'fd00:100::1'],
            ] as const) {
              const expiring = buildFrame({ eth, ip: { src, dst, ttl: 1 }, tcp: { sport: 3000, dport: 80, flags: 'S' } });
              const r = h.run(expiring, dev);
              t.is(r.verdict, 'pass');
              t.deepEqual(r.data, expiring, 'byte-identical');
              t.is(h.flow({ src, dst, sport: 3000, dport: 80, proto: 'tcp' }), undefined);
            }
            t.deepEqual(h.reasonDelta(), { pass_ttl: 2 });
            // TTL 2 / hop limit 2: forwarded with 1, both by the new flow (FIB lookup) and by its next packet (cached next hop)
            for (const [i, flags] of (['S', 'A'] as const).entries()) {
              const r4 = h.run(
                buildFrame({ eth, ip: { src: CLIENT, dst: VIP, ttl: 2 }, tcp: { sport: 3001, dport: 80, seq: i, flags } }),
                dev,
              );
              t.is(r4.verdict, fwdVerdict);
              t.deepEqual(
                r4.data,
                buildFrame({ eth: out, ip: { src: CLIENT, dst: B1, ttl: 1 }, tcp: { sport: 3001, dport: 80, seq: i, flags } }),
              );
              const r6 = h.run(
                buildFrame({ eth, ip: { src: 'fd00:2::10', dst: 'fd00:100::1', ttl: 2 }, tcp: { sport: 3001, dport: 80, seq: i, flags } }),
                dev,
              );
              t.is(r6.verdict, fwdVerdict);
              t.deepEqual(
                r6.data,
                buildFrame({
                  eth: out,
                  ip: { src: 'fd00:2::10', dst: 'fd00:1::11', ttl: 1 },
                  tcp: { sport: 3001, dport: 80, seq: i, flags },
                }),
              );
            }
          });
          t.like(h.reasonDelta(), { new_flow: 2 });
        } finally {
          h.close();
        }
      });
    },
  );
}
