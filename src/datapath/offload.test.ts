// TC with CHECKSUM_PARTIAL: real traffic between three throwaway namespaces (client, LB,
// backend; names xlb-dpo-<id>-*, removed afterwards). The client's veth has tx checksum offload
// on (the kernel hands the LB a partial checksum); the LB's egress veth has it off, so the stack
// completes the checksum from the state the datapath left. The backend's capture must show
// correct IPv4/TCP/UDP checksums after DNAT.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { ifindex, inNetns } from '../bpf/index.ts';
import { checksumProblems, decodeRecord, readPcap } from '../packet/index.ts';
import { openHarness } from './prog-run.ts';
import { routedTrio } from './scratch-netns.ts';

const VIP = '198.18.100.1';

/** Resolves once tcpdump says it is capturing (its "listening on" line), not after a guessed delay; fails after 10 s. */
function captureReady(p: ResultPromise, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let said = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start capturing within 10 s: ${said}`)), 10_000);
    p.stderr?.on('data', (b: Buffer) => {
      said += b.toString();
      if (said.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    p.then(
      () => reject(new Error(`${what} exited before capturing: ${said}`)),
      (e: unknown) => reject(new Error(`${what} failed before capturing: ${said || (e as Error).message}`)),
    ).finally(() => clearTimeout(timer));
  });
}
const BACKEND = '198.18.1.11';

test.serial('tc: DNAT of partial-checksum TCP and UDP from a veth with offload on gives correct checksums at the backend', async (t) => {
  const trio = routedTrio('dpo');
  const { ns, ip, inside } = trio;
  const dir = mkdtempSync(path.join(tmpdir(), `${ns.l}-`));
  let h: ReturnType<typeof openHarness> | undefined;
  let capture: ResultPromise | undefined;
  try {
    await trio.create();
    await inside(ns.l, 'ethtool', '-K', 'l1', 'tx', 'off');
    const b0mac = ((await inside(ns.b, 'cat', '/sys/class/net/b0/address')).stdout as string).trim();
    await ip(ns.l, 'neigh', 'replace', BACKEND, 'lladdr', b0mac, 'dev', 'l1', 'nud', 'permanent');

    h = openHarness('tc', { config: { flags: 0, fib_table: 0 } });
    h.service({ id: 1, vip: VIP, port: 80, endpoints: [{ ip: BACKEND, port: 8080 }] });
    h.service({ id: 2, vip: VIP, port: 53, proto: 'udp', endpoints: [{ ip: BACKEND, port: 5353 }] });
    const dp = h.dp;
    inNetns(ns.l, () => dp.attach(ifindex('l0')));

    const pcap = path.join(dir, 'backend.pcap');
    capture = inside(ns.b, 'tcpdump', '-i', 'b0', '-U', '-w', pcap, '-c', '2', 'tcp port 8080 or udp port 5353');
    await captureReady(capture, `tcpdump in ${ns.b}`);
    const send = [
      'import socket',
      `u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"x" * 300, ("${VIP}", 53))`,
      `s = socket.socket(); s.settimeout(1)`,
      `try: s.connect(("${VIP}", 80))`,
      'except Exception: pass',
    ].join('\n');
    await execa('ip', ['netns', 'exec', ns.c, 'python3', '-c', send], { reject: false });
    await Promise.race([capture, new Promise((r) => setTimeout(r, 5000))]);
    capture.kill();
    await capture.catch(() => undefined);
    const frames = (await readPcap(pcap)).map(decodeRecord);
    t.is(frames.length, 2, 'both packets reached the backend');
    for (const f of frames) t.deepEqual(checksumProblems(f), []);
    const reasons = h.reasons();
    t.is(reasons.new_flow, 2n);
  } finally {
    capture?.kill();
    if (h) {
      const dp = h.dp;
      try {
        inNetns(ns.l, () => dp.detach(ifindex('l0')));
      } catch {
        // the namespace may already be gone
      }
      h.close();
    }
    await trio.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});
