// Endpoint selection through the real datapath at TC and XDP: distribution over many flows,
// affinity, Maglev minimal disruption, least-connection, persistence holding then expiring,
// inactive endpoints skipped, the policer.
import test from 'ava';
import { buildFrame } from '../packet/index.ts';
import { maglevTable, wrrSchedule } from '../controller/lookup-tables.ts';
import { HOOKS, openHarness } from './prog-run.ts';
import type { Harness } from './prog-run.ts';
import { setPolicer } from './maps.ts';
import type { EndpointSpec } from './maps.ts';

const VIP = '198.18.100.1';
const backends = (n: number): EndpointSpec[] => Array.from({ length: n }, (_, i) => ({ ip: `198.18.1.${11 + i}`, port: 80 }));

/** Opens a flow (SYN) from client:sport and returns the endpoint slot it got (undefined: none). */
function open(h: Harness, sport: number, client = '198.18.0.10'): number | undefined {
  h.run(buildFrame({ ip: { src: client, dst: VIP }, tcp: { sport, dport: 80, flags: 'S' } }));
  return h.flow({ src: client, dst: VIP, sport, dport: 80, proto: 'tcp' })?.ep_slot;
}

function clientOf(i: number): string {
  return `198.18.${2 + (i >> 8)}.${i & 255}`;
}

function histogram(slots: (number | undefined)[]): Map<number | undefined, number> {
  const m = new Map<number | undefined, number>();
  for (const s of slots) m.set(s, (m.get(s) ?? 0) + 1);
  return m;
}

const slotsOf = (eps: EndpointSpec[]): { ip: string; port: number; weight: number; active: boolean }[] =>
  eps.map((e) => ({ ip: e.ip, port: e.port, weight: e.weight ?? 1, active: e.active !== false }));

for (const hook of HOOKS) {
  test(`${hook}: round-robin spreads evenly and skips inactive endpoints`, (t) => {
    const h = openHarness(hook);
    try {
      const eps = backends(4);
      eps[2]!.active = false;
      h.service({ id: 1, vip: VIP, port: 80, algo: 'rr', endpoints: eps });
      const hist = histogram(Array.from({ length: 60 }, (_, i) => open(h, 10000 + i)));
      t.is(hist.get(2), undefined);
      // per-CPU cursors: exact thirds when the test stays on one CPU, close otherwise
      for (const s of [0, 1, 3]) t.true((hist.get(s) ?? 0) >= 14 && (hist.get(s) ?? 0) <= 26, `slot ${s}: ${hist.get(s)}`);
    } finally {
      h.close();
    }
  });

  test(`${hook}: weighted round-robin follows the weights`, (t) => {
    const h = openHarness(hook);
    try {
      const eps = backends(3).map((e, i) => ({ ...e, weight: i + 1 }));
      h.service({ id: 1, vip: VIP, port: 80, algo: 'wrr', endpoints: eps, table: wrrSchedule(slotsOf(eps), 4099) });
      const hist = histogram(Array.from({ length: 120 }, (_, i) => open(h, 10000 + i)));
      t.true((hist.get(0) ?? 0) >= 12 && (hist.get(0) ?? 0) <= 28, `w1: ${hist.get(0)}`);
      t.true((hist.get(1) ?? 0) >= 30 && (hist.get(1) ?? 0) <= 50, `w2: ${hist.get(1)}`);
      t.true((hist.get(2) ?? 0) >= 50 && (hist.get(2) ?? 0) <= 70, `w3: ${hist.get(2)}`);
    } finally {
      h.close();
    }
  });

  test(`${hook}: 5-tuple hash and random spread over every endpoint; hash is stable for a tuple`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, algo: 'hash', endpoints: backends(4) });
      const first = Array.from({ length: 400 }, (_, i) => open(h, 10000 + i));
      for (const [slot, n] of histogram(first)) t.true(n >= 60, `hash slot ${slot}: ${n}`);
      h.dp.maps.ct.deleteBatch([...h.dp.maps.ct.keys()]);
      const again = Array.from({ length: 400 }, (_, i) => open(h, 10000 + i));
      t.deepEqual(again, first);

      h.service({ id: 2, vip: VIP, port: 81, algo: 'random', endpoints: backends(4) });
      const rnd = Array.from({ length: 400 }, (_, i) => {
        h.run(buildFrame({ ip: { src: '198.18.0.10', dst: VIP }, tcp: { sport: 20000 + i, dport: 81, flags: 'S' } }));
        return h.flow({ src: '198.18.0.10', dst: VIP, sport: 20000 + i, dport: 81, proto: 'tcp' })?.ep_slot;
      });
      const rh = histogram(rnd);
      t.is(rh.size, 4);
      for (const [slot, n] of rh) t.true(n >= 60, `random slot ${slot}: ${n}`);
    } finally {
      h.close();
    }
  });

  test(`${hook}: Maglev: even spread, and when 1 of 5 endpoints goes away only its flows move`, (t) => {
    const h = openHarness(hook);
    try {
      const eps = backends(5);
      h.service({ id: 1, vip: VIP, port: 80, algo: 'maglev', endpoints: eps, gen: 0, table: maglevTable(slotsOf(eps), 4099) });
      const N = 1000;
      const before = Array.from({ length: N }, (_, i) => open(h, 10000 + i, clientOf(i)));
      for (const [slot, n] of histogram(before)) t.true(n >= 140 && n <= 260, `slot ${slot}: ${n}`);
      // generation 1: endpoint 3 inactive, its table rebuilt; flip; forget the flows
      const next = eps.map((e, i) => ({ ...e, active: i !== 3 }));
      h.service({ id: 1, vip: VIP, port: 80, algo: 'maglev', endpoints: next, gen: 1, table: maglevTable(slotsOf(next), 4099) });
      h.dp.maps.ct.deleteBatch([...h.dp.maps.ct.keys()]);
      const after = Array.from({ length: N }, (_, i) => open(h, 10000 + i, clientOf(i)));
      let kept = 0;
      let stayers = 0;
      for (let i = 0; i < N; i++) {
        t.not(after[i], 3);
        if (before[i] !== 3) {
          stayers++;
          if (after[i] === before[i]) kept++;
        }
      }
      t.true(kept / stayers >= 0.97, `only ${kept}/${stayers} flows of the remaining endpoints kept their endpoint`);
    } finally {
      h.close();
    }
  });

  test(`${hook}: least-connection prefers the idle endpoint; closing a flow frees its endpoint`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, algo: 'lc', endpoints: backends(3) });
      const first = [open(h, 10000), open(h, 10001), open(h, 10002)];
      t.deepEqual([...first].sort(), [0, 1, 2]);
      // the flow on slot 1 ends (RST from the client, plausible sequence)
      const idx = first.indexOf(1);
      h.run(buildFrame({ ip: { src: '198.18.0.10', dst: VIP }, tcp: { sport: 10000 + idx, dport: 80, seq: 1, flags: 'R' } }));
      t.is(open(h, 10003), 1);
      t.is(open(h, 10004), 0); // ties (all at 1): lowest slot
    } finally {
      h.close();
    }
  });

  test(`${hook}: source persistence holds a client on its endpoint, then expires`, (t) => {
    const h = openHarness(hook);
    try {
      // WRR whose schedule names only slot 0 for the first flow, then only slot 2: a held
      // client stays on 0 while its persistence entry is fresh, and moves to 2 once it expired.
      const svc = { id: 1, vip: VIP, port: 80, algo: 'wrr' as const, endpoints: backends(4), persistTimeoutS: 30 };
      h.service({ ...svc, table: Uint32Array.from([0]) });
      const client = '198.18.0.77';
      t.is(open(h, 10000, client), 0);
      h.service({ ...svc, table: Uint32Array.from([2]) });
      for (let i = 1; i < 20; i++) {
        h.advance(10); // within the timeout each time: refreshed by every new flow
        t.is(open(h, 10000 + i, client), 0);
      }
      t.is(open(h, 10100, '198.18.0.78'), 2, 'another client is not held');
      h.advance(31);
      t.is(open(h, 10200, client), 2, 'expired: selected again');
      t.is(open(h, 10201, client), 2, 'and held there');
    } finally {
      h.close();
    }
  });

  test(`${hook}: the policer admits rate + burst and drops the rest, counted`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, algo: 'rr', endpoints: backends(2) });
      setPolicer(h.dp, 1, 1, 2); // 1 packet/s, burst 2
      h.reasonDelta();
      const verdicts = Array.from(
        { length: 6 },
        (_, i) => h.run(buildFrame({ ip: { src: '198.18.0.10', dst: VIP }, tcp: { sport: 10000 + i, dport: 80, flags: 'S' } })).verdict,
      );
      t.deepEqual(verdicts, ['pass', 'pass', 'pass', 'drop', 'drop', 'drop']);
      t.deepEqual(h.reasonDelta(), { new_flow: 3, drop_policed: 3 });
      h.advance(2);
      t.is(h.run(buildFrame({ ip: { src: '198.18.0.10', dst: VIP }, tcp: { sport: 10010, dport: 80, flags: 'S' } })).verdict, 'pass');
    } finally {
      h.close();
    }
  });
}

for (const hook of HOOKS) {
  test(`${hook}: 64 endpoints in one service are all used`, (t) => {
    const h = openHarness(hook, { ctEntries: 16384 });
    try {
      const eps = Array.from({ length: 64 }, (_, i) => ({ ip: `198.18.${8 + (i >> 6)}.${1 + (i & 63)}`, port: 80 }));
      h.service({ id: 1, vip: VIP, port: 80, algo: 'maglev', endpoints: eps, table: maglevTable(slotsOf(eps), 4099) });
      const used = new Set(Array.from({ length: 2000 }, (_, i) => open(h, 10000 + (i & 1023), clientOf(i))));
      t.is(used.size, 64);
      t.false(used.has(undefined));
    } finally {
      h.close();
    }
  });
}
