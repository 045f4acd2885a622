// Root test of the `xlb lab` command: up (detached, outlives the command), ls, exec, down.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { newRunId } from '../src/topology/naming.ts';
import { readState } from './state.ts';
import { labNetnsNames } from './sweep.ts';

const XLB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'xlb');

test('xlb lab up / ls / exec / down', async (t) => {
  const name = `clitest-${newRunId()}`;
  const up = await execa(XLB, ['lab', 'up', 'one-arm', '--name', name, '--backends', '2', '--no-ipv6', '--json'], { reject: false });
  t.is(up.exitCode, 0, up.stderr);
  const info = JSON.parse(up.stdout) as { name: string; id: string; upMs: number };
  try {
    t.is(info.name, name);
    t.is(readState(name)?.owner, null, 'detached: no owner');
    t.true(labNetnsNames().some((n) => n === `xlb-${info.id}-lb`));
    const ls = await execa(XLB, ['lab', 'ls']);
    t.regex(ls.stdout, new RegExp(`${name}\\s+id ${info.id}\\s+one-arm`));
    const ping = await execa(XLB, ['lab', 'exec', '--name', name, 'c1', '--', 'ping', '-c1', '-W1', '198.18.1.102'], { reject: false });
    t.is(ping.exitCode, 0, ping.stdout + ping.stderr);
    const fail = await execa(XLB, ['lab', 'exec', '--name', name, 'c1', '--', 'sh', '-c', 'exit 4'], { reject: false });
    t.is(fail.exitCode, 4, 'exec passes the exit status through');
    const bad = await execa(XLB, ['lab', 'exec', '--name', name, 'zz', '--', 'true'], { reject: false });
    t.is(bad.exitCode, 1);
    t.regex(bad.stderr, /no node 'zz' \(nodes: lb, c1, b1, b2\)/);
    const cap = await execa(XLB, ['lab', 'capture', '--name', name, '--seconds', '0.5', 'c1', 'lb:lan'], { reject: false });
    t.is(cap.exitCode, 0, cap.stderr);
    t.regex(cap.stdout, /c1-lan\.pcap {2}\d+ packets/);
    t.regex(cap.stdout, /lb-lan\.pcap {2}\d+ packets/);
    // --all, safely: a dry run lists this lab (and whatever else exists) and removes nothing.
    const dry = await execa(XLB, ['lab', 'down', '--all', '--dry-run', '--json'], { reject: false });
    t.is(dry.exitCode, 0, dry.stderr);
    const would = JSON.parse(dry.stdout) as { labs: string[]; namespaces: string[] };
    t.true(would.labs.includes(name));
    t.true(would.namespaces.includes(`xlb-${info.id}-lb`) && would.namespaces.includes(`xlb-${info.id}-sw-s1`));
    t.true(labNetnsNames().includes(`xlb-${info.id}-lb`), 'dry run removed nothing');
    const dup = await execa(XLB, ['lab', 'up', '--name', name], { reject: false });
    t.is(dup.exitCode, 1);
    t.regex(dup.stderr, /already exists.*xlb lab down --name/);
  } finally {
    const down = await execa(XLB, ['lab', 'down', '--name', name], { reject: false });
    t.is(down.exitCode, 0, down.stderr);
  }
  t.false(labNetnsNames().some((n) => n.startsWith(`xlb-${info.id}-`)));
  t.is(readState(name), undefined);
  const usage = await execa(XLB, ['lab', 'down'], { reject: false });
  t.is(usage.exitCode, 2);
  t.regex(usage.stderr, /say which labs: --name N, --id ID, --stale/);
});
