// IPv4 TCP DNAT with payloads of every parity (odd lengths exercise the one's-complement
// padding): every rewritten segment keeps a valid TCP and IP header checksum.
import { scenario } from '../../src/harness/index.ts';
import { badChecksums, svc } from '../_lib.ts';

export default scenario({
  description: 'IPv4 TCP DNAT, connections with payloads of 1, 2, 999 and 1400 bytes: all echoed, every checksum on every link valid',
  services: (topo) => [svc(topo, 'tcp')],
  async run({ client, expect, captures, topo }) {
    for (const payload of [1, 2, 999, 1400]) {
      const r = await client({ proto: 'tcp', target: topo.vip4, count: 1, rounds: 2, payload });
      expect.allConnected(r, `payload ${payload} echoed`);
    }
    expect.equal(badChecksums(await captures()), [], 'every checksum valid');
  },
});
