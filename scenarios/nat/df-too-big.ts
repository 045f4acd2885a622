// An oversize packet with DF (docs/datapath.md "Oversize packets"): the link from the LB to the
// backends has MTU 1280, the client sends a 1,428-byte UDP datagram with DF to the VIP. The LB
// cannot forward it and must not fragment it: the datapath answers with ICMP frag-needed (MTU
// 1280) from the VIP, quoting the client's own datagram (client → VIP:7001), which the client's
// stack matches to its socket (path-MTU discovery through the LB). Before, the LB's stack
// answered about the translated datagram (client → b:7001), which the client cannot match.
// Lab only: sim and prog have no FIB, their datapath never forwards a packet itself (pass_fib),
// and the virtual LB's stack answers as the kernel's stack did before the fix.
import { scenario, twoArm } from '../../src/harness/index.ts';
import type { TopologySpec } from '../../src/topology/topology.ts';
import { client1, frameToLb, svc } from '../_lib.ts';

const SPORT = 47_200;

function smallBackendLink(): TopologySpec {
  const t = twoArm({ staticNeighbours: true });
  return { ...t, segments: t.segments.map((s) => (s.name === 'backends' ? { ...s, mtu: 1280 } : s)) };
}

export default scenario({
  description:
    'backend link MTU 1280, a 1428-byte UDP datagram with DF to the VIP: the client gets frag-needed (MTU 1280) from the VIP quoting its own datagram; no backend sees it',
  topology: smallBackendLink(),
  services: (topo) => [svc(topo, 'udp')],
  backends: {
    sim: 'the model has no FIB or MTU: its datapath never forwards a packet itself (the virtual LB stack answers about the translated datagram)',
    prog: 'BPF_PROG_TEST_RUN with the empty FIB table: the datapath never forwards a packet itself',
  },
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    await world.inject(c.name, [
      frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4, df: true }, udp: { sport: SPORT, dport: 7001 }, payload: 1400 }),
    ]);
    expect.reasons(await observe(), { new_flow: 1 }, 'the datagram opened a flow');
    const links = await captures();
    expect.packet(
      links,
      {
        on: c.name,
        pattern: {
          fields: {
            'ip.src': topo.vip4,
            'ip.dst': c.ipv4,
            'icmp.type': 'dest-unreachable',
            'icmp.code': 4,
            'icmp.mtu': 1280,
            'inner.ip.src': c.ipv4,
            'inner.ip.dst': topo.vip4,
            'inner.sport': SPORT,
            'inner.dport': 7001,
            checksums: 'ok',
          },
        },
        count: 1,
      },
      'the client gets frag-needed from the VIP about its own datagram',
    );
    expect.noPacket(
      links,
      { on: topo.backends.map((b) => b.name), pattern: { fields: { 'udp.sport': SPORT } }, sanity: { on: c.name } },
      'no backend sees the datagram',
    );
  },
});
