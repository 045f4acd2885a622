// UDP conntrack: a datagram (UDP_NEW), its answer (UDP_SEEN), the client again
// (UDP_ESTABLISHED); alive while within its state's timeout, a new flow after it.
import { scenario } from '../../src/harness/index.ts';
import { client1, svc } from '../_lib.ts';

const SPORT = 40_100;

export default scenario({
  description:
    'UDP_NEW → UDP_SEEN → UDP_ESTABLISHED on one fixed tuple; after 59 s idle (timeout 60) still the same flow, after 61 s more a new one',
  timeoutsS: { UDP_ESTABLISHED: 60 },
  services: (topo) => [svc(topo, 'udp', { algorithm: 'hash' })],
  async run({ client, advance, expect, observe, topo }) {
    const flow = { clientIp: client1(topo).ipv4, clientPort: SPORT };
    const send = () => client({ proto: 'udp', target: topo.vip4, count: 1, sport: SPORT, payload: 8 });
    expect.allConnected(await send(), 'first datagram answered');
    expect.ctState(await observe(), flow, 'UDP_SEEN', 'after one answer');
    expect.allConnected(await send(), 'second datagram answered');
    const est = await observe();
    expect.ctState(est, flow, 'UDP_ESTABLISHED', 'after the client spoke again');
    expect.ctTransitions(est, flow, ['UDP_NEW', 'UDP_SEEN', 'UDP_ESTABLISHED']);
    await advance(59);
    expect.allConnected(await send(), 'answered after 59 s idle');
    expect.reasons(await observe(), { new_flow: 1 }, 'within the timeout: the same flow');
    await advance(61);
    expect.allConnected(await send(), 'answered after 61 s idle');
    expect.reasons(await observe(), { new_flow: 2 }, 'past the timeout: a new flow');
  },
});
