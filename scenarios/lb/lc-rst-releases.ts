// Least-connection counts are released when a flow ends by RST (CLOSED), not only by FIN: three
// sequential connections refused by their backend (endpoint port closed) each find every count
// back at zero, so each goes to the lowest slot, b1. Were the count kept, they would spread.
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { svc } from '../_lib.ts';

export default scenario({
  description:
    'lc over 3 endpoints with closed ports: 3 sequential refused connections (RST, CLOSED) all reach b1, so each RST released its count',
  services: (topo) => [svc(topo, 'tcp', { algorithm: 'lc', endpoints: backendEndpoints(topo, 7999) })],
  async run({ client, expect, observe, captures, topo }) {
    for (let i = 0; i < 3; i++) {
      const r = await client({ proto: 'tcp', target: topo.vip4, count: 1, timeoutMs: 1000 });
      expect.ok(r.results[0]?.error != null, `connection ${i + 1} refused`, 'it succeeded');
    }
    expect.reasons(await observe(), { new_flow: 3 });
    const links = await captures();
    expect.packet(
      links,
      { on: 'b1', pattern: { fields: { 'ip.dst': topo.backends[0]?.ipv4 ?? '', 'tcp.dport': 7999, 'tcp.flags': 'S' } }, count: 3 },
      'all three SYNs reach b1',
    );
  },
});
