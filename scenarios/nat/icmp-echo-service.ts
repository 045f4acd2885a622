// ICMP echo services (docs/datapath.md: port 0, protocol icmp, the echo identifier as the flow's
// source port): two echo flows of one client with different identifiers are two flows, balanced
// round-robin onto two backends, each reply coming back from the VIP with its identifier; an
// echo reply to the VIP that belongs to no flow is not balanced (pass_no_service: "not ours").
import { scenario } from '../../src/harness/index.ts';
import { ECHO_NOT_ON_LAB, client1, frameToLb, nodesThatSaw, putEchoService, svc } from '../_lib.ts';

export default scenario({
  description:
    'echo service rr over 3 backends: identifiers 100 and 101 of one client → two flows on b1 and b2, replies from the VIP; an unsolicited echo reply to the VIP passes (pass_no_service)',
  backends: { lab: ECHO_NOT_ON_LAB },
  services: (topo) => [svc(topo, 'tcp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    putEchoService(
      world,
      topo.vip4,
      'dnat',
      topo.backends.map((b) => b.ipv4),
    );
    const echo = (id: number, type: 'echo-request' | 'echo-reply') =>
      frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4 }, icmp: { type, id, seq: 1 }, payload: 24 });
    await world.inject(c.name, [echo(100, 'echo-request')]);
    await world.inject(c.name, [echo(101, 'echo-request')]);
    let obs = await observe();
    expect.reasons(obs, { new_flow: 2 }, 'each identifier is a flow of its own');
    const fwd = obs.conntrack.filter((e) => !e.reply && e.key.src === c.ipv4 && e.key.proto === 'icmp');
    expect.equal(fwd.length, 2, 'two forward entries, one per identifier');
    // An echo reply from the client to the VIP, for no flow: not balanced, no entry.
    await world.inject(c.name, [echo(555, 'echo-reply')]);
    obs = await observe();
    expect.reasons(obs, { new_flow: 2, pass_no_service: 1 }, 'the unsolicited echo reply is passed as not ours');
    expect.equal(obs.conntrack.filter((e) => e.key.proto === 'icmp').length, 4, 'still two flows (four entries)');
    const links = await captures();
    const names = topo.backends.map((b) => b.name);
    const first = nodesThatSaw(links, names, { 'icmp.type': 'echo-request', 'icmp.id': 100 });
    const second = nodesThatSaw(links, names, { 'icmp.type': 'echo-request', 'icmp.id': 101 });
    expect.ok(
      first.length === 1 && second.length === 1 && first[0] !== second[0],
      'the two echo flows reached two different backends (rr)',
      `id 100 on ${first.join(',') || 'none'}, id 101 on ${second.join(',') || 'none'}`,
    );
    for (const id of [100, 101])
      expect.packet(
        links,
        { on: c.name, pattern: { fields: { 'ip.src': topo.vip4, 'icmp.type': 'echo-reply', 'icmp.id': id, checksums: 'ok' } }, count: 1 },
        `the reply to identifier ${id} reaches the client from the VIP`,
      );
    expect.noPacket(
      links,
      { on: names, pattern: { fields: { 'icmp.id': 555 } }, sanity: { on: c.name } },
      'no backend sees the unsolicited echo reply',
    );
  },
});
