// The service and endpoint counters (xlb_svc_stats, xlb_ep_stats; what /v1/stats and the metrics
// report) agree with the flows they count: per endpoint slot, the packets and bytes of the flows
// on it, both directions (a reply entry counts against its flow's slot); per service, the flows
// created and the packets dropped for it (a bare RST with no flow: drop_midstream).
import { flowEntries, scenario } from '../../src/harness/index.ts';
import { client1, frameToLb, phantomClient, serviceCounters, svc } from '../_lib.ts';

const SPORT = 44_400;

export default scenario({
  description:
    "rr over 3 backends, 3 TCP connections and a stray RST: per-slot packets/bytes = the slot's flows (both entries), service flows 3, drops 1",
  services: (topo) => [svc(topo, 'tcp')],
  allowDrops: ['drop_midstream'],
  async run({ client, world, expect, observe, topo }) {
    const c = client1(topo);
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 3, sport: SPORT, payload: 200 });
    expect.allConnected(r);
    // A bare RST for no flow is dropped for the service (drop_midstream, counted as its drop).
    await world.inject(c.name, [
      frameToLb(topo, c.name, {
        ip: { src: phantomClient(topo), dst: topo.vip4 },
        tcp: { sport: 44_499, dport: 7000, seq: 1, flags: 'R' },
      }),
    ]);
    const obs = await observe();
    expect.reasons(obs, { new_flow: 3, drop_midstream: 1 });
    const ids = [...obs.counters.services.keys()];
    expect.equal(ids.length, 1, 'one service counted');
    const id = ids[0] ?? -1;
    const want = new Map<number, { packets: number; bytes: number }>();
    let packets = 0;
    let bytes = 0;
    for (let i = 0; i < 3; i++) {
      const pair = flowEntries(obs, { clientIp: c.ipv4, clientPort: SPORT + i });
      const [fwd, rep] = pair;
      if (fwd === undefined || rep === undefined) {
        expect.ok(false, `connection ${i} has both conntrack entries`, `found ${pair.length}`);
        continue;
      }
      expect.equal(rep.endpointSlot, fwd.endpointSlot, `connection ${i}: the reply entry names its flow's endpoint slot`);
      const w = want.get(fwd.endpointSlot) ?? { packets: 0, bytes: 0 };
      w.packets += fwd.packets + rep.packets;
      w.bytes += fwd.bytes + rep.bytes;
      want.set(fwd.endpointSlot, w);
      packets += fwd.packets + rep.packets;
      bytes += fwd.bytes + rep.bytes;
    }
    expect.equal(want.size, 3, 'round-robin put the three connections on three slots');
    const eps = obs.counters.endpoints.get(id) ?? new Map<number, { packets: number; bytes: number }>();
    for (const [slot, w] of want) {
      const got = eps.get(slot) ?? { packets: 0, bytes: 0 };
      expect.equal(got.packets, w.packets, `endpoint slot ${slot}: packets = its flow's, both directions`);
      expect.equal(got.bytes, w.bytes, `endpoint slot ${slot}: bytes = its flow's, both directions`);
    }
    const s = serviceCounters(obs, id);
    expect.equal(s.flows, 3, 'the service counted 3 flows');
    expect.equal(s.drops, 1, 'the service counted the dropped RST');
    const rst = 54; // Ethernet + IPv4 + TCP, no options
    expect.equal(s.packets, packets + 1, 'the service counted every packet of its flows and the RST');
    expect.equal(s.bytes, bytes + rst, 'the service counted every byte of its flows and the RST');
  },
});
