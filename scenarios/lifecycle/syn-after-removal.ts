// Re-selection by a pure SYN (docs/datapath.md): a SYN on a tuple whose flow was reset (CLOSED)
// re-uses the recorded endpoint while it is usable, and re-selects when that endpoint was removed.
// Raw segments from an address no host owns, so only the scenario speaks for the client.
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { client1, frameToLb, nodesThatSaw, phantomClient, svc } from '../_lib.ts';

const SPORT = 46_200;

export default scenario({
  description: 'SYN → b1, RST (CLOSED), SYN again → b1 (usable); RST, b1 removed, SYN again → a new flow on another backend',
  services: (topo) => [svc(topo, 'tcp')],
  async run({ world, apply, expect, observe, captures, topo }) {
    const c = client1(topo);
    const src = phantomClient(topo);
    const seg = (seq: number, flags: string) =>
      frameToLb(topo, c.name, { ip: { src, dst: topo.vip4 }, tcp: { sport: SPORT, dport: 7000, seq, flags } });
    await world.inject(c.name, [seg(1000, 'S')]);
    await world.inject(c.name, [seg(1001, 'R')]);
    await world.inject(c.name, [seg(50_000, 'S')]);
    // The SYN on the CLOSED tuple restarts the flow (docs/datapath.md, TCP states): SYN_SENT again.
    const restart = [...(await observe()).trace].reverse().find((e) => e.tuple.src === src && e.tuple.sport === SPORT);
    expect.ok(
      restart?.ctBefore === 'CLOSED' && restart.ctAfter === 'SYN_SENT',
      'the SYN on the reset tuple restarts the flow: CLOSED → SYN_SENT',
      restart === undefined ? 'no trace event' : `${restart.ctBefore} → ${restart.ctAfter}`,
    );
    await world.inject(c.name, [seg(50_001, 'R')]);
    expect.reasons(await observe(), { new_flow: 1 }, 'the reopened tuple is the same flow while b1 is usable');
    await apply([svc(topo, 'tcp', { endpoints: backendEndpoints(topo, 7000).slice(1) })]);
    await world.inject(c.name, [seg(90_000, 'S')]);
    expect.reasons(await observe(), { new_flow: 2 }, 'with b1 removed, the SYN is a new flow');
    const links = await captures();
    const b1 = topo.backends[0]?.ipv4 ?? '';
    expect.packet(
      links,
      { on: 'b1', pattern: { fields: { 'ip.src': src, 'ip.dst': b1, 'tcp.flags': 'S' } }, count: 2 },
      'both SYNs before the removal reach b1',
    );
    const later = nodesThatSaw(links, ['b2', 'b3'], { 'ip.src': src, 'tcp.seq': 90_000 });
    expect.ok(later.length === 1, 'the SYN after the removal reaches b2 or b3', 'neither saw it');
    expect.noPacket(
      links,
      { on: 'b1', pattern: { fields: { 'ip.src': src, 'tcp.seq': 90_000 } }, sanity: { on: c.name } },
      'the SYN after the removal does not reach b1',
    );
  },
});
