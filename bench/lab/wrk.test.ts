import test from 'ava';
import { parseWrk, threadAddrScript, wrkArgs } from './wrk.ts';

// Printed by wrk 4.1.0 (Debian) in a bench lab: wrk -t2 -c8 -d1s --latency http://198.18.2.11/
const SAMPLE = `Running 1s test @ http://198.18.2.11/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.24ms    1.83ms  13.51ms   87.05%
    Req/Sec     6.40k     2.24k   11.13k    70.00%
  Latency Distribution
     50%  290.00us
     75%    1.64ms
     90%    3.61ms
     99%    8.52ms
  12799 requests in 1.01s, 1.83MB read
Requests/sec:  12717.46
Transfer/sec:      1.82MB
`;

test('parseWrk reads requests, rate, p50/p99 in their units, and zero errors when none are printed', (t) => {
  const r = parseWrk(SAMPLE);
  t.is(r.requests, 12799);
  t.is(r.durationS, 1.01);
  t.is(r.requestsPerSec, 12717.46);
  t.true(Math.abs(r.latencyP50Ms - 0.29) < 1e-9);
  t.is(r.latencyP99Ms, 8.52);
  t.deepEqual(r.errors, { connect: 0, read: 0, write: 0, timeout: 0 });
  t.is(r.non2xx, 0);
});

test('parseWrk reads socket errors and non-2xx counts', (t) => {
  const out = SAMPLE.replace(
    'Requests/sec',
    '  Socket errors: connect 3, read 14, write 0, timeout 2\n  Non-2xx or 3xx responses: 7\nRequests/sec',
  );
  const r = parseWrk(out);
  t.deepEqual(r.errors, { connect: 3, read: 14, write: 0, timeout: 2 });
  t.is(r.non2xx, 7);
});

test('parseWrk refuses output without a request count, quoting it', (t) => {
  const e = t.throws(() => parseWrk('unable to connect to 198.18.2.99:http No route to host\n'));
  t.regex(e?.message ?? '', /no request count.*\n.*No route to host/s);
});

test('wrkArgs: Connection: close for connections/s, a thread script for several addresses', (t) => {
  const a = wrkArgs({ url: 'http://198.18.100.1/', threads: 2, connections: 64, durationS: 5, close: true });
  t.deepEqual(a, ['-t', '2', '-c', '64', '-d', '5s', '--latency', '--timeout', '2s', '-H', 'Connection: close', 'http://198.18.100.1/']);
  t.throws(() => wrkArgs({ url: 'http://x/', threads: 2, connections: 2, durationS: 1, close: false, threadAddrs: ['a', 'b'] }), {
    message: /scriptPath/,
  });
  const s = threadAddrScript(['198.18.2.11', '198.18.2.12'], 80);
  t.regex(s, /local addrs = \{ "198\.18\.2\.11", "198\.18\.2\.12" \}/);
  t.regex(s, /wrk\.lookup\(addrs\[\(n - 1\) % #addrs \+ 1\], "80"\)/);
});
