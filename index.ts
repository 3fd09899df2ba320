/**
 * hotgen's library API: each CLI command as a function, `import { init, eject, env,
 * doctor, dev } from 'hotgen'`. Every function loads its implementation on first call,
 * so importing this module costs nothing beyond the error classes. Errors are the
 * classes exported here: {@link UserError} (bad input, a failed build: the CLI's exit
 * 1), {@link InternalError} (a bug in hotgen); Node system errors such as ENOSPC pass
 * through unchanged.
 */
import type { InitOptions, InitResult } from './generator/init.js';
import type { EjectResult } from './generator/eject.js';
import type { CheckResult } from './generator/doctor.js';

export type { InitOptions, InitResult, FileChange } from './generator/init.js';
export type { EjectResult } from './generator/eject.js';
export type { CheckResult } from './generator/doctor.js';
export type { HotPlan, PlannedCrate, Role, ModuleRole, Linker, Channel, WorkspaceGraph, CrateNode } from './common/types.js';
export { HotgenError, UserError, UsageError, InternalError, CommandError } from './common/errors.js';

/**
 * `hotgen init` in the workspace at or above `dir` (absolute or relative to the process's
 * cwd): writes hotgen.yaml, hotgen/, the Nix files, .envrc and the entry shim, editing no
 * workspace file.
 * @returns the plan and the changed files (`dryRun`: a unified diff instead, nothing written).
 * @throws UserError for bad input, a file in the way, another hotgen command holding the
 *   workspace lock, or a file that is not writable (nothing changed then).
 */
export async function init(dir: string, opts: InitOptions = {}): Promise<InitResult> {
  return (await import('./generator/init.js')).initWorkspace(dir, opts);
}

/**
 * `hotgen eject`: undoes `init` in the workspace at or above `dir`, byte for byte.
 * @throws UserError when nothing was initialised, a `hotgen dev` session holds the lock,
 *   or hotgen's state is corrupt (nothing changed then).
 */
export async function eject(dir: string): Promise<EjectResult> {
  return (await import('./generator/eject.js')).ejectWorkspace(dir);
}

/** What {@link env} returns: the variables `eval "$(hotgen env)"` would set. */
export interface EnvResult {
  /** The workspace root (absolute). */
  root: string;
  /** The rustup toolchain hot builds use, e.g. `nightly-2026-05-19`. */
  toolchain: string;
  /** Variable name → value, LD_LIBRARY_PATH included (prepended to this process's). */
  env: Record<string, string>;
  /** One line each: what could not be set and why. */
  warnings: string[];
}

/**
 * `hotgen env` for the workspace at or above `dir` (writes the linker wrapper under
 * `.hotgen/bin/` as the command does).
 * @throws UserError when there is no hotgen.yaml or the pinned toolchain is not installed.
 */
export async function env(dir: string): Promise<EnvResult> {
  const [{ computeEnv, envValues }, { findPlanRoot }, { readPlan }] = await Promise.all([import('./generator/env.js'), import('./common/root.js'), import('./common/plan-read.js')]);
  const root = await findPlanRoot(dir);
  const e = await computeEnv(root, await readPlan(root));
  return { root, toolchain: e.toolchain.name, env: envValues(e), warnings: e.warnings };
}

/**
 * `hotgen doctor`: every check for the workspace at or above `dir`, in order (platform,
 * plan, toolchain, linker, LD_LIBRARY_PATH, files, Nix files, hot build). `build: true`
 * runs the real hot build for the last check (seconds to minutes); otherwise it is skipped.
 * @returns one result per check; none throws for a failing check.
 */
export async function doctor(dir: string, opts: { build?: boolean } = {}): Promise<CheckResult[]> {
  const { runDoctor } = await import('./generator/doctor.js');
  if (!opts.build) return runDoctor(dir);
  const [{ hotBuildProbe }, { Output }] = await Promise.all([import('./cli/doctor.js'), import('./common/output.js')]);
  return runDoctor(dir, { hotBuild: hotBuildProbe(new Output(true, false)) });
}

/** Options of {@link dev}; every one defaults to the CLI's default. */
export interface DevOptions {
  /** Watch the sources and reload on a change (default true). */
  watch?: boolean;
  /** Run cargo (default true); false picks up dylibs built elsewhere. */
  build?: boolean;
  /** One JSON event per line on stdout instead of text (default false). */
  json?: boolean;
  verbose?: boolean;
  /** The app's arguments (`ctx.args()`), instead of hotgen.yaml `app.args`. */
  args?: string[];
}

/**
 * `hotgen dev`: builds, runs and hot-reloads the workspace at or above `dir` until the
 * session is quit (SIGTERM/SIGQUIT to this process, or CTRL+\ on a terminal). Runs in
 * child processes; this process binds the plan's listen addresses and holds the
 * workspace lock. The app reads this process's stdin.
 * @returns the session's exit code (0 after a clean quit).
 * @throws UserError when there is no hotgen.yaml, a listen address cannot be bound, or
 *   another hotgen command holds the workspace lock.
 */
export async function dev(dir: string, opts: DevOptions = {}): Promise<number> {
  const [{ launch }, { findPlanRoot }, { readPlan }] = await Promise.all([import('./loader/launcher.js'), import('./common/root.js'), import('./common/plan-read.js')]);
  const root = await findPlanRoot(dir);
  const plan = await readPlan(root);
  return launch({ root, json: !!opts.json, verbose: !!opts.verbose, watch: opts.watch ?? true, build: opts.build ?? true, listen: plan.listen, ...(opts.args ? { args: opts.args } : {}) });
}
