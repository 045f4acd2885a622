// The CLI's contract: --help on every command and subcommand prints help and exits 0; usage
// errors exit 2; expected errors exit 1 with a message and no stack (the stack with
// XLB_DEBUG=1); --version. In-process through main() for the many help checks, and through the
// launcher for what only a process shows (exit codes, stderr, dist/ or the sources).
import test from 'ava';
import { execa } from 'execa';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from './cli.ts';
import { ROOT } from './root.ts';

const XLB = path.join(ROOT, 'xlb');
const TSX = `file://${path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')}`;

/** Runs main() with stdout and stderr captured (commander writes through process.std*.write). */
async function inProcess(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  const log = console.log;
  const error = console.error;
  process.stdout.write = ((s: string | Uint8Array) => ((out += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  console.log = (...a: unknown[]) => void (out += `${a.join(' ')}\n`);
  console.error = (...a: unknown[]) => void (err += `${a.join(' ')}\n`);
  try {
    return { code: await main(argv), out, err };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
    console.log = log;
    console.error = error;
  }
}

const HELP = [
  [],
  ['agent'],
  ['lb'],
  ['lb', 'add'],
  ['lb', 'ls'],
  ['lb', 'rm'],
  ['ct'],
  ['ct', 'ls'],
  ['stats'],
  ['lab'],
  ['lab', 'up'],
  ['lab', 'down'],
  ['lab', 'ls'],
  ['lab', 'exec'],
  ['lab', 'show'],
  ['lab', 'topologies'],
  ['lab', 'bench'],
  ['lab', 'capture'],
  ['bench'],
  ['run'],
  ['scenario'],
  ['scenario', 'from-pcap'],
  ['scenario', 'shrink'],
  ['vm'],
  ['vm', 'run'],
  ['vm', 'smoke'],
  ['vm', 'fetch'],
  ['vm', 'ls'],
  ['vm', 'rm'],
  ['doctor'],
  ['pcap'],
  ['test'],
  ['demo'],
];

test.serial('--help and -h on every command and subcommand: the help, exit 0, nothing on stderr', async (t) => {
  for (const words of HELP) {
    for (const flag of ['--help', '-h']) {
      const r = await inProcess([...words, flag]);
      const what = ['xlb', ...words, flag].join(' ');
      t.is(r.code, 0, what);
      t.is(r.err, '', what);
      t.true(r.out.startsWith(`Usage: ${['xlb', ...words].join(' ')}`), `${what}: ${r.out.slice(0, 80)}`);
    }
  }
  // `xlb help CMD` is `xlb CMD --help`.
  const h = await inProcess(['help', 'lab']);
  t.is(h.code, 0);
  t.true(h.out.startsWith('Usage: xlb lab'));
});

test.serial('usage errors exit 2 and say what was wrong and where the help is', async (t) => {
  const cases: [string[], RegExp][] = [
    [['bogus'], /unknown command 'bogus'/],
    [['bench', '--bogus'], /^xlb bench: unknown option '--bogus'\n\(xlb bench --help shows the options\)/],
    [['bench', '--suite', 'nope'], /'nope' is not one of startup, binding/],
    [['test', '--only', 'unti'], /'unti' is not one of build, typecheck, lint, format, boundaries, unit, scenarios, vm/],
    [['lb', 'add'], /xlb lb add: missing required argument 'name'/],
    [['lb', 'add', 'web', '--port', '80x'], /'80x' is not a whole number \(1 to 65535\)/],
    [['lb', 'add', 'web', '--api', '127.0.0.1:1'], /xlb lb add: --vip and --port are required/],
    [['lb', 'frob'], /unknown command 'frob'/],
    [['agent', '--hook', 'foo'], /Allowed choices are tc, xdp/],
    [['lab', 'down'], /^xlb lab down: say which labs/],
    [['run', '--backend', 'sim,foo'], /'foo' is not one of sim, prog, lab/],
    [['vm', 'run', '--', 'true'], /required option '-k, --kernel <spec>'/],
    [['demo', '--backends', '9'], /9 is out of range \(1 to 8\)/],
    [['scenario', 'from-pcap'], /missing required argument 'file'/],
  ];
  for (const [argv, re] of cases) {
    const r = await inProcess(argv);
    t.is(r.code, 2, `xlb ${argv.join(' ')}: ${r.err}`);
    t.regex(r.err, re, `xlb ${argv.join(' ')}`);
    t.notRegex(r.err, /^\s+at /m, 'no stack');
  }
  const none = await inProcess([]);
  t.is(none.code, 2, 'xlb alone: the help, as a usage error');
  t.regex(none.err + none.out, /Usage: xlb/);
});

test.serial('expected errors exit 1 with the message and what to do, no stack', async (t) => {
  const r = await inProcess(['lb', 'add', 'x', '--file', '/nonexistent', '--api', '127.0.0.1:1']);
  t.is(r.code, 1);
  t.regex(r.err, /^xlb lb add: cannot read \/nonexistent \(ENOENT\): --file takes the path of a service body/);
  t.notRegex(r.err, /^\s+at /m);
  const tok = await inProcess(['stats', '--token-file', '/nonexistent-token', '--api', '127.0.0.1:1']);
  t.is(tok.code, 1);
  t.regex(tok.err, /cannot read the token file \/nonexistent-token \(ENOENT\)/);
  const down = await inProcess(['lb', 'ls', '--api', '127.0.0.1:1']);
  t.is(down.code, 1);
  t.regex(down.err, /^xlb lb ls: cannot reach the agent/);
  t.notRegex(down.err, /^\s+at /m);
});

test('through the launcher: --version, exit codes, the stack only with XLB_DEBUG=1', async (t) => {
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const v = await execa(XLB, ['--version'], { reject: false });
  t.is(v.exitCode, 0);
  t.is(v.stdout, `xlb ${version}`);
  const bad = await execa(XLB, ['bench', '--bogus'], { reject: false });
  t.is(bad.exitCode, 2);
  t.notRegex(bad.stderr, /^\s+at /m);
  const plain = await execa(XLB, ['lb', 'add', 'x', '--file', '/nonexistent'], { reject: false });
  t.is(plain.exitCode, 1);
  t.notRegex(plain.stderr, /^\s+at /m);
  const debug = await execa(XLB, ['lb', 'add', 'x', '--file', '/nonexistent'], { reject: false, env: { XLB_DEBUG: '1' } });
  t.is(debug.exitCode, 1);
  t.regex(debug.stderr, /^\s+at /m, 'XLB_DEBUG=1 shows the stack');
  // `test` goes through the machine set-up in the launcher; the CLI itself answers the same.
  const only = await execa(process.execPath, ['--import', TSX, path.join(ROOT, 'src', 'cli.ts'), 'test', '--only', 'unti'], {
    reject: false,
  });
  t.is(only.exitCode, 2);
  t.regex(only.stderr, /'unti' is not one of build, typecheck, lint, format, boundaries, unit, scenarios, vm/);
});

test('the launcher runs dist/ only when no source is newer than its stamp; scenario (and run) always run the sources', async (t) => {
  // A stand-in checkout: this launcher, a dist/ and a src/ whose cli prints which one ran.
  const dir = mkdtempSync(path.join(tmpdir(), 'xlb-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(XLB, path.join(dir, 'xlb'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  for (const d of ['dist/src', 'src', 'lab', 'bench']) mkdirSync(path.join(dir, d), { recursive: true });
  writeFileSync(path.join(dir, 'dist/src/cli.js'), "console.log('dist', process.argv.slice(2).join(' '));\n");
  writeFileSync(path.join(dir, 'src/cli.ts'), "console.log('sources', process.argv.slice(2).join(' '));\n");
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) writeFileSync(path.join(dir, f), '{}\n');
  writeFileSync(path.join(dir, 'dist/.stamp'), '');
  const old = new Date(Date.now() - 3_600_000);
  for (const f of ['src/cli.ts', 'tsconfig.json', 'tsconfig.build.json', 'package.json']) utimesSync(path.join(dir, f), old, old);
  const xlb = (args: string[], env: Record<string, string> = {}) => execa(path.join(dir, 'xlb'), args, { reject: false, env });
  t.is((await xlb(['doctor'])).stdout, 'dist doctor', 'fresh: dist/');
  t.is((await xlb(['agent', '--help'])).stdout, 'dist agent --help', 'no agent bundle (an older build): dist/src');
  mkdirSync(path.join(dir, 'dist/agent'));
  writeFileSync(path.join(dir, 'dist/agent/main.js'), "console.log('bundle', process.argv.slice(2).join(' '));\n");
  t.is((await xlb(['agent', '--pin-dir', 'x'])).stdout, 'bundle --pin-dir x', 'xlb agent runs its bundle, with the arguments after agent');
  t.is((await xlb(['scenario', 'x'])).stdout, 'sources scenario x', 'scenario (like run) loads TypeScript scenarios: the sources');
  t.is((await xlb(['doctor'], { XLB_TSX: '1' })).stdout, 'sources doctor');
  // An edit after the build: the sources run, and XLB_DEBUG=1 says why.
  writeFileSync(path.join(dir, 'lab/new.ts'), 'export {};\n');
  const stale = await xlb(['doctor'], { XLB_DEBUG: '1' });
  t.is(stale.stdout, 'sources doctor');
  t.regex(stale.stderr, /lab\/new\.ts is newer than dist\//);
  // A test file is not part of dist/: it does not make dist/ stale.
  rmSync(path.join(dir, 'lab/new.ts'));
  writeFileSync(path.join(dir, 'lab/x.test.ts'), 'export {};\n');
  t.is((await xlb(['doctor'])).stdout, 'dist doctor');
  rmSync(path.join(dir, 'dist/.stamp'));
  t.is((await xlb(['doctor'])).stdout, 'sources doctor', 'no stamp (a failed or no build): the sources');
});

test('a closed stdout (xlb … | head) ends the command quietly with status 0, on every command', async (t) => {
  // `| true` closes the pipe before the help is written: every write after that fails with EPIPE.
  for (const args of [['--help'], ['agent', '--help'], ['lab', 'up', '--help'], ['pcap', '--help']]) {
    const r = await execa(
      'bash',
      [
        '-c',
        '"$0" "$@" | true; echo "status ${PIPESTATUS[0]}"',
        process.execPath,
        '--import',
        TSX,
        path.join(ROOT, 'src', 'cli.ts'),
        ...args,
      ],
      {
        reject: false,
      },
    );
    t.is(r.stdout, 'status 0', `xlb ${args.join(' ')}`);
    t.is(r.stderr, '', `xlb ${args.join(' ')}: nothing on stderr`);
  }
});
