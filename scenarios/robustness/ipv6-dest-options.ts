// IPv6 UDP to the VIP behind a 16-byte destination-options header (hdr ext len 1: a 12-byte
// option of the RFC 3692 experimental type 0x1e, whose high bits say "skip if unknown", and a
// PadN of 2; not one long PadN: Linux drops padding longer than 7 bytes, RFC 4942): the parser walks the extension chain by each header's own length
// (docs/datapath.md, Parsing), finds the UDP ports after it, and the flow is balanced and
// translated like any other, the extension header kept.
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, nodesThatSaw, svc } from '../_lib.ts';

const SPORT = 47_600;
/** An experimental option (type 0x1e: skip when unknown) with 10 data bytes; the builder pads the header to 16 bytes. */
const EXPERIMENT_10 = new Uint8Array([0x1e, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

export default scenario({
  description:
    'IPv6 UDP to the VIP behind a 16-byte destination-options header: balanced (new_flow) by its real ports, reaching one backend translated, options kept',
  services: (topo) => [svc(topo, 'udp', { algorithm: 'maglev' }, 6)],
  async run({ backend: where, world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const vip6 = topo.vip6 ?? '';
    await world.inject(c.name, [
      frameToLb(topo, c.name, {
        ip: { src: c.ipv6, dst: vip6, extensions: [{ type: 'dest-opts', options: EXPERIMENT_10 }] },
        udp: { sport: SPORT, dport: 7001 },
        payload: 24,
      }),
    ]);
    let obs = await observe();
    // The backend's answer (UDP_SEEN) is in before observe() on sim/prog; on lab, wait for it (at most 3 s).
    for (let i = 0; where === 'lab' && i < 60 && !obs.conntrack.some((e) => e.key.sport === SPORT && e.state === 'UDP_SEEN'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      obs = await observe();
    }
    // (pass_no_service is not asserted: on lab, neighbour discovery counts there.)
    expect.reasons(obs, { new_flow: 1, drop_malformed: 0 });
    const ev = obs.trace.filter((e) => e.tuple.src === c.ipv6 && e.tuple.dst === vip6 && e.tuple.proto === 'udp');
    expect.ok(
      ev.length === 1 && ev[0]?.reason === 'new_flow' && ev[0].tuple.sport === SPORT,
      'the datagram itself was balanced by its UDP ports',
      ev.map((e) => `${e.reason} ${e.tuple.proto} ${e.tuple.sport} → ${e.tuple.dport}`).join('; ') || 'no trace event',
    );
    const fwd = obs.conntrack.find((e) => !e.reply && e.key.src === c.ipv6 && e.key.sport === SPORT);
    expect.ok(
      fwd !== undefined && fwd.key.dport === 7001 && fwd.key.proto === 'udp',
      'the flow is tracked by its UDP ports (sport 47600 → 7001)',
      fwd === undefined ? 'no entry with that source port' : `entry ${fwd.key.proto} ${fwd.key.sport} → ${fwd.key.dport}`,
    );
    const links = await captures();
    const hits = nodesThatSaw(
      links,
      topo.backends.map((b) => b.name),
      { 'ip.src': c.ipv6, 'udp.sport': SPORT },
    );
    expect.equal(hits.length, 1, 'exactly one backend saw the datagram');
    const b = backend(
      topo,
      Math.max(
        0,
        topo.backends.findIndex((x) => x.name === hits[0]),
      ),
    );
    expect.packet(
      links,
      { on: b.name, pattern: { fields: { 'ip.dst': b.ipv6, 'udp.dport': 7001, checksums: 'ok' } }, count: 1 },
      'the datagram reaches its backend translated, checksum valid',
    );
  },
});
