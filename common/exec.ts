/** Subprocesses: one place that spawns, collects output and builds `CommandError`s. */
import { spawn, type SpawnOptions } from 'node:child_process';
import { CommandError, UserError, tail } from './errors.js';

/** Options for {@link run}. `env` replaces the environment when given (merge yourself). */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, then stdin is closed. */
  input?: string;
  /** Return the result instead of throwing when the exit code is non-zero. */
  allowFailure?: boolean;
  /** Called with each complete stdout line as it arrives (the line is still collected). */
  onStdoutLine?: (line: string) => void;
  /** Called with each stderr chunk as it arrives (e.g. to pass cargo's progress through). */
  onStderr?: (chunk: string) => void;
  /** Prefix for the error message, e.g. "reading the workspace". */
  context?: string;
  /** Kill the process (SIGKILL) after this many ms. */
  timeoutMs?: number;
}

/** What a finished subprocess gave: exit code (null if killed), signal, full output. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Shell-quotes one word for display in error messages and printed commands. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `cmd args...` without a shell and resolves when it exits.
 * @throws UserError if `cmd` is not found (ENOENT); CommandError on a non-zero exit
 *   or a signal unless `allowFailure`.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const display = [cmd, ...args].map(shellQuote).join(' ');
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: opts.env ?? process.env, stdio: 'pipe' };
    const child = spawn(cmd, args, spawnOpts);
    let stdout = '';
    let stderr = '';
    let partial = '';
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!opts.onStdoutLine) return;
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) opts.onStdoutLine(line);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      opts.onStderr?.(chunk);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') reject(new UserError(`\`${cmd}\` was not found on PATH`, { cause: err }));
      else reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (partial && opts.onStdoutLine) opts.onStdoutLine(partial);
      const result = { code, signal, stdout, stderr };
      if ((code === 0 && !signal) || opts.allowFailure) resolve(result);
      else reject(new CommandError(display, code, signal, tail(stderr), opts.context));
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** True when `cmd` can be executed (found on PATH and runs `--version`). */
export async function haveCommand(cmd: string, versionArg = '--version'): Promise<boolean> {
  try {
    await run(cmd, [versionArg], { allowFailure: true, timeoutMs: 10_000 });
    return true;
  } catch {
    return false;
  }
}
