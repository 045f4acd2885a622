// What every `xlb` command shares: one argument parser (commander), one way to read flags and
// their XLB_* environment defaults, one set of exit codes and one way to report an error.
//
// Exit codes (the README's table): 0 ok, 1 failure (the command ran and something failed, or
// an expected error: a missing file, an agent that does not answer), 2 usage (the command line
// is wrong: an unknown option, a bad value, a missing argument). `xlb vm run` and `xlb lab exec`
// pass on the exit code of the command they ran.
//
// An error is printed as `xlb CMD: message` with what to do instead; the stack only with
// XLB_DEBUG=1, whatever the error.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

export { Command, InvalidArgumentError, Option };

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** The command line is wrong: exit 2, with a pointer to the command's --help. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An expected failure (a file that does not exist, a refused request): exit 1, no stack. */
export class CliError extends Error {
  override name = 'CliError';
}

const results = new WeakMap<Command, number>();

function rootOf(c: Command): Command {
  let r = c;
  while (r.parent !== null) r = r.parent;
  return r;
}

/**
 * A command configured like every other: `-h, --help` prints its help and does nothing else,
 * errors are reported as `PREFIX: message` and exit 2, with a pointer to the help. Subcommands
 * made with `.command()` inherit all of it.
 */
export function command(name: string, description: string): Command {
  const prefix = name.startsWith('xlb') ? name : `xlb ${name}`;
  return new Command(prefix)
    .description(description)
    .helpOption('-h, --help', 'show this help and do nothing else')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(`${prefix}: ${s.replace(/^error: /, '')}`) })
    .showHelpAfterError(`(${prefix} --help shows the options)`)
    .helpCommand(false)
    .allowExcessArguments(false);
}

/** Subcommand with the parent's settings; its errors name the full command. */
export function sub(parent: Command, name: string, description: string): Command {
  const prefix = `${fullName(parent)} ${name}`;
  // The list in the parent's help shows the first sentence; the subcommand's own help, all of it.
  return parent
    .command(name)
    .description(description)
    .summary(description.split(/(?<=\.)\s/)[0] ?? description)
    .configureOutput({ outputError: (s, write) => write(`${prefix}: ${s.replace(/^error: /, '')}`) })
    .showHelpAfterError(`(${prefix} --help shows the options)`)
    .helpCommand(false);
}

/** `xlb lab up`: the command's name with its parents'. */
export function fullName(c: Command): string {
  const names: string[] = [];
  for (let x: Command | null = c; x !== null; x = x.parent) names.unshift(x.name());
  return names.join(' ');
}

/** Sets the command's action: `fn` returns the exit code; what it throws is reported under the command's full name. */
export function act(cmd: Command, fn: () => Promise<number> | number): Command {
  return cmd.action(async () => {
    let code: number;
    try {
      code = await fn();
    } catch (e) {
      code = reportError(fullName(cmd), e);
    }
    results.set(rootOf(cmd), code);
  });
}

/**
 * Parses `argv` (the arguments after the command's name) with `cmd` and runs the action.
 * Returns the exit code: the action's, 0 for --help/--version, 2 for a usage error, 1 for an
 * error the action threw (reported without its stack unless XLB_DEBUG=1).
 */
export async function runCommand(cmd: Command, argv: string[]): Promise<number> {
  try {
    await cmd.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
      // The message was printed by outputError (configureOutput above).
      return EXIT.usage;
    }
    return reportError(fullName(cmd), e);
  }
  return results.get(cmd) ?? EXIT.ok;
}

function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return (
    e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string'
  );
}

/** The errors of a bug rather than of a situation: their message alone rarely says what to do. */
function isInternal(e: unknown): boolean {
  return (
    !(e instanceof Error) ||
    e instanceof TypeError ||
    e instanceof ReferenceError ||
    e instanceof RangeError ||
    e instanceof SyntaxError ||
    e.name === 'AssertionError'
  );
}

/**
 * Prints an error the way every command does and returns its exit code: `PREFIX: message`; the
 * stack with XLB_DEBUG=1; for an internal error (a TypeError…: a bug), a line saying how to see
 * where it came from.
 */
export function reportError(prefix: string, e: unknown): number {
  const debug = process.env.XLB_DEBUG === '1';
  const err = e instanceof Error ? e : new Error(String(e));
  let message = err.message;
  if (isSystemError(err)) {
    const p = (err as NodeJS.ErrnoException).path;
    message = `${p !== undefined ? `${p}: ` : ''}${SYSTEM_HINTS[err.code ?? ''] ?? err.message}`;
  }
  console.error(`${prefix}: ${message}`);
  if (e instanceof UsageError) console.error(`(${prefix} --help shows the options)`);
  if (debug) console.error(err.stack ?? '(no stack)');
  else if (isInternal(e) && !isSystemError(e)) console.error('(an internal error: XLB_DEBUG=1 shows where it came from)');
  return e instanceof UsageError ? EXIT.usage : EXIT.failure;
}

const SYSTEM_HINTS: Record<string, string> = {
  ENOENT: 'no such file or directory: check the path',
  EACCES: 'permission denied: check the permissions, or run as root',
  EISDIR: 'is a directory: give a file',
  ENOTDIR: 'a part of the path is not a directory: check the path',
  EPERM: 'operation not permitted: run as root',
};

/**
 * A reader that stops early (`xlb lb ls | head -3`, `xlb --help | true`) closes the pipe: the next
 * write fails with EPIPE, which node raises as an unhandled 'error' event (a stack trace, exit 1).
 * There is nobody left to tell anything, so the process ends quietly with status 0, as iproute2's
 * tools do; any other error on stdout or stderr is still raised. Installed once by the entry
 * points (runProgram), for every command.
 */
export function exitQuietlyOnClosedOutput(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const s of streams) {
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(EXIT.ok);
      throw err;
    });
  }
}

/**
 * Runs `main` as the program (an entry point: src/cli.ts, the agent's bundle src/agent/main.ts):
 * a closed stdout ends it quietly, its exit code becomes the process's, and what it throws is
 * reported like every other error under `prefix`.
 */
export function runProgram(prefix: string, main: (argv: string[]) => Promise<number>): void {
  exitQuietlyOnClosedOutput();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = reportError(prefix, err);
    },
  );
}

/** An argParser for a whole number in [min, max]. */
export function integer(min = 0, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError(`'${v}' is not a whole number${rangeText(min, max)}.`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${n} is out of range${rangeText(min, max)}.`);
    return n;
  };
}

function rangeText(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) return min > 0 ? ` (at least ${min})` : '';
  return ` (${min} to ${max})`;
}

/** An argParser for a comma-separated list, every item one of `allowed`; repeatable (the lists add up). */
export function listOf<T extends string>(allowed: readonly T[]): (v: string, prev: T[] | undefined) => T[] {
  return (v, prev) => {
    const items = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
    if (items.length === 0 || bad.length > 0)
      throw new InvalidArgumentError(
        `${bad.length > 0 ? bad.map((b) => `'${b}'`).join(', ') : "''"} is not one of ${allowed.join(', ')} (a comma-separated list).`,
      );
    return [...(prev ?? []), ...(items as T[])];
  };
}

/** An argParser for a repeatable option that also takes comma-separated values. */
export function collect(v: string, prev: string[] | undefined): string[] {
  return [
    ...(prev ?? []),
    ...v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  ];
}

/** An argParser for a repeatable option, each value kept as given. */
export function repeat(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** `-j, --json`: every read command's machine-readable output (JSON on stdout, one document). */
export function jsonOption(): Option {
  return new Option('-j, --json', 'print JSON (one document on stdout) instead of the table');
}

/** Prints a value as the JSON of every read command: one document, 2-space indented. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/**
 * The bearer token in FILE (the agent's and the client's --token-file: a token on the command
 * line would show in `ps`). Throws a CliError that says what to do.
 */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot read the token file ${file} (${code ?? (err as Error).message}): give the path of a file holding the bearer token`,
    );
  }
  const token = text.trim();
  if (token === '') throw new CliError(`the token file ${file} is empty: put the bearer token in it`);
  return token;
}
