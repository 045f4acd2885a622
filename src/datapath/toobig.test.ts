// Packet too big (docs/datapath.md "Oversize packets"): in a throwaway namespace whose egress
// towards the backend has MTU 1280, a client packet longer than that with DF set is answered by
// the datapath itself with ICMP fragmentation-needed built from the original packet (VIP → client,
// quoting client → VIP:port, next-hop MTU 1280), out of the ingress device; without DF it goes to
// the stack translated, as before. Both next-hop paths: a new flow's FIB lookup and an
// established flow's cached next hop (bpf_check_mtu). Expected frames come from the packet
// toolkit (an exact byte match proves every checksum).
import test from 'ava';
import { execa } from 'execa';
import { ifindex, inNetns } from '../bpf/index.ts';
import { buildFrame } from '../packet/index.ts';
import { HOOKS, openHarness } from './prog-run.ts';
import { readFwdResults } from './maps.ts';
import { withVethNamespace } from './scratch-netns.ts';

const CLIENT = '198.18.0.10';
const CLIENT_MAC = '02:00:00:00:00:c1';
const VIP = '198.18.100.1';
const B1 = '198.18.1.11';
const B1_MAC = '02:00:00:00:b1:01';
const LB_MAC = '02:00:00:00:00:aa';
const eth = { src: CLIENT_MAC, dst: LB_MAC };

/** The ICMP frag-needed the LB must send for `frame` (an untagged IPv4 frame from the client). */
function fragNeeded(frame: Buffer, mtu: number): Buffer {
  return buildFrame({
    eth: { src: LB_MAC, dst: CLIENT_MAC },
    ip: { src: VIP, dst: CLIENT, ttl: 64 },
    icmp: { type: 'dest-unreachable', code: 'frag-needed', mtu, inner: frame.subarray(14), quoteLength: 128 },
  });
}

for (const hook of HOOKS) {
  test.serial(
    `${hook}: an oversize DF packet gets ICMP frag-needed about itself (new flow and cached next hop); without DF it goes to the stack`,
    async (t) => {
      await withVethNamespace('dtb', LB_MAC, async (ns, ip) => {
        await ip('addr', 'add', '198.18.1.1/24', 'dev', 'xlb0');
        await ip('link', 'set', 'xlb0', 'mtu', '1280');
        await ip('neigh', 'replace', B1, 'lladdr', B1_MAC, 'dev', 'xlb0', 'nud', 'permanent');
        await execa('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.all.forwarding=1']);
        const h = openHarness(hook, { config: { flags: 0, fib_table: 0, fib_cache_ms: 60_000 } });
        try {
          h.service({ id: 1, vip: VIP, port: 80, algo: 'rr', endpoints: [{ ip: B1, port: 80 }] });
          h.service({ id: 2, vip: VIP, port: 53, proto: 'udp', algo: 'rr', endpoints: [{ ip: B1, port: 53 }] });
          inNetns(ns, () => {
            const dev = ifindex('xlb0');
            const tx = hook === 'xdp' ? 'tx' : 'redirect';
            // new flow, FIB lookup: a 1400-byte UDP datagram with DF
            const big = buildFrame({ eth, ip: { src: CLIENT, dst: VIP, df: true }, udp: { sport: 5000, dport: 53 }, payload: 1372 });
            const r1 = h.run(big, dev);
            t.is(r1.verdict, tx, 'the error leaves through the ingress device');
            t.deepEqual(r1.data, fragNeeded(big, 1280), 'frag-needed from the VIP quoting the original datagram');
            // the same without DF: translated, to the stack (it fragments)
            const nodf = buildFrame({ eth, ip: { src: CLIENT, dst: VIP }, udp: { sport: 5001, dport: 53 }, payload: 1372 });
            const r2 = h.run(nodf, dev);
            t.is(r2.verdict, 'pass');
            t.deepEqual(r2.data, buildFrame({ eth, ip: { src: CLIENT, dst: B1 }, udp: { sport: 5001, dport: 53 }, payload: 1372 }));
            // an established TCP flow on its cached next hop
            h.run(buildFrame({ eth, ip: { src: CLIENT, dst: VIP, df: true }, tcp: { sport: 1000, dport: 80, flags: 'S' } }), dev);
            h.run(buildFrame({ ip: { src: B1, dst: CLIENT }, tcp: { sport: 80, dport: 1000, seq: 5, ack: 1, flags: 'SA' } }), dev);
            h.run(
              buildFrame({ eth, ip: { src: CLIENT, dst: VIP, df: true }, tcp: { sport: 1000, dport: 80, seq: 1, ack: 6, flags: 'A' } }),
              dev,
            );
            const seg = buildFrame({
              eth,
              ip: { src: CLIENT, dst: VIP, df: true },
              tcp: { sport: 1000, dport: 80, seq: 1, ack: 6, flags: 'PA' },
              payload: 1400,
            });
            const r3 = h.run(seg, dev);
            t.is(r3.verdict, tx);
            t.deepEqual(r3.data, fragNeeded(seg, 1280), 'frag-needed for the established flow');
            // a segment that fits still goes to the backend
            const fits = buildFrame({
              eth,
              ip: { src: CLIENT, dst: VIP, df: true },
              tcp: { sport: 1000, dport: 80, seq: 1, ack: 6, flags: 'PA' },
              payload: 1200,
            });
            const r4 = h.run(fits, dev);
            t.is(r4.verdict, tx);
            t.deepEqual(
              r4.data,
              buildFrame({
                eth: { src: LB_MAC, dst: B1_MAC },
                ip: { src: CLIENT, dst: B1, df: true, ttl: 63 },
                tcp: { sport: 1000, dport: 80, seq: 1, ack: 6, flags: 'PA' },
                payload: 1200,
              }),
            );
          });
          t.is(readFwdResults(h.dp).too_big.packets, 2n, 'counted too_big twice');
        } finally {
          h.close();
        }
      });
    },
  );
}
