#!/usr/bin/env node
/**
 * The `hotgen` command line: a table of commands, each loaded on demand (so `hotgen dev`
 * never loads koffi in the supervisor), and the one place where errors become exit
 * codes. The process exits through `process.exitCode`, never `process.exit`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { UsageError, formatError } from '../common/errors.js';
import { Output } from '../common/output.js';
import type { CommandSpec } from './command.js';

const COMMANDS: Record<string, () => Promise<{ default: CommandSpec }>> = {
  init: () => import('./init.js'),
  eject: () => import('./eject.js'),
  env: () => import('./env.js'),
  doctor: () => import('./doctor.js'),
  dev: () => import('./dev.js'),
  reload: () => import('./reload.js'),
  demo: () => import('./demo.js'),
  ci: () => import('./ci.js'),
};

const GLOBAL_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  cwd: { type: 'string', short: 'C' },
} as const;

/** hotgen's version, from the nearest package.json above this file (dist/cli/ or cli/). */
export function version(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
    } catch {
      continue;
    }
  }
  return 'unknown';
}

async function mainHelp(): Promise<string> {
  const specs = await Promise.all(Object.values(COMMANDS).map(async (load) => (await load()).default));
  const width = Math.max(...specs.map((s) => s.name.length));
  return [
    'hotgen: crate-level hot reloading for Cargo workspaces',
    '',
    'Usage: hotgen <command> [flags]',
    '',
    'Commands:',
    ...specs.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`),
    '',
    'Global flags (after the command): --json (one JSON object per line on stdout), -v/--verbose,',
    '  -C/--cwd DIR, -h/--help; and `hotgen --version`. Colour only on a terminal, never with NO_COLOR set.',
    'Exit codes: 0 ok, 1 user error, 2 usage error (also `hotgen` without a command, after this help),',
    '  70 internal error (a bug in hotgen: the message asks you to report it).',
    'Run `hotgen <command> --help` for a command\'s flags and examples.',
  ].join('\n');
}

function commandHelp(spec: CommandSpec): string {
  return [
    `${spec.summary}`,
    '',
    `Usage: ${spec.usage}`,
    ...(spec.flagHelp.length ? ['', 'Flags:', ...spec.flagHelp.map((l) => `  ${l}`)] : []),
    ...(spec.examples.length ? ['', 'Examples:', ...spec.examples.map((l) => `  ${l}`)] : []),
    '',
    'Global flags: --json (one JSON object per line on stdout), -v/--verbose, -C/--cwd DIR, -h/--help.',
    'Exit codes: 0 ok, 1 user error, 2 usage error, 70 internal error.',
  ].join('\n');
}

/** `caused by: ...` lines for an error's `cause` chain (shown with --verbose; internal errors show their stack anyway). */
function causes(err: unknown): string {
  let text = '';
  for (let c = (err as { cause?: unknown })?.cause, depth = 0; c !== undefined && depth < 5; c = (c as { cause?: unknown })?.cause, depth++) {
    text += `  caused by: ${c instanceof Error ? c.message : String(c)}\n`;
  }
  return text;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  // Global flags may also come before the command (`hotgen -C DIR dev`, `hotgen --json init`).
  const lead: string[] = [];
  while (argv[0] && /^(-C|-v|--cwd|--json|--verbose)(=|$)/.test(argv[0])) {
    const flag = argv[0];
    lead.push(flag);
    argv = argv.slice(1);
    if ((flag === '-C' || flag === '--cwd') && argv[0] !== undefined) {
      lead.push(argv[0]);
      argv = argv.slice(1);
    }
  }
  const [name, ...after] = argv;
  const dashes = after.indexOf('--');
  const passthrough = dashes < 0 ? [] : after.slice(dashes + 1);
  const rest = [...lead, ...(dashes < 0 ? after : after.slice(0, dashes))];
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write((await mainHelp()) + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(version() + '\n');
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) throw new UsageError(`unknown command \`${name}\``);
  const spec = (await load()).default;
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...spec.options }, allowPositionals: true, strict: true });
  } catch (err) {
    // node:util's messages go on with advice about `--` that does not apply to hotgen.
    throw new UsageError(`${name}: ${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`);
  }
  const flags = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (flags.help) {
    process.stdout.write(commandHelp(spec) + '\n');
    return 0;
  }
  if (!spec.positionals && parsed.positionals.length > 0) throw new UsageError(`${name}: unexpected argument \`${parsed.positionals[0]}\``);
  if (!spec.passthrough && dashes >= 0) throw new UsageError(`${name}: takes no arguments after \`--\``);
  const out = new Output(Boolean(flags.json), Boolean(flags.verbose));
  const cwd = path.resolve(typeof flags.cwd === 'string' ? flags.cwd : process.cwd());
  if (out.verbose) out.debug(`hotgen ${version()} ${name} in ${cwd}`);
  return (await spec.run({ flags, positionals: parsed.positionals, passthrough, out, cwd })) ?? 0;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]);
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      const { text, exitCode } = formatError(err);
      if (process.argv.includes('--json')) {
        process.stdout.write(JSON.stringify({ event: 'error', exitCode, message: text }) + '\n');
      }
      process.stderr.write(text + '\n');
      if (exitCode !== 70 && (process.argv.includes('--verbose') || process.argv.includes('-v'))) process.stderr.write(causes(err));
      process.exitCode = exitCode;
    },
  );
}
