// A service as the differential and heal cases, the fuzzer and the model's tests write it
// (CaseService), and program(): the service written through the controller's Datapath interface
// the way reconcile does it (inactive generation, then the flip).
import type { Datapath, DpEndpoint } from '../controller/datapath.ts';
import type { Algorithm, Mode } from '../controller/types.ts';
import type { ModelService } from './control.ts';

export interface CaseService {
  id: number;
  vip: string;
  port: number;
  protocol?: 'tcp' | 'udp' | 'icmp';
  portEnd?: number;
  mode?: Mode;
  algorithm?: Algorithm;
  persistenceTimeoutS?: number;
  policer?: { ratePps: number; burst: number };
  endpoints: Array<{ ip: string; port: number; weight?: number; active?: boolean }>;
}

/** Writes the service's next generation and flips to it (first time: generation 0). */
export function program(dp: Datapath & { putService(s: ModelService): void }, s: CaseService): void {
  const key = { vip: s.vip, port: s.port, protocol: s.protocol ?? 'tcp' } as const;
  const cur = s.protocol === 'icmp' ? undefined : dp.getService({ vip: s.vip, port: s.port, protocol: s.protocol ?? 'tcp' });
  const gen: 0 | 1 = cur === undefined ? 0 : cur.generation === 0 ? 1 : 0;
  const eps: DpEndpoint[] = s.endpoints.map((e) => ({ ip: e.ip, port: e.port, weight: e.weight ?? 1, active: e.active ?? true }));
  dp.writeGeneration(s.id, gen, s.algorithm ?? 'rr', eps);
  dp.putService({
    key,
    id: s.id,
    portEnd: s.portEnd ?? 0,
    mode: s.mode ?? 'dnat',
    algorithm: s.algorithm ?? 'rr',
    persistenceTimeoutS: s.persistenceTimeoutS ?? 0,
    policer: s.policer ?? { ratePps: 0, burst: 0 },
    endpointCount: eps.length,
    generation: gen,
  });
}
