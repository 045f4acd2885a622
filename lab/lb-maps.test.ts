// Root test of the datapath map readers: maps with the datapath's names and layouts, pinned in a
// lab's pin directory, filled with the schema's codecs (src/schema/maps.ts), read back as flows and counters.
import test from 'ava';
import { BpfMap, numPossibleCpus } from '../src/bpf/index.ts';
import { CT_F, CT_STATE, REASON, XLATE, XLB_MAX_EP, counters, ctEntry, ctKey, svcStats, traceEvent } from '../src/schema/maps.ts';
import { withPinDir } from '../src/datapath/scratch-netns.ts';
import {
  ctKeyBytes,
  dpTuple,
  readConntrack,
  readEndpointStats,
  readReasonCounters,
  readServiceStats,
  toDpCtEntry,
  toDpTraceEvent,
  verdictName,
} from './lb-maps.ts';

function v4(a: string): Buffer {
  const b = Buffer.alloc(16);
  a.split('.').forEach((o, i) => (b[i] = Number(o)));
  return b;
}

function key(i: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(i);
  return b;
}

function pinMap(path: string, type: string, keySize: number, valueSize: number, maxEntries: number, fill: (m: BpfMap) => void): void {
  const m = BpfMap.create({ type, keySize, valueSize, maxEntries, name: path.split('/').pop() ?? 'm' });
  try {
    fill(m);
    m.pin(path);
  } finally {
    m.close();
  }
}

test('readConntrack and the counter readers decode the datapath maps', async (t) => {
  const cpus = numPossibleCpus();
  await withPinDir('lb-maps-test', (dir) => {
    const entry = {
      created_ns: 1n,
      last_seen_ns: 2n,
      packets: 3n,
      bytes: 180n,
      peer_touch_ns: 0n,
      fib_ns: 0n,
      nat_saddr: v4('198.18.1.11'),
      nat_daddr: v4('198.18.2.11'),
      nat_sport: 40000,
      nat_dport: 7000,
      svc_id: 2,
      next_seq: 0,
      fib_ifindex: 0,
      fib_dmac: Buffer.alloc(6),
      fib_smac: Buffer.alloc(6),
      ep_slot: 1,
      tcp_win: 0,
      state: CT_STATE.indexOf('ESTABLISHED'),
      flags: 0,
      xlate: 0,
      last_ack: 0,
    };
    pinMap(`${dir}/xlb_ct`, 'lru_hash', ctKey.size, ctEntry.size, 64, (m) => {
      m.update(
        ctKey.encode({ saddr: v4('198.18.1.11'), daddr: v4('198.18.100.1'), sport: 40000, dport: 7000, proto: 6, family: 4 }),
        ctEntry.encode(entry),
      );
      m.update(
        ctKey.encode({ saddr: v4('198.18.2.11'), daddr: v4('198.18.1.11'), sport: 7000, dport: 40000, proto: 6, family: 4 }),
        ctEntry.encode({
          ...entry,
          nat_saddr: v4('198.18.100.1'),
          nat_daddr: v4('198.18.1.11'),
          nat_sport: 7000,
          nat_dport: 40000,
          flags: CT_F.reply,
          packets: 2n,
        }),
      );
    });
    const perCpu = (enc: Buffer): Buffer[] => Array.from({ length: cpus }, () => enc);
    pinMap(`${dir}/xlb_reasons`, 'percpu_array', 4, counters.size, REASON.length, (m) => {
      m.updatePerCpu(key(REASON.indexOf('new_flow')), perCpu(counters.encode({ packets: 1n, bytes: 60n })));
    });
    pinMap(`${dir}/xlb_svc_stats`, 'percpu_array', 4, svcStats.size, 8, (m) => {
      m.updatePerCpu(key(2), perCpu(svcStats.encode({ packets: 5n, bytes: 300n, flows: 1n, drops: 0n })));
    });
    pinMap(`${dir}/xlb_ep_stats`, 'percpu_array', 4, counters.size, 8 * XLB_MAX_EP, (m) => {
      m.updatePerCpu(key(2 * XLB_MAX_EP + 1), perCpu(counters.encode({ packets: 4n, bytes: 200n })));
    });

    const flows = readConntrack(dir).sort((a, b) => Number(a.reply) - Number(b.reply));
    t.is(flows.length, 2);
    t.like(flows[0], {
      family: 4,
      proto: 'tcp',
      src: '198.18.1.11',
      dst: '198.18.100.1',
      sport: 40000,
      dport: 7000,
      state: 'ESTABLISHED',
      reply: false,
      natDst: '198.18.2.11',
      svcId: 2,
      epSlot: 1,
      packets: 3n,
    });
    t.like(flows[1], { src: '198.18.2.11', reply: true, natSrc: '198.18.100.1', packets: 2n });
    const reasons = readReasonCounters(dir);
    t.deepEqual(reasons.new_flow, { packets: BigInt(cpus), bytes: 60n * BigInt(cpus) });
    t.deepEqual(reasons.pass_no_service, { packets: 0n, bytes: 0n });
    t.deepEqual(readServiceStats(dir), [
      { svcId: 2, packets: 5n * BigInt(cpus), bytes: 300n * BigInt(cpus), flows: BigInt(cpus), drops: 0n },
    ]);
    t.deepEqual(readEndpointStats(dir), [{ svcId: 2, slot: 1, packets: 4n * BigInt(cpus), bytes: 200n * BigInt(cpus) }]);
  });
});

test('the harness shapes: a ct entry and a trace record decoded, a tuple encoded back to its key', (t) => {
  const key = { saddr: v4('198.18.1.11'), daddr: v4('198.18.100.1'), sport: 40000, dport: 7000, proto: 6, family: 4 };
  const raw = ctEntry.decode(Buffer.alloc(ctEntry.size));
  const e = toDpCtEntry(ctKey.decode(ctKey.encode(key)), {
    ...raw,
    nat_saddr: v4('198.18.1.11'),
    nat_daddr: v4('198.18.2.12'),
    nat_sport: 40000,
    nat_dport: 7000,
    svc_id: 3,
    ep_slot: 1,
    state: CT_STATE.indexOf('TIME_WAIT'),
    flags: CT_F.finClient | CT_F.lcCounted,
    xlate: XLATE.daddr,
    packets: 5n,
    created_ns: 7n,
  });
  t.like(e, { reply: false, state: 'TIME_WAIT', serviceId: 3, endpointSlot: 1, packets: 5, createdNs: 7n });
  t.deepEqual(e.key, { family: 4, proto: 'tcp', src: '198.18.1.11', dst: '198.18.100.1', sport: 40000, dport: 7000 });
  t.deepEqual(e.nat, { src: '198.18.1.11', dst: '198.18.2.12', sport: 40000, dport: 7000 });
  t.deepEqual(e.xlate, { saddr: false, daddr: true, sport: false, dport: false });
  t.deepEqual(e.flags, ['finClient', 'lcCounted']);
  t.deepEqual(ctKeyBytes(e.key), ctKey.encode(key));
  const v6 = {
    ...key,
    saddr: Buffer.from('fd000018000100000000000000000011', 'hex'),
    daddr: Buffer.from('fd000018010000000000000000000001', 'hex'),
    proto: 58,
    family: 6,
  };
  const t6 = dpTuple(ctKey.decode(ctKey.encode(v6)));
  t.deepEqual(t6, { family: 6, proto: 'icmp', src: 'fd00:18:1::11', dst: 'fd00:18:100::1', sport: 40000, dport: 7000 });
  t.deepEqual(ctKeyBytes(t6), ctKey.encode(v6), 'ICMPv6 keys carry proto 58');

  const ev = toDpTraceEvent(
    traceEvent.decode(
      traceEvent.encode({
        ts_ns: 99n,
        key,
        svc_id: 3,
        ifindex: 12,
        reason: REASON.indexOf('new_flow'),
        ep_slot: 0xffff,
        verdict: 4,
        ct_old: 0,
        ct_new: 1,
        hook: 1,
        pkt_len: 74,
      }),
    ),
  );
  t.like(ev, {
    timeNs: 99n,
    serviceId: 3,
    ifindex: 12,
    reason: 'new_flow',
    endpointSlot: -1,
    verdict: 'redirect',
    ctBefore: 'NONE',
    ctAfter: 'SYN_SENT',
    length: 74,
  });
  t.deepEqual(
    [0, 2, 7].map((c) => verdictName('tc', c)),
    ['pass', 'drop', 'redirect'],
  );
  t.deepEqual(
    [1, 2, 3, 4].map((c) => verdictName('xdp', c)),
    ['drop', 'pass', 'tx', 'redirect'],
  );
});
