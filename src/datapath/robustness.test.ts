// Malformed input at TC and XDP: every header of several packets cut at every length, bad IHL,
// inconsistent lengths. Expected: no crash, no rewrite (the output is the input), exactly one
// counted reason per packet, never a translated packet.
import test from 'ava';
import { buildFrame } from '../packet/index.ts';
import { BpfError } from '../bpf/index.ts';
import { HOOKS, openHarness } from './prog-run.ts';

const CLIENT = '198.18.0.10';
const VIP = '198.18.100.1';
const B1 = '198.18.1.11';
const VIP6 = 'fd00::100:1';

const samples: Record<string, Buffer> = {
  'tcp4 SYN with options': buildFrame({
    ip: { src: CLIENT, dst: VIP, options: [{ type: 1 }, { type: 1 }, { type: 1 }, { type: 0 }] },
    tcp: { sport: 40000, dport: 80, flags: 'S', options: [{ kind: 'mss', value: 1460 }] },
  }),
  'udp4 in VLAN': buildFrame({ vlan: 7, ip: { src: CLIENT, dst: VIP }, udp: { sport: 5, dport: 53 }, payload: 'abc' }),
  'tcp6 with hop-by-hop': buildFrame({
    ip: { src: 'fd00::10', dst: VIP6, extensions: [{ type: 'hop-by-hop' }] },
    tcp: { sport: 1, dport: 443, flags: 'S' },
  }),
  'icmp4 frag-needed': buildFrame({
    ip: { src: '198.18.1.254', dst: CLIENT },
    icmp: {
      type: 'dest-unreachable',
      code: 'frag-needed',
      mtu: 1400,
      inner: { ip: { src: CLIENT, dst: VIP }, tcp: { sport: 40000, dport: 80 } },
      quoteLength: 28,
    },
  }),
};

/** Ethernet (+ VLAN) + the fixed IP header: shorter skb test inputs are refused by the kernel. */
const L3_MIN: Record<string, number> = {
  'tcp4 SYN with options': 34,
  'udp4 in VLAN': 38,
  'tcp6 with hop-by-hop': 54,
  'icmp4 frag-needed': 34,
};

function sumReasons(r: Record<string, bigint>): bigint {
  return Object.values(r).reduce((a, b) => a + b, 0n);
}

for (const hook of HOOKS) {
  test(`${hook}: every sample cut at every length: no rewrite, one counted verdict each`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 8080 }] });
      h.service({ id: 2, vip: VIP, port: 53, proto: 'udp', endpoints: [{ ip: B1, port: 53 }] });
      h.service({ id: 3, vip: VIP6, port: 443, endpoints: [{ ip: 'fd00::1:11', port: 443 }] });
      let runs = 0;
      const before = sumReasons(h.reasons());
      for (const [name, full] of Object.entries(samples)) {
        for (let len = 14; len < full.length; len++) {
          const cut = Buffer.from(full.subarray(0, len));
          let r;
          try {
            r = h.run(cut);
          } catch (e) {
            // BPF_PROG_TEST_RUN for skb programs refuses frames whose IP header is incomplete
            // before the program runs (EINVAL): nothing to check for those lengths.
            if (hook === 'tc' && e instanceof BpfError && e.errno === 'EINVAL' && len < L3_MIN[name]!) continue;
            throw e;
          }
          runs++;
          t.true(r.verdict === 'pass' || r.verdict === 'drop', `${name} cut at ${len}: ${r.verdict}`);
          if (!r.data.equals(cut)) t.fail(`${name} cut at ${len} was rewritten`);
        }
      }
      const counted = h.reasonDelta();
      t.is(sumReasons(h.reasons()) - before, BigInt(runs));
      t.is(counted.new_flow, undefined, 'no truncated packet created a flow');
      t.true((counted.drop_malformed ?? 0) > 0);
    } finally {
      h.close();
    }
  });

  test(`${hook}: bad IHL, short total length, bad TCP data offset, bad UDP length: dropped as malformed`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 8080 }] });
      const bad = [
        buildFrame({ ip: { src: CLIENT, dst: VIP, ihl: 4 }, tcp: { sport: 1, dport: 80 } }),
        buildFrame({ ip: { src: CLIENT, dst: VIP, ihl: 15 }, tcp: { sport: 1, dport: 80 } }),
        buildFrame({ ip: { src: CLIENT, dst: VIP, totalLength: 30 }, tcp: { sport: 1, dport: 80 } }),
        buildFrame({ ip: { src: CLIENT, dst: VIP, totalLength: 1500 }, tcp: { sport: 1, dport: 80 } }),
        buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 1, dport: 80, dataOffset: 4 } }),
        buildFrame({ ip: { src: CLIENT, dst: VIP }, tcp: { sport: 1, dport: 80, dataOffset: 15 } }),
        buildFrame({ ip: { src: CLIENT, dst: VIP }, udp: { sport: 1, dport: 80, length: 4 } }),
        buildFrame({ ip: { src: CLIENT, dst: VIP }, udp: { sport: 1, dport: 80, length: 200 } }),
      ];
      h.reasonDelta();
      for (const f of bad) {
        const r = h.run(f);
        t.is(r.verdict, 'drop');
        t.deepEqual(r.data, f);
      }
      t.deepEqual(h.reasonDelta(), { drop_malformed: bad.length });
    } finally {
      h.close();
    }
  });

  test(`${hook}: IPv4 fragments pass untouched and are counted`, (t) => {
    const h = openHarness(hook);
    try {
      h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: B1, port: 8080 }] });
      const first = buildFrame({ ip: { src: CLIENT, dst: VIP, mf: true }, tcp: { sport: 1, dport: 80 }, payload: 64 });
      const later = buildFrame({ ip: { src: CLIENT, dst: VIP, fragOffset: 64, protocol: 6 }, payload: 32 });
      h.reasonDelta();
      t.deepEqual(h.run(first).data, first);
      t.deepEqual(h.run(later).data, later);
      // the first: no flow; the later one: no record of its datagram (a counter of its own)
      t.deepEqual(h.reasonDelta(), { pass_fragment: 1, pass_fragment_no_record: 1 });
    } finally {
      h.close();
    }
  });

  test(`${hook}: IPv6 fragments: of no flow passed untouched; of a flow the first translated by its ports, a later one by the record`, (t) => {
    const h = openHarness(hook);
    try {
      const C6 = 'fd00::10';
      const B6 = 'fd00::1:11';
      h.service({ id: 1, vip: VIP6, port: 53, proto: 'udp', endpoints: [{ ip: B6, port: 5353 }] });
      const frag = (id: number, offset: number, more: boolean) => [{ type: 'fragment' as const, offset, more, id }];
      const first = buildFrame({
        ip: { src: C6, dst: VIP6, extensions: frag(0x10000001, 0, true) },
        udp: { sport: 40000, dport: 53, length: 80 },
        payload: 16,
      });
      const later = buildFrame({ ip: { src: C6, dst: VIP6, protocol: 17, extensions: frag(0x10000001, 24, false) }, payload: 48 });
      h.reasonDelta();
      t.deepEqual(h.run(first).data, first, 'no flow: untouched');
      t.deepEqual(h.run(later).data, later, 'no record: untouched');
      t.deepEqual(h.reasonDelta(), { pass_fragment: 1, pass_fragment_no_record: 1 });
      h.run(buildFrame({ ip: { src: C6, dst: VIP6 }, udp: { sport: 40000, dport: 53 }, payload: 8 }));
      h.reasonDelta();
      const a = h.run(first).data;
      const b = h.run(later).data;
      t.deepEqual(h.reasonDelta(), { tracked: 2 });
      // destination address at 14 + 24, the UDP destination port after the 8-byte Fragment header
      const want6 = buildFrame({ ip: { src: C6, dst: B6 }, udp: { sport: 1, dport: 1 } }).subarray(14 + 24, 14 + 40);
      t.deepEqual(a.subarray(14 + 24, 14 + 40), want6, 'first: destination is the endpoint');
      t.is(a.readUInt16BE(14 + 40 + 8 + 2), 5353, 'first: destination port is the endpoint port');
      t.deepEqual(b.subarray(14 + 24, 14 + 40), want6, 'later: destination is the endpoint');
      t.deepEqual(b.subarray(14 + 40), later.subarray(14 + 40), 'later: Fragment header and payload untouched');
    } finally {
      h.close();
    }
  });
}
