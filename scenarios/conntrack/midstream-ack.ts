// The documented mid-stream policy (default `select`): a TCP segment without SYN for no known
// flow (after an LB restart without its maps, an LRU eviction) creates the flow as ESTABLISHED
// and is forwarded (midstream_new), as Katran does, so with hashing the connection can survive.
// Here the backend has no such connection and answers with a bare RST (seq = the segment's
// ack): its sequence is unknown, but the RST matches the client's last ack, so it is plausible
// and closes the flow.
import { scenario } from '../../src/harness/index.ts';
import { backend, client1, frameToLb, nodesThatSaw, phantomClient, svc } from '../_lib.ts';

const SPORT = 41_300;
const ACK = 900_000;

export default scenario({
  description:
    'a mid-stream ACK with data and no entry: midstream_new, ESTABLISHED, forwarded DNAT; the backend bare RST (seq = that ack) is accepted: CLOSED',
  services: (topo) => [svc(topo, 'tcp', { algorithm: 'maglev' })],
  async run({ world, expect, observe, captures, topo }) {
    const c = client1(topo);
    const src = phantomClient(topo);
    await world.inject(c.name, [
      frameToLb(topo, c.name, {
        ip: { src, dst: topo.vip4 },
        tcp: { sport: SPORT, dport: 7000, seq: 12_345, ack: ACK, flags: 'PA' },
        payload: 'hello',
      }),
    ]);
    const obs = await observe();
    expect.reasons(obs, { midstream_new: 1, new_flow: 0, drop_rst_invalid: 0 });
    expect.ctTransitions(obs, { clientIp: src, clientPort: SPORT }, ['ESTABLISHED', 'CLOSED']);
    const links = await captures();
    const hits = nodesThatSaw(
      links,
      topo.backends.map((b) => b.name),
      { 'ip.src': src, 'tcp.sport': SPORT },
    );
    expect.equal(hits.length, 1, 'exactly one backend saw the segment');
    const b = backend(
      topo,
      Math.max(
        0,
        topo.backends.findIndex((x) => x.name === hits[0]),
      ),
    );
    expect.packet(
      links,
      {
        on: b.name,
        pattern: { fields: { 'ip.src': src, 'ip.dst': b.ipv4, 'tcp.flags': 'P.', payload: Buffer.from('hello').toString('hex') } },
        count: 1,
      },
      'the segment reaches its backend, destination rewritten',
    );
    expect.packet(
      links,
      { on: b.name, pattern: { fields: { 'ip.src': b.ipv4, 'tcp.flags': 'R', 'tcp.seq': ACK } }, count: 1 },
      'the backend answers with a bare RST at the ack',
    );
  },
});
