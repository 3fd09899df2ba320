/** The shape of one CLI command: each lives in its own file under `cli/`. */
import type { ParseArgsConfig } from 'node:util';
import type { Output } from '../common/output.js';

/** Parsed flags: `--name value` as string, booleans as boolean, `multiple` as string[]. */
export type Flags = Record<string, string | boolean | string[] | undefined>;

/** What a command function receives. `cwd` is the directory `--cwd`/`-C` names, else process.cwd(). */
export interface CommandContext {
  flags: Flags;
  positionals: string[];
  /** Everything after a `--` on the command line, untouched (`hotgen dev -- ARGS`); empty without one. */
  passthrough: string[];
  out: Output;
  cwd: string;
}

/** A command: its flags (node:util parseArgs options), help text and function. */
export interface CommandSpec {
  name: string;
  summary: string;
  /** e.g. "hotgen init [--entry NAME] [--frozen a,b] [--dry-run]" */
  usage: string;
  /** Flag descriptions, one line each, shown by --help. */
  flagHelp: string[];
  examples: string[];
  options: NonNullable<ParseArgsConfig['options']>;
  /** True when the command takes positional arguments; otherwise one is a usage error (exit 2). */
  positionals?: boolean;
  /** True when the command takes arguments after `--` ({@link CommandContext.passthrough}); otherwise they are a usage error. */
  passthrough?: boolean;
  /** Resolves to the exit code (default 0). Throws HotgenError subclasses on failure. */
  run(ctx: CommandContext): Promise<number | void>;
}
