// Per-entry accounting: each conntrack entry counts the packets and bytes (whole Ethernet
// frames) of its own direction. Three rounds of a 100-byte UDP exchange: forward 3 × 142 bytes
// (14 + 20 + 8 + 100), reply 3 × (142 + "bN\n").
import { flowEntries, scenario } from '../../src/harness/index.ts';
import { client1, svc } from '../_lib.ts';

const SPORT = 40_200;

export default scenario({
  description: 'a UDP flow of 3 exchanges of 100 bytes: forward entry 3 packets / 426 bytes, reply entry 3 packets / 435 bytes',
  services: (topo) => [svc(topo, 'udp')],
  async run({ client, expect, observe, topo }) {
    const r = await client({ proto: 'udp', target: topo.vip4, count: 1, sport: SPORT, rounds: 3, payload: 100 });
    expect.allConnected(r);
    const obs = await observe();
    const [fwd, rep] = flowEntries(obs, { clientIp: client1(topo).ipv4, clientPort: SPORT });
    expect.equal({ packets: fwd?.packets, bytes: fwd?.bytes }, { packets: 3, bytes: 3 * 142 }, 'forward entry counts');
    expect.equal(
      { packets: rep?.packets, bytes: rep?.bytes },
      { packets: 3, bytes: 3 * 145 },
      'reply entry counts (the answer carries "b1\\n" first)',
    );
  },
});
