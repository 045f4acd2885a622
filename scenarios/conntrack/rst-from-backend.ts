// A backend refusing a connection: the endpoint port has no listener, the backend answers the
// SYN with RST+ACK. Its sequence is unknown to the LB, but its ack is exactly the client's next
// sequence, so the RST is plausible: CLOSED, forwarded from the VIP, the client sees a refusal
// (not a timeout).
import { scenario } from '../../src/harness/index.ts';
import { backendEndpoints } from '../../src/harness/index.ts';
import { client1, svc } from '../_lib.ts';

export default scenario({
  description:
    'endpoint port closed: the backend RST+ACK is accepted (SYN_SENT → CLOSED) and reaches the client from VIP:7000, which sees the connection refused',
  services: (topo) => [svc(topo, 'tcp', { endpoints: backendEndpoints(topo, 7999) })],
  async run({ client, expect, observe, captures, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 1, timeoutMs: 1000 });
    const conn = r.results[0];
    expect.ok(conn !== undefined && conn.error !== null, 'the connection failed', 'it succeeded');
    const c = client1(topo);
    const links = await captures();
    expect.packet(
      links,
      { on: c.name, pattern: { fields: { 'ip.src': topo.vip4, 'tcp.sport': 7000, 'tcp.flags': 'R.', checksums: 'ok' } }, count: 1 },
      'the RST reaches the client from VIP:7000',
    );
    const obs = await observe();
    const sport = conn?.sport;
    if (sport != null) expect.ctTransitions(obs, { clientIp: c.ipv4, clientPort: sport }, ['SYN_SENT', 'CLOSED']);
    expect.reasons(obs, { new_flow: 1, drop_rst_invalid: 0 });
  },
});
