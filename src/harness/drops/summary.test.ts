// Unprivileged: the ring-buffer record decoder (the C layout of struct drop_event), kallsyms
// resolution, and the summary's grouping, ordering and named causes.
import test from 'ava';
import { readBtfStructs } from '../../schema/btf.ts';
import { DROPS_OBJECT, DROP_EVENT_SIZE, Kallsyms, decodeDropEvent } from './tracer.ts';
import type { DropNames } from './tracer.ts';
import { formatDrops, summarizeDrops } from './summary.ts';

const names: DropNames = {
  reason: (c) => (c === 3 ? 'no_socket' : `reason_${c}`),
  symbol: (a) => `sym_${a.toString(16)}`,
  node: (n) => (n === 100 ? 'lb' : n === 200 ? 'b1' : undefined),
  link: (n, i) => (n === 100 && i === 7 ? { ifname: 'lb-1', kind: 'veth' } : undefined),
  peer: () => ({ iface: 'lb-1', peer: 'b1-0', peerNetns: 'xlb-x-b1', gro: false, xdp: false }),
};

function record(f: {
  kind: number;
  location?: bigint;
  netns: number;
  ifindex: number;
  reason?: number;
  err?: number;
  count?: number;
  toIfindex?: number;
  ifname: string;
  v4?: [number[], number[], number, number, number];
}): Buffer {
  const b = Buffer.alloc(DROP_EVENT_SIZE);
  b.writeBigUInt64LE(123n, 0);
  b.writeBigUInt64LE(f.location ?? 0n, 8);
  b.writeUInt32LE(f.kind, 16);
  b.writeUInt32LE(f.netns, 20);
  b.writeUInt32LE(f.ifindex, 24);
  b.writeUInt32LE(f.reason ?? 0, 28);
  b.writeInt32LE(f.err ?? 0, 32);
  b.writeUInt32LE(f.count ?? 1, 36);
  b.writeUInt32LE(f.toIfindex ?? 0, 40);
  b.write(f.ifname, 48, 'latin1');
  if (f.v4 !== undefined) {
    const [src, dst, proto, sport, dport] = f.v4;
    b.writeUInt16LE(0x0800, 80);
    b.writeUInt8(proto, 82);
    b.writeUInt8(1, 83);
    b.writeUInt16BE(sport, 84);
    b.writeUInt16BE(dport, 86);
    Buffer.from(src).copy(b, 88);
    Buffer.from(dst).copy(b, 104);
  }
  return b;
}

test('DROP_EVENT_SIZE and the decoder offsets match struct drop_event in build/bpf/drops.bpf.o (BTF)', (t) => {
  const s = readBtfStructs(DROPS_OBJECT).find((x) => x.name === 'drop_event');
  t.is(s?.size, DROP_EVENT_SIZE);
  const off = Object.fromEntries((s?.members ?? []).map((m) => [m.name, m.offset]));
  t.like(off, {
    location: 8,
    kind: 16,
    netns: 20,
    ifindex: 24,
    reason: 28,
    err: 32,
    count: 36,
    to_ifindex: 40,
    to_netns: 44,
    ifname: 48,
    to_ifname: 64,
    l3proto: 80,
    l4proto: 82,
    has_tuple: 83,
    sport: 84,
    dport: 86,
    saddr: 88,
    daddr: 104,
  });
  t.throws(() => decodeDropEvent(Buffer.alloc(100), names), { message: /100 bytes, expected 120/ });
});

test('kfree_skb record: reason name, function, node and 5-tuple', (t) => {
  const e = decodeDropEvent(
    record({
      kind: 1,
      location: 0xffffffff81000010n,
      netns: 200,
      ifindex: 2,
      reason: 3,
      ifname: 'b1-0',
      v4: [[198, 18, 0, 10], [198, 18, 1, 11], 6, 40000, 7000],
    }),
    names,
  );
  t.like(e, { tracepoint: 'kfree_skb', node: 'b1', ifname: 'b1-0', reason: 'no_socket', function: 'sym_ffffffff81000010', count: 1 });
  t.deepEqual(e.tuple, { proto: 6, src: '198.18.0.10', dst: '198.18.1.11', sport: 40000, dport: 7000 });
});

test('xdp_redirect_err -EOPNOTSUPP into a veth: XDP-without-GRO, named with the peer and the fix', (t) => {
  const rec = record({ kind: 3, netns: 100, ifindex: 6, err: -95, toIfindex: 7, ifname: 'lb-0' });
  const e = decodeDropEvent(rec, names);
  t.like(e, { tracepoint: 'xdp_redirect_err', reason: 'xdp_redirect_err_eopnotsupp', err: 'EOPNOTSUPP', function: 'xdp:xdp_redirect_err' });
  t.like(e.to, { ifname: 'lb-1', kind: 'veth', node: 'lb', peer: { ifname: 'b1-0', netns: 'xlb-x-b1' } });
  const kfree = decodeDropEvent(record({ kind: 1, netns: 200, ifindex: 2, reason: 3, ifname: 'b1-0' }), names);
  const s = summarizeDrops([kfree, e, e, kfree, kfree], 2);
  t.is(s.total, 5);
  t.is(s.lost, 2);
  t.is(s.groups.length, 2);
  // the named cause comes first, even with fewer packets
  t.like(s.groups[0], { node: 'lb', ifname: 'lb-0', to: 'lb/lb-1', count: 2 });
  t.regex(
    s.groups[0]?.diagnosis ?? '',
    /^XDP-without-GRO: .*its peer b1-0 \(netns xlb-x-b1\).*fix: nsenter --net=\/run\/netns\/xlb-x-b1 ethtool -K b1-0 gro on/,
  );
  t.like(s.groups[1], { node: 'b1', reason: 'no_socket', count: 3 });
  t.regex(formatDrops(s), /5 packet\(s\) dropped.*2 record\(s\) lost/);
});

test('the same redirect error into a non-veth is not called XDP-without-GRO', (t) => {
  const e = decodeDropEvent(record({ kind: 3, netns: 100, ifindex: 6, err: -95, toIfindex: 9, ifname: 'lb-0' }), names);
  const [g] = summarizeDrops([e]).groups;
  t.notRegex(g?.diagnosis ?? '', /XDP-without-GRO/);
  t.regex(g?.diagnosis ?? '', /redirect from lb-0 to if9 failed \(EOPNOTSUPP\)/);
});

test('Kallsyms: func+0xoff from the nearest lower text symbol; data symbols ignored', (t) => {
  const k = new Kallsyms(
    ['ffffffff81000000 T _stext', 'ffffffff81000100 t tcp_v4_rcv', 'ffffffff81000180 D some_data', 'ffffffff81000200 T ip_rcv'].join('\n'),
  );
  t.is(k.resolve(0xffffffff81000123n), 'tcp_v4_rcv+0x23');
  t.is(k.resolve(0xffffffff81000200n), 'ip_rcv+0x0');
  t.is(k.resolve(0x10n), '0x10');
});
