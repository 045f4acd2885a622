// Topologies of the virtual network's own tests (the built-ins are in src/topology/builtins.ts).
import type { TopologySpec } from '../../topology/topology.ts';

/** c1 — rt — b1: a client and a backend on two segments, a router between them. */
export const ROUTED: TopologySpec = {
  name: 'routed',
  nodes: [
    {
      name: 'c1',
      role: 'client',
      routes: [
        { to: '198.18.0.0/15', via: '198.18.1.1' },
        { to: 'fd00::/8', via: 'fd00:18:1::1' },
      ],
    },
    { name: 'rt', role: 'router' },
    {
      name: 'b1',
      role: 'backend',
      routes: [
        { to: '198.18.0.0/15', via: '198.18.2.1' },
        { to: 'fd00::/8', via: 'fd00:18:2::1' },
      ],
    },
  ],
  segments: [
    {
      name: 'left',
      ipv4: '198.18.1.0/24',
      ipv6: 'fd00:18:1::/64',
      members: [
        { node: 'rt', host: 1 },
        { node: 'c1', host: 10 },
      ],
    },
    {
      name: 'right',
      ipv4: '198.18.2.0/24',
      ipv6: 'fd00:18:2::/64',
      members: [
        { node: 'rt', host: 1 },
        { node: 'b1', host: 10 },
      ],
    },
  ],
};

export const B1 = { ipv4: '198.18.2.10', ipv6: 'fd00:18:2::10' } as const;
export const C1 = { ipv4: '198.18.1.10', ipv6: 'fd00:18:1::10' } as const;
