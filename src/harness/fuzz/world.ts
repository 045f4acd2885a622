// The fixed world every fuzz sequence runs in: services programmed through the Controller (the
// same class the agent runs) on each side, ICMP echo services written the way the differential
// test writes them (the controller holds TCP/UDP only), SNAT addresses set. A sequence's
// reproducer names only its steps: the world is this file.
import { Controller } from '../../controller/controller.ts';
import type { Datapath } from '../../controller/datapath.ts';
import type { DatapathUnderTest, Hook } from '../../datapath/packet-datapath.ts';
import { putService as putServiceEntry, writeEndpoints } from '../../datapath/maps.ts';
import { openProgDatapath } from '../../datapath/prog-datapath.ts';
import type { ProgDatapathUnderTest } from '../../datapath/prog-datapath.ts';
import { openModelDatapath } from '../../model/index.ts';
import { program } from '../../model/case-service.ts';
import type { CaseService } from '../../model/case-service.ts';
import type { ModelService } from '../../model/index.ts';

export const SNAT4 = '198.18.0.1';
export const SNAT6 = 'fd00::1';
export const VIPS4 = ['198.18.100.1', '198.18.100.2', '198.18.100.3'];
export const VIPS6 = ['fd00::100:1'];
export const CLIENTS4 = ['198.18.0.10', '198.18.0.11', '198.18.0.12', '198.18.0.13'];
export const CLIENTS6 = ['fd00::10', 'fd00::11'];
export const ROUTER4 = '198.18.0.254';
export const ROUTER6 = 'fd00::fe';
const B4 = ['198.18.1.11', '198.18.1.12', '198.18.1.13', '198.18.1.14'];
const B6 = ['fd00::1:11', 'fd00::1:12', 'fd00::1:13'];

export interface FuzzEndpoint {
  ip: string;
  port: number;
  weight?: number;
}

/** A service in the controller's input form (validated by it), plus what the generator needs. */
export interface FuzzService {
  name: string;
  vip: string;
  port: number;
  portEnd?: number;
  protocol: 'tcp' | 'udp';
  mode: 'dnat' | 'fullnat';
  algorithm: 'rr' | 'wrr' | 'hash' | 'maglev' | 'lc';
  persistence?: { timeoutS: number };
  policer?: { ratePps: number; burst: number };
  endpoints: FuzzEndpoint[];
  /** Endpoints an endpoint change may add (not in the initial set). */
  spare: FuzzEndpoint[];
}

const eps = (ips: string[], port: number, n: number): FuzzEndpoint[] => ips.slice(0, n).map((ip) => ({ ip, port }));

// `random` is left out on purpose: the model's PRNG is not bpf_get_prandom_u32, so the two sides
// legitimately choose different endpoints. DSR is left out: its replies never cross the LB.
export const SERVICES: FuzzService[] = [
  {
    name: 'web',
    vip: VIPS4[0]!,
    port: 80,
    protocol: 'tcp',
    mode: 'dnat',
    algorithm: 'rr',
    endpoints: eps(B4, 8080, 3),
    spare: [{ ip: B4[3]!, port: 8080 }],
  },
  {
    name: 'web-fn',
    vip: VIPS4[0]!,
    port: 81,
    protocol: 'tcp',
    mode: 'fullnat',
    algorithm: 'hash',
    persistence: { timeoutS: 20 },
    endpoints: eps(B4, 81, 3),
    spare: [{ ip: B4[3]!, port: 81 }],
  },
  {
    name: 'mg',
    vip: VIPS4[1]!,
    port: 80,
    protocol: 'tcp',
    mode: 'dnat',
    algorithm: 'maglev',
    endpoints: eps(B4, 80, 3),
    spare: [{ ip: B4[3]!, port: 80 }],
  },
  {
    name: 'lc-fn',
    vip: VIPS4[1]!,
    port: 81,
    protocol: 'tcp',
    mode: 'fullnat',
    algorithm: 'lc',
    endpoints: eps(B4, 8081, 2),
    spare: [{ ip: B4[2]!, port: 8081 }],
  },
  {
    name: 'range',
    vip: VIPS4[2]!,
    port: 1000,
    portEnd: 1003,
    protocol: 'tcp',
    mode: 'dnat',
    algorithm: 'wrr',
    endpoints: [
      { ip: B4[0]!, port: 9000, weight: 3 },
      { ip: B4[1]!, port: 9000, weight: 1 },
    ],
    spare: [{ ip: B4[2]!, port: 9000, weight: 2 }],
  },
  {
    name: 'dns',
    vip: VIPS4[0]!,
    port: 53,
    protocol: 'udp',
    mode: 'dnat',
    algorithm: 'maglev',
    endpoints: eps(B4, 5353, 3),
    spare: [{ ip: B4[3]!, port: 5353 }],
  },
  {
    name: 'udp-fn',
    vip: VIPS4[1]!,
    port: 53,
    protocol: 'udp',
    mode: 'fullnat',
    algorithm: 'rr',
    policer: { ratePps: 2, burst: 6 },
    endpoints: eps(B4, 53, 2),
    spare: [{ ip: B4[2]!, port: 53 }],
  },
  {
    name: 'web6',
    vip: VIPS6[0]!,
    port: 80,
    protocol: 'tcp',
    mode: 'dnat',
    algorithm: 'lc',
    endpoints: eps(B6, 80, 2),
    spare: [{ ip: B6[2]!, port: 80 }],
  },
  {
    name: 'web6-fn',
    vip: VIPS6[0]!,
    port: 81,
    protocol: 'tcp',
    mode: 'fullnat',
    algorithm: 'hash',
    endpoints: eps(B6, 8081, 2),
    spare: [{ ip: B6[2]!, port: 8081 }],
  },
  {
    name: 'dns6',
    vip: VIPS6[0]!,
    port: 53,
    protocol: 'udp',
    mode: 'dnat',
    algorithm: 'rr',
    endpoints: eps(B6, 53, 2),
    spare: [{ ip: B6[2]!, port: 53 }],
  },
];

/** ICMP echo services (ids far above what the controller allocates for the services above). */
export const ECHO_SERVICES: CaseService[] = [
  { id: 60, vip: VIPS4[0]!, port: 0, protocol: 'icmp', mode: 'fullnat', endpoints: eps(B4, 0, 3).map((e) => ({ ...e })) },
  { id: 61, vip: VIPS6[0]!, port: 0, protocol: 'icmp', mode: 'dnat', endpoints: eps(B6, 0, 2).map((e) => ({ ...e })) },
];

export const SETTINGS = { snatV4: SNAT4, snatV6: SNAT6 };

function controllerInput(s: FuzzService, endpoints: FuzzEndpoint[]): Record<string, unknown> {
  return {
    name: s.name,
    vip: s.vip,
    port: s.port,
    ...(s.portEnd !== undefined ? { portEnd: s.portEnd } : {}),
    protocol: s.protocol,
    mode: s.mode,
    algorithm: s.algorithm,
    ...(s.persistence !== undefined ? { persistence: s.persistence } : {}),
    ...(s.policer !== undefined ? { policer: s.policer } : {}),
    endpoints: endpoints.map((e) => ({ ip: e.ip, port: e.port, weight: e.weight ?? 1 })),
  };
}

/** One side of the comparison: a datapath under test and the controller that programs it. */
export interface Side {
  name: string;
  dut: DatapathUnderTest;
  controller: Controller;
}

export type SideKind = { kind: 'model'; faults?: string[] } | { kind: 'prog'; objectPath?: string };

export function describeSide(k: SideKind): string {
  if (k.kind === 'prog') return k.objectPath === undefined ? 'prog' : `prog(${k.objectPath})`;
  return k.faults === undefined || k.faults.length === 0 ? 'model' : `model[${k.faults.join(',')}]`;
}

/** Opens one side with the world programmed. */
export function openSide(k: SideKind, hook: Hook): Side {
  const opts = { hook, settings: SETTINGS };
  const dut: DatapathUnderTest =
    k.kind === 'prog'
      ? openProgDatapath({ ...opts, ...(k.objectPath !== undefined ? { objectPath: k.objectPath } : {}) })
      : openModelDatapath({ ...opts, ...(k.faults !== undefined ? { faults: k.faults } : {}) });
  try {
    const controller = new Controller(dut.control);
    controller.load({ services: SERVICES.map((s) => controllerInput(s, s.endpoints)) });
    for (const e of ECHO_SERVICES) {
      if (k.kind === 'prog') {
        const p = dut as ProgDatapathUnderTest;
        writeEndpoints(
          p.packets.loaded,
          e.id,
          0,
          e.endpoints.map((x) => ({ ip: x.ip, port: x.port })),
        );
        putServiceEntry(p.packets.loaded, {
          id: e.id,
          vip: e.vip,
          port: 0,
          proto: 'icmp',
          mode: e.mode ?? 'dnat',
          algo: e.algorithm ?? 'rr',
          epCount: e.endpoints.length,
          gen: 0,
        });
      } else {
        program(dut.control as Datapath & { putService(s: ModelService): void }, e);
      }
    }
    return { name: describeSide(k), dut, controller };
  } catch (e) {
    dut.close();
    throw e;
  }
}

/** An endpoint change through the controller (a step of a sequence). */
export type ControlStep =
  { op: 'health'; svc: string; ip: string; port: number; up: boolean } | { op: 'put'; svc: string; endpoints: FuzzEndpoint[] };

export function applyControl(side: Side, c: ControlStep): string {
  const s = SERVICES.find((x) => x.name === c.svc);
  if (s === undefined) throw new Error(`fuzz: no service '${c.svc}' in the fuzz world (src/harness/fuzz/world.ts)`);
  if (c.op === 'health') return side.controller.setHealth(c.svc, { ip: c.ip, port: c.port }, c.up) ?? 'none';
  return side.controller.put(c.svc, controllerInput(s, c.endpoints)).action;
}
