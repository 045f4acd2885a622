// Root tests: a capture holds exactly the packets a known exchange produces, on every link it
// crosses, decoded with the packet toolkit (checksum verdicts follow the offload setting).
import test from 'ava';
import { Capture } from './capture.ts';
import type { CapturedPacket } from './capture.ts';
import { Lab } from './lab.ts';
import { runClient, startServers } from './traffic/tools.ts';

function summary(ps: CapturedPacket[]): string[] {
  return ps.map(({ frame: f }) => {
    const l4 =
      f.icmp !== undefined
        ? `icmp ${f.icmp.typeName}`
        : f.udp !== undefined
          ? `udp ${f.udp.sport}>${f.udp.dport}`
          : f.tcp !== undefined
            ? `tcp ${f.tcp.flagString}`
            : `ethertype 0x${(f.etherType ?? 0).toString(16)}`;
    return `${f.ip?.src ?? '?'}>${f.ip?.dst ?? '?'} ttl=${f.ip?.version === 4 ? f.ip.ttl : (f.ip?.hopLimit ?? '?')} ${l4}`;
  });
}

test('ping -c 1 through the lb: exactly one request and one reply on each of the four interfaces', async (t) => {
  const lab = await Lab.up('two-arm', { params: { backends: 1, ipv6: false, staticNeighbours: true } });
  try {
    const cap = await Capture.start(lab);
    t.is(cap.files.length, 4);
    await lab.exec('c1', 'ping', ['-c1', '-W2', '-n', '198.18.2.11']);
    const stats = await cap.stop();
    for (const s of stats) t.is(s.droppedByKernel, 0, `${s.node}/${s.segment} dropped packets`);
    const client = ['198.18.1.11>198.18.2.11 ttl=64 icmp echo-request', '198.18.2.11>198.18.1.11 ttl=63 icmp echo-reply'];
    const backend = ['198.18.1.11>198.18.2.11 ttl=63 icmp echo-request', '198.18.2.11>198.18.1.11 ttl=64 icmp echo-reply'];
    t.deepEqual(summary(await cap.packets('c1')), client);
    t.deepEqual(summary(await cap.packets('lb', 'clients')), client);
    t.deepEqual(summary(await cap.packets('lb', 'backends')), backend);
    t.deepEqual(summary(await cap.packets('b1')), backend);
    // Deterministic MACs: c1's request leaves c1 for the lb's clients-side MAC.
    const [req] = await cap.packets('c1');
    t.is(req?.frame.eth?.src, lab.iface('c1').mac);
    t.is(req?.frame.eth?.dst, lab.iface('lb', 'clients').mac);
    t.is(req?.frame.icmp?.checksum.verdict, 'ok');
  } finally {
    await lab.close();
  }
});

for (const offload of [true, false]) {
  test(`one UDP request/response, offload ${offload ? 'on' : 'off'}: two packets, checksum verdicts as expected`, async (t) => {
    const lab = await Lab.up('two-arm', { params: { backends: 1, ipv6: false, staticNeighbours: true, offload } });
    try {
      await startServers(lab, ['b1'], { http: false, tcp: false });
      const cap = await Capture.start(lab, { points: [{ node: 'c1' }, { node: 'b1' }] });
      const report = await runClient(lab, 'c1', { proto: 'udp', target: '198.18.2.11', sport: 42000, payload: 10 });
      t.is(report.summary.ok, 1, JSON.stringify(report.results));
      t.is(report.results[0]?.backend, 'b1');
      await cap.stop();
      const c1 = await cap.packets('c1');
      t.deepEqual(summary(c1), ['198.18.1.11>198.18.2.11 ttl=64 udp 42000>7001', '198.18.2.11>198.18.1.11 ttl=63 udp 7001>42000']);
      t.is(c1[0]?.frame.payload?.length, 10);
      t.is(Buffer.from(c1[1]?.frame.payload ?? []).toString(), `b1\n${'u'.repeat(10)}`);
      const b1 = await cap.packets('b1');
      t.is(b1.length, 2);
      // Seen on the sender's own interface: with tx offload on the kernel leaves the UDP checksum
      // to the "hardware" (partial); with it off the checksum is complete.
      t.is(c1[0]?.frame.udp?.checksum.verdict, offload ? 'partial' : 'ok');
      t.is(b1[1]?.frame.udp?.checksum.verdict, offload ? 'partial' : 'ok');
      for (const p of [...c1, ...b1]) t.is(p.frame.ip?.version === 4 ? p.frame.ip.checksum.verdict : 'ok', 'ok');
    } finally {
      await lab.close();
    }
  });
}
