// Self-test material (not part of the suite): a deliberately wrong configuration. The service's
// endpoints name port 7999, where no backend listens; the scenario expects what a correct
// configuration gives. The harness must fail it and say which host refused.
import { backendEndpoints, scenario, SERVER_PORTS } from '../index.ts';

export default scenario({
  description: 'deliberately misconfigured: the endpoints point at port 7999 (nothing listens there)',
  services: (topo) => [
    {
      name: 'echo',
      vip: topo.vip4,
      port: SERVER_PORTS.tcp,
      protocol: 'tcp',
      algorithm: 'rr',
      mode: 'dnat',
      endpoints: backendEndpoints(topo, 7999),
    },
  ],
  async run({ client, expect, topo }) {
    const r = await client({ proto: 'tcp', target: topo.vip4, count: 3, timeoutMs: 1000 });
    expect.allConnected(r);
  },
});
