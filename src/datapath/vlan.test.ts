// VLAN-tagged frames are never forwarded by the LB itself (issue 11 item 10, docs/datapath.md
// "VLAN"): with a route and a known neighbour for the backend (where an untagged frame is
// redirected with new MACs), a tagged frame to the VIP is translated and handed to the stack,
// its tags, MACs and TTL as they came (the stack's VLAN devices forward it). Failed at 1ca44ca:
// the tagged frame was redirected / XDP_TX'd to the FIB's egress with its ingress tags.
import test from 'ava';
import { execa } from 'execa';
import { ifindex, inNetns } from '../bpf/index.ts';
import { buildFrame } from '../packet/index.ts';
import type { FrameSpec } from '../packet/index.ts';
import { HOOKS, openHarness } from './prog-run.ts';
import { readFwdResults } from './maps.ts';
import { withVethNamespace } from './scratch-netns.ts';

const CLIENT = '198.18.0.10';
const VIP = '198.18.100.1';
const B1 = '198.18.1.11';
const B1_MAC = '02:00:00:00:b1:01';
const LB_MAC = '02:00:00:00:00:aa';
const C_MAC = '02:00:00:00:00:c1';

for (const hook of HOOKS) {
  test.serial(
    `${hook}: a tagged frame (802.1Q, QinQ) to a VIP is translated and passed to the stack, never redirected with its tags`,
    async (t) => {
      await withVethNamespace('dpv', LB_MAC, async (ns, ip) => {
        await ip('addr', 'add', '198.18.1.1/24', 'dev', 'xlb0');
        await ip('neigh', 'replace', B1, 'lladdr', B1_MAC, 'dev', 'xlb0', 'nud', 'permanent');
        await execa('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.all.forwarding=1']);
        const h = openHarness(hook, { config: { flags: 0, fib_table: 0, fib_cache_ms: 60_000 } });
        try {
          h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 8080 }] });
          inNetns(ns, () => {
            const dev = ifindex('xlb0');
            const spec = (vlan: FrameSpec['vlan'], sport: number, dst: string, dport: number): FrameSpec => ({
              eth: { src: C_MAC, dst: LB_MAC },
              vlan,
              ip: { src: CLIENT, dst },
              tcp: { sport, dport, flags: 'S' },
            });
            // the untagged control: forwarded by the LB (new MACs, TTL 63)
            const plain = h.run(buildFrame(spec(undefined, 1000, VIP, 80)), dev);
            t.is(plain.verdict, hook === 'xdp' ? 'tx' : 'redirect');
            const before = readFwdResults(h.dp).pass_fib.packets;
            const tagsets: FrameSpec['vlan'][] = [[100], [{ id: 200, tpid: 0x88a8 }, 300]];
            for (const [i, vlan] of tagsets.entries()) {
              const r = h.run(buildFrame(spec(vlan, 1001 + i, VIP, 80)), dev);
              t.is(r.verdict, 'pass', `${JSON.stringify(vlan)}: to the stack`);
              t.deepEqual(
                r.data,
                buildFrame(spec(vlan, 1001 + i, B1, 8080)),
                `${JSON.stringify(vlan)}: translated; tags, MACs and TTL as they came`,
              );
            }
            t.is(readFwdResults(h.dp).pass_fib.packets, before + 2n, 'both counted pass_fib');
          });
        } finally {
          h.close();
        }
      });
    },
  );
}
