// Fixture of lab-world.test.ts: a lab World with a service and connections held open, then
// SIGINT to this process while the client runs (what Ctrl-C does). Prints the lab's name and id
// first, so the test can look for anything left of it afterwards.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VIP, builtinTopology } from '../topology/builtins.ts';
import { listStates } from '../../lab/state.ts';
import { createLabWorld } from './lab-world.ts';

const hook = process.argv[2] === 'xdp' ? 'xdp' : 'tc';
const runId = `sig${process.pid}`;
const artifactsDir = mkdtempSync(path.join(os.tmpdir(), 'xlb-labworld-sigint-'));
const world = await createLabWorld({
  backend: 'lab',
  hook,
  topology: builtinTopology('two-arm', { clients: 1, backends: 2 }),
  seed: 1,
  artifactsDir,
  runId,
});
const state = listStates().states.find((s) => s.name.includes(`-${runId}-`));
console.log(JSON.stringify({ name: state?.name, id: state?.id, artifactsDir }));
await world.apply([
  {
    name: 'web',
    vip: VIP.ipv4,
    port: 7000,
    protocol: 'tcp',
    algorithm: 'rr',
    mode: 'dnat',
    endpoints: [{ ip: '198.18.2.11', port: 7000 }],
  },
]);
await world.startClient('c1', { proto: 'tcp', target: VIP.ipv4, count: 3, rounds: 2 });
process.kill(process.pid, 'SIGINT');
// The Lab's handler removes everything and exits 130; this only bounds a broken handler.
setTimeout(() => {
  console.log('still running 20 s after SIGINT');
  process.exit(3);
}, 20_000);
