// The datapath's counters (docs/datapath.md, "Counters"), one CPU: per reason and per
// forwarding result {packets, bytes}; per service {packets, bytes, flows, drops}; per endpoint
// slot {packets, bytes}. Bytes are frame lengths (Ethernet header, tags and any trailer included).
import { FWD_RESULT, REASON } from '../schema/maps.ts';
import type { FwdResultName, ReasonName } from '../schema/maps.ts';
import { MAX_EP } from './types.ts';

export interface PacketBytes {
  packets: number;
  bytes: number;
}

export interface SvcStats extends PacketBytes {
  flows: number;
  drops: number;
}

export class Counters {
  readonly reasons = new Map<ReasonName, PacketBytes>(REASON.map((r) => [r, { packets: 0, bytes: 0 }]));
  readonly fwd = new Map<FwdResultName, PacketBytes>(FWD_RESULT.map((r) => [r, { packets: 0, bytes: 0 }]));
  readonly services = new Map<number, SvcStats>();
  /** Index svc_id * 64 + slot. */
  readonly endpoints = new Map<number, PacketBytes>();

  reason(r: ReasonName, len: number): void {
    const c = this.reasons.get(r);
    if (c !== undefined) {
      c.packets++;
      c.bytes += len;
    }
  }

  forward(r: FwdResultName, len: number): void {
    const c = this.fwd.get(r);
    if (c !== undefined) {
      c.packets++;
      c.bytes += len;
    }
  }

  /** Service traffic; slot 0xffff (none) counts only the service. */
  service(svcId: number, slot: number, len: number, flow: boolean, drop: boolean): void {
    let s = this.services.get(svcId);
    if (s === undefined) {
      s = { packets: 0, bytes: 0, flows: 0, drops: 0 };
      this.services.set(svcId, s);
    }
    s.packets++;
    s.bytes += len;
    if (flow) s.flows++;
    if (drop) s.drops++;
    if (slot < MAX_EP) {
      const idx = svcId * MAX_EP + slot;
      let e = this.endpoints.get(idx);
      if (e === undefined) {
        e = { packets: 0, bytes: 0 };
        this.endpoints.set(idx, e);
      }
      e.packets++;
      e.bytes += len;
    }
  }

  serviceStats(svcId: number): SvcStats {
    return this.services.get(svcId) ?? { packets: 0, bytes: 0, flows: 0, drops: 0 };
  }

  endpointStats(svcId: number, slot: number): PacketBytes {
    return this.endpoints.get(svcId * MAX_EP + slot) ?? { packets: 0, bytes: 0 };
  }

  /** A deleted service's id starts from zero for the next service that takes it. */
  resetService(svcId: number): void {
    this.services.delete(svcId);
    for (let slot = 0; slot < MAX_EP; slot++) this.endpoints.delete(svcId * MAX_EP + slot);
  }
}
