/**
 * Runs the built CLI (`dist/cli/hotgen.js`) as a user would, with stdout and stderr on
 * pipes (never a TTY), and checks the command-line conventions on what it printed.
 */
import { existsSync, readFileSync } from 'node:fs';

import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { run } from '../../common/exec.js';
import { missingTool } from '../helpers/tools.js';
import type { Tree } from '../helpers/tree.js';

/** The built CLI. */
export const CLI = fileURLToPath(new URL('../../dist/cli/hotgen.js', import.meta.url));
/** False until `npx tsc -p .` (or `npm test`) has built it. */
export const cliBuilt = existsSync(CLI);

/** A run of the CLI. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The four output modes every path is run in: human/JSON × colour allowed/NO_COLOR=1. */
export const MODES = [
  { json: false, noColor: false },
  { json: false, noColor: true },
  { json: true, noColor: false },
  { json: true, noColor: true },
] as const;
/** One output mode: `--json` or not, `NO_COLOR=1` or unset. */
export type Mode = (typeof MODES)[number];

/**
 * Our environment without NO_COLOR/FORCE_COLOR (the test decides), with NO_COLOR=1 when
 * asked, and HOTGEN_TOOLCHAIN=nightly when rustup lacks the plan's dated nightly by that
 * name (the same build under `nightly` is used then, as in the loader tests).
 */
export function cliEnv(noColor: boolean, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  if (noColor) env.NO_COLOR = '1';
  if (missingTool('cargo', ['+nightly-2026-05-19', '--version']) && !missingTool('cargo', ['+nightly', '--version'])) env.HOTGEN_TOOLCHAIN = 'nightly';
  return env;
}

/** `hotgen ...args` in `cwd` (adds --json in JSON mode); never throws on a non-zero exit. */
export function hotgen(cwd: string, args: string[], mode: Mode = MODES[1], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const argv = mode.json ? [...args, '--json'] : args;
  return run(process.execPath, [CLI, ...argv], { cwd, env: cliEnv(mode.noColor, extraEnv), allowFailure: true, timeoutMs: 120_000 });
}

const DOCS = fileURLToPath(new URL('../../docs/json-events.md', import.meta.url));
let docs: string | undefined;

/**
 * Every event name and top-level field in `events` is mentioned (in backquotes) in
 * docs/json-events.md, so the documentation cannot silently fall behind the code.
 */
export function expectDocumented(events: Record<string, unknown>[], where: string): void {
  docs ??= readFileSync(DOCS, 'utf8');
  for (const ev of events) {
    expect(docs, `event "${String(ev.event)}" is not in docs/json-events.md\n${where}`).toContain(`\`${String(ev.event)}\``);
    for (const field of Object.keys(ev)) expect(docs, `field "${field}" of "${String(ev.event)}" is not in docs/json-events.md\n${where}`).toContain(`\`${field}\``);
  }
}

/** Every stdout line parsed; each must be a JSON object with a string `event`. */
export function jsonLines(stdout: string, where: string): Record<string, unknown>[] {
  if (stdout === '') return [];
  expect(stdout.endsWith('\n'), `stdout must end with a newline\n${where}`).toBe(true);
  return stdout
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      let ev: unknown;
      expect(() => (ev = JSON.parse(line)), `not a JSON line: ${line}\n${where}`).not.toThrow();
      expect(ev, where).toBeTypeOf('object');
      expect(typeof (ev as { event?: unknown }).event, `no "event" in ${line}\n${where}`).toBe('string');
      return ev as Record<string, unknown>;
    });
}

/**
 * Checks one run against the conventions: the exit code; no ANSI escape anywhere (the
 * streams are pipes); in JSON mode stdout is JSON lines only; on a failure stderr starts
 * with one `hotgen: ` line matching `problem`, and in JSON mode the last event is
 * `{event:"error", exitCode, message}` starting with that line. Returns the events.
 */
export function expectConventions(r: CliRun, label: string, mode: Mode, code: number, problem?: RegExp): Record<string, unknown>[] {
  const where = `${label} (${mode.json ? 'json' : 'human'}${mode.noColor ? ', NO_COLOR=1' : ''})\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
  expect(r.code, where).toBe(code);
  expect(r.stdout.includes('\x1b['), `ANSI escape on stdout: ${where}`).toBe(false);
  expect(r.stderr.includes('\x1b['), `ANSI escape on stderr: ${where}`).toBe(false);
  const events = mode.json ? jsonLines(r.stdout, where) : [];
  expectDocumented(events, where);
  if (code !== 0) {
    const first = r.stderr.split('\n')[0];
    expect(first, where).toMatch(/^hotgen: \S/);
    if (problem) expect(first, where).toMatch(problem);
    if (mode.json) {
      const last = events.at(-1);
      expect(last, where).toMatchObject({ event: 'error', exitCode: code });
      expect(String(last?.message).split('\n')[0], where).toBe(first);
      expect(events.filter((e) => e.event === 'error'), where).toHaveLength(1);
    }
  } else if (mode.json) {
    expect(events.some((e) => e.event === 'error'), where).toBe(false);
  }
  return events;
}

const manifest = (name: string, deps: string[]) =>
  `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n${deps.map((d) => `${d} = { path = "../${d}" }\n`).join('')}`;

/**
 * A two-crate workspace (`app` → `base`) whose entry `app` already has the one function
 * a user writes (it waits for the stop request): small enough to build in seconds.
 */
export function tinyWorkspace(baseValue = 1): Tree {
  return {
    'Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["base", "app"]\n',
    'base/Cargo.toml': manifest('base', []),
    'base/src/lib.rs': `pub fn value() -> u32 { ${baseValue} }\n`,
    'app/Cargo.toml': manifest('app', ['base']),
    'app/src/lib.rs': [
      'pub fn run() -> u32 { base::value() }',
      '',
      '#[cfg(hotgen)]',
      '#[rustfmt::skip]',
      'mod hotgen_entry;',
      '',
      '#[cfg(hotgen)]',
      'fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {',
      '    ctx.wait_stop(None);',
      '    0',
      '}',
      '',
    ].join('\n'),
    'app/src/main.rs': 'fn main() { println!("{}", app::run()); }\n',
  };
}

