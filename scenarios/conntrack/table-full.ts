// A full conntrack table (docs/datapath.md, Conntrack: xlb_ct is an LRU hash): with room for 64
// entries (32 flows), 60 UDP flows one after the other are all balanced and answered, each
// counted as a new flow; the table never holds more than its size, the oldest flows are the
// ones evicted, and an evicted flow's client sending again is simply a new flow (served, counted).
import { flowEntries, scenario } from '../../src/harness/index.ts';
import { client1, svc } from '../_lib.ts';

const SPORT = 48_000;
const FLOWS = 60;
const CT = 64;

export default scenario({
  description:
    'conntrack map of 64 entries, 60 UDP flows in sequence: all answered (new_flow 60), at most 64 entries, the first flow evicted; it comes back as a new flow, answered',
  ctEntries: CT,
  // The kernel's LRU is approximate (per-CPU free lists, eviction in batches: src/model/lru.ts):
  // which entries go first, and how many, differ from the model's exact LRU.
  differential: false,
  differentialOff:
    "the kernel's LRU evicts in batches from per-CPU lists; the model's is exact (src/model/lru.ts): the surviving entries differ",
  services: (topo) => [svc(topo, 'udp')],
  async run({ client, expect, observe, topo }) {
    const c = client1(topo);
    const r = await client({ proto: 'udp', target: topo.vip4, count: FLOWS, sport: SPORT, payload: 16 });
    expect.allConnected(r, 'every flow is answered while the table is full');
    let obs = await observe();
    expect.reasons(obs, { new_flow: FLOWS });
    expect.ok(obs.conntrack.length <= CT, `the table holds at most its ${CT} entries`, `${obs.conntrack.length} entries`);
    expect.equal(flowEntries(obs, { clientIp: c.ipv4, clientPort: SPORT }).length, 0, 'the first (least recently used) flow was evicted');
    expect.ok(flowEntries(obs, { clientIp: c.ipv4, clientPort: SPORT + FLOWS - 1 }).length === 2, 'the last flow has both entries');
    const again = await client({ proto: 'udp', target: topo.vip4, count: 1, sport: SPORT, payload: 16 });
    expect.allConnected(again, "the evicted flow's client is served again");
    obs = await observe();
    expect.reasons(obs, { new_flow: FLOWS + 1 }, 'as a new flow, counted');
  },
});
