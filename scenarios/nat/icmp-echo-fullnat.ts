// ICMP echo under full NAT (docs/datapath.md, Full NAT): the echo identifier is the flow's
// "port", so the LB allocates one like a source port and rewrites it (with the source address)
// on the way in, and restores the client's on the way back: the backend sees the LB's address
// and the allocated identifier, the client its own.
import { scenario } from '../../src/harness/index.ts';
import { ECHO_NOT_ON_LAB, client1, frameToLb, nodesThatSaw, putEchoService, svc } from '../_lib.ts';

const ID = 4242;

export default scenario({
  description:
    "echo service in full NAT: the backend sees the LB's source and the allocated identifier, the client gets its reply from the VIP with its own identifier",
  backends: { lab: ECHO_NOT_ON_LAB },
  services: (topo) => [svc(topo, 'tcp')],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    putEchoService(
      world,
      topo.vip4,
      'fullnat',
      topo.backends.map((b) => b.ipv4),
    );
    await world.inject(c.name, [
      frameToLb(topo, c.name, { ip: { src: c.ipv4, dst: topo.vip4 }, icmp: { type: 'echo-request', id: ID, seq: 7 }, payload: 24 }),
    ]);
    const obs = await observe();
    expect.reasons(obs, { new_flow: 1 });
    const fwd = obs.conntrack.find((e) => !e.reply && e.key.src === c.ipv4 && e.key.proto === 'icmp');
    if (fwd === undefined) throw new Error('the echo flow has no forward entry');
    expect.ok(
      fwd.xlate.saddr && fwd.xlate.sport,
      'the forward entry rewrites the source address and the identifier',
      JSON.stringify(fwd.xlate),
    );
    const links = await captures();
    const names = topo.backends.map((b) => b.name);
    const at = nodesThatSaw(links, names, { 'icmp.type': 'echo-request', 'icmp.seq': 7 });
    expect.equal(at.length, 1, 'one backend saw the echo request');
    const b = topo.backends.find((x) => x.name === at[0]);
    if (b !== undefined) {
      expect.packet(
        links,
        {
          on: b.name,
          pattern: {
            fields: { 'ip.src': fwd.nat.src, 'ip.dst': b.ipv4, 'icmp.type': 'echo-request', 'icmp.id': fwd.nat.sport, checksums: 'ok' },
          },
          count: 1,
        },
        `the backend sees the LB's address and the allocated identifier ${fwd.nat.sport}`,
      );
      expect.noPacket(
        links,
        { on: b.name, pattern: { fields: { 'icmp.type': 'echo-request', 'icmp.id': ID } }, sanity: { on: c.name } },
        "the client's identifier does not reach the backend",
      );
    }
    expect.ok(fwd.nat.sport !== ID, "the allocated identifier differs from the client's here", `allocated ${fwd.nat.sport}`);
    expect.packet(
      links,
      {
        on: c.name,
        pattern: { fields: { 'ip.src': topo.vip4, 'icmp.type': 'echo-reply', 'icmp.id': ID, 'icmp.seq': 7, checksums: 'ok' } },
        count: 1,
      },
      'the reply reaches the client from the VIP with its own identifier',
    );
  },
});
