// IPv6 TCP full NAT with bulk data: both addresses and both ports of every segment rewritten, the
// TCP checksum updated through the IPv6 pseudo-header each time; any slip shows as a bad
// checksum on some link (and as a stalled transfer, the stacks drop bad segments).
import { scenario } from '../../src/harness/index.ts';
import { badChecksums, resolvedTwoArm, svc } from '../_lib.ts';

export default scenario({
  description:
    'IPv6 TCP full NAT, 3 connections of 4 rounds × 1200 bytes echoed: all complete, every packet on every link has valid checksums',
  topology: resolvedTwoArm(),
  services: (topo) => [svc(topo, 'tcp', { mode: 'fullnat' }, 6)],
  async run({ client, expect, captures, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip6 ?? '', count: 3, rounds: 4, payload: 1200 });
    expect.allConnected(r);
    expect.sameBackendPerConnection(r);
    expect.equal(
      r.results.map((x) => x.bytesReceived >= 4 * 1200),
      [true, true, true],
      'every byte echoed back',
    );
    expect.equal(badChecksums(await captures()), [], 'every checksum valid');
  },
});
