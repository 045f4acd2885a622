// The services the control bench programs: n services × e endpoints, every VIP/port distinct
// (198.18.128.0/17, then the next port), endpoints in 198.18.2.0/24. `variant` replaces the
// first endpoint of each service (a targeted update: one generation flip per service).
import type { Algorithm } from '../../src/controller/types.ts';

export function services(n: number, e: number, algorithm: Algorithm, variant = 0): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `svc-${i}`,
    vip: `198.18.${128 + ((i >> 8) & 127)}.${i & 255}`,
    port: 80 + (i >> 15),
    algorithm,
    endpoints: Array.from({ length: e }, (_, j) => ({ ip: `198.18.2.${((i + j + (j === 0 ? variant : 0)) % 250) + 1}`, port: 8080 + j })),
  }));
}
