/**
 * The error model: every failure is one of these classes, and only the CLI entry
 * (`cli/hotgen.ts`) turns them into a message and an exit code.
 *
 * Exit codes: 0 ok, 1 user error, 2 usage error, 70 internal error (EX_SOFTWARE,
 * from BSD sysexits.h).
 */
import path from 'node:path';

/** Base class: `exitCode` is what the process exits with; `message` is one line. */
export class HotgenError extends Error {
  readonly exitCode: number = 1;
}

/**
 * Something the user can fix: bad input, a missing tool, a failed build.
 * `file` (absolute or cwd-relative path) and `line` (1-based) locate it when known;
 * `hint` is an optional second line saying what to do.
 */
export class UserError extends HotgenError {
  override readonly exitCode: number = 1;
  constructor(
    message: string,
    readonly opts: { file?: string; line?: number; hint?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'UserError';
  }
}

/** The command line itself is wrong (unknown flag, missing argument). Exit code 2. */
export class UsageError extends HotgenError {
  override readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A bug in hotgen: an invariant broke. Exit code 70, with a report-this line. */
export class InternalError extends HotgenError {
  override readonly exitCode = 70;
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, opts);
    this.name = 'InternalError';
  }
}

/**
 * A subprocess exited non-zero or by a signal. Carries the command line, the exit
 * code (or signal name) and the last lines of stderr (at most `STDERR_TAIL_LINES`).
 * It is a user error: the usual causes are the user's code, toolchain or manifests.
 */
export class CommandError extends UserError {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly signal: string | null,
    readonly stderrTail: string,
    context?: string,
  ) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    super(`${context ? context + ': ' : ''}\`${command}\` ${how}`, {
      hint: stderrTail || undefined,
    });
    this.name = 'CommandError';
  }
}

/** How many trailing stderr lines a `CommandError` keeps. */
export const STDERR_TAIL_LINES = 20;

/** The last `n` non-empty lines of `text`, joined by newlines. */
export function tail(text: string, n = STDERR_TAIL_LINES): string {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  return lines.slice(-n).join('\n');
}

/**
 * System errors that are the user's situation, not a hotgen bug (errno names from
 * errno(3)), with what to tell them. A command that meets one mid-write has already
 * undone its changes (generator/journal.ts).
 */
const USER_ERRNO: Record<string, [what: string, hint: string]> = {
  ENOSPC: ['no space left on device', 'Free some space, then run the command again; nothing was left half-written.'],
  EDQUOT: ['disk quota exceeded', 'Free some space, then run the command again; nothing was left half-written.'],
  EROFS: ['read-only file system', 'Run hotgen where the workspace is writable.'],
  EACCES: ['permission denied', 'Check the permissions of the file and its directory (ls -l).'],
  EPERM: ['operation not permitted', 'Check the permissions and attributes of the file (ls -l, lsattr).'],
  ENOTDIR: ['a component of the path is not a directory', 'Move the file that is in the way, then run the command again.'],
  EISDIR: ['is a directory where hotgen expects a file', 'Move the directory that is in the way, then run the command again.'],
  ELOOP: ['is a symlink where hotgen does not follow one', 'Replace the link with a regular file or directory.'],
  ENAMETOOLONG: ['file name too long', 'Use a shorter path.'],
};

/** A Node system error (`code`, `path`) that {@link formatError} reports as the user's, or undefined. */
export function userSystemError(err: unknown): UserError | undefined {
  const e = err as NodeJS.ErrnoException;
  const known = e && typeof e.code === 'string' ? USER_ERRNO[e.code] : undefined;
  if (!known) return undefined;
  const file = e.path ? path.relative(process.cwd(), e.path) || '.' : undefined;
  return new UserError(`${known[0]} (${e.code}${e.syscall ? ` in ${e.syscall}` : ''})`, { file, hint: known[1], cause: err });
}

/**
 * Formats any thrown value for the terminal. Errno errors of {@link USER_ERRNO} count as user errors. User errors become
 * `hotgen: <file>:<line>: <message>` plus an optional indented hint; anything else is
 * treated as an internal error with its stack and a report-this line.
 */
export function formatError(err: unknown): { text: string; exitCode: number } {
  err = userSystemError(err) ?? err;
  if (err instanceof UserError) {
    const where = err.opts.file ? `${err.opts.file}${err.opts.line ? `:${err.opts.line}` : ''}: ` : '';
    const hint = err.opts.hint ? '\n' + err.opts.hint.replace(/^/gm, '  ') : '';
    return { text: `hotgen: ${where}${err.message}${hint}`, exitCode: err.exitCode };
  }
  if (err instanceof UsageError) {
    return { text: `hotgen: ${err.message}\nRun \`hotgen --help\` for usage.`, exitCode: 2 };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    text:
      `hotgen: internal error: ${e.message}\n${e.stack ?? ''}\n` +
      'This is a bug in hotgen; please report it with the lines above.',
    exitCode: 70,
  };
}
