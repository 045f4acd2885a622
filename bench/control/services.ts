// The services the control bench programs: n services × e endpoints, every VIP/port distinct
// (198.18.128.0/17, then the next port). Endpoints come from `pools` endpoint sets (service i
// takes set i mod pools): by default every service has its own e endpoints (no two services
// share a backend, the Maglev table cache of the kernel adapter never hits: the worst case);
// fewer pools model many VIPs/ports in front of the same backends. Endpoint addresses are
// 198.18.2.1 .. 198.18.121.250 × ports 8080 and up, all distinct. `variant` replaces the first
// endpoint of each service (a targeted update: one generation flip per service).
import type { Algorithm } from '../../src/controller/types.ts';

/** Endpoint `id` (0, 1, 2, …) of the bench: 30,000 addresses × consecutive ports. */
function endpoint(id: number): { ip: string; port: number } {
  const host = id % 30_000;
  return { ip: `198.18.${2 + Math.floor(host / 250)}.${(host % 250) + 1}`, port: 8080 + Math.floor(id / 30_000) };
}

export function services(n: number, e: number, algorithm: Algorithm, variant = 0, pools = n): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => {
    const pool = i % Math.max(1, pools);
    return {
      name: `svc-${i}`,
      vip: `198.18.${128 + ((i >> 8) & 127)}.${i & 255}`,
      port: 80 + (i >> 15),
      algorithm,
      endpoints: Array.from({ length: e }, (_, j) => {
        const ep = endpoint(pool * e + j);
        // A port no endpoint of the bench has (8080 + at most 100 above).
        return j === 0 && variant !== 0 ? { ip: ep.ip, port: ep.port + 20_000 * variant } : ep;
      }),
    };
  });
}
