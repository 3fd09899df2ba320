/**
 * `hotgen doctor`: checks that this machine and workspace can run the hot setup, one
 * result per check with a fix hint: platform, plan, toolchain, linker, LD_LIBRARY_PATH,
 * hotgen's own files, the Nix files, and (with `--build`) the hot build itself.
 * The generator never imports the loader: the hot build is run by a callback the CLI
 * passes in (`DoctorOptions.hotBuild`).
 */
import { promises as fs, realpathSync } from 'node:fs';
import path from 'node:path';
import { HotgenError, InternalError } from '../common/errors.js';
import { run } from '../common/exec.js';
import { parseToml } from '../common/deps-config.js';
import { exists, readIfExists } from '../common/fsx.js';
import { CARGO_CONFIG_FILE, TOOLCHAIN_FILE } from '../common/layout.js';
import type { HotPlan } from '../common/types.js';
import { cargoTargetDir, hotDepsDir } from './env.js';
import { isLegacyEdit } from './init-policy.js';
import { PLAN_FILE } from '../common/layout.js';
import { readPlan } from '../common/plan-read.js';
import { findPlanRoot } from '../common/root.js';
import { readState, STATE_FILE } from './state.js';
import { findOnPath, linkerBinary, parsePin, pinnedToolchain, resolveRustupToolchain, rustcInfo, rustcMatchesPin, targetLibdir, type ResolvedToolchain } from '../common/toolchain.js';

/** `ok` passes, `warn` passes with a remark, `fail` makes doctor exit 1, `skip` did not run (say why in the summary). */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** The checks, in the order {@link runDoctor} runs them. */
export const CHECK_IDS = ['platform', 'plan', 'toolchain', 'linker', 'ld-library-path', 'files', 'nix', 'hot-build'] as const;

/** One check's outcome. `hint` says how to fix a warn or fail. */
export interface CheckResult {
  id: (typeof CHECK_IDS)[number];
  status: CheckStatus;
  /** One line: what was found. */
  summary: string;
  hint?: string;
  /** More lines (a failed hot build's compiler errors), printed after the check's line. */
  details?: string;
}

/** Facts about the host, collected by {@link platformFacts} (separate so tests can vary them). */
export interface PlatformFacts {
  platform: string;
  arch: string;
  /** Output of `ldd --version` (stdout + stderr), empty when ldd is missing. */
  ldd: string;
  /** True when a musl dynamic loader (`/lib/ld-musl-*`) exists. */
  muslLoader: boolean;
}

/** Collects {@link PlatformFacts} from this machine. */
export async function platformFacts(): Promise<PlatformFacts> {
  const r = await run('ldd', ['--version'], { allowFailure: true }).catch(() => undefined);
  const lib = await fs.readdir('/lib').catch(() => [] as string[]);
  return { platform: process.platform, arch: process.arch, ldd: r ? r.stdout + r.stderr : '', muslLoader: lib.some((f) => f.startsWith('ld-musl-')) };
}

/**
 * Linux on x86_64 or aarch64 with glibc. musl never unloads shared objects, so reloads
 * would silently keep old code (musl wiki, "Functional differences from glibc: Unloading
 * libraries").
 */
export function checkPlatform(f: PlatformFacts): CheckResult {
  const arch = f.arch === 'x64' ? 'x86_64' : f.arch === 'arm64' ? 'aarch64' : f.arch;
  if (f.platform !== 'linux') return { id: 'platform', status: 'fail', summary: `${f.platform} is not supported`, hint: 'hotgen needs Linux with glibc (dlclose must unload).' };
  if (arch !== 'x86_64' && arch !== 'aarch64') return { id: 'platform', status: 'fail', summary: `CPU ${arch} is not supported`, hint: 'hotgen supports x86_64 and aarch64.' };
  const glibc = /(?:GLIBC|GNU libc)[^\d]*(\d+\.\d+)/i.exec(f.ldd);
  if (glibc) return { id: 'platform', status: 'ok', summary: `Linux ${arch}, glibc ${glibc[1]}` };
  if (/musl/i.test(f.ldd) || f.muslLoader) {
    return { id: 'platform', status: 'fail', summary: `Linux ${arch} with musl`, hint: 'musl never unloads shared objects; use a glibc system (or the Nix shell on one).' };
  }
  return { id: 'platform', status: 'warn', summary: `Linux ${arch}, libc unknown (ldd --version said nothing useful)`, hint: 'hotgen needs glibc.' };
}

/**
 * The toolchain hot builds use, chosen as `hotgen dev` chooses it (loader/build.ts):
 * the rustup toolchain that is the pin (`cargo +<name>`), else the `rustc` on PATH in
 * `root` with `env` (a Nix shell, whose toolchain is the pin). `plus` is how to call it.
 */
export interface HotToolchain {
  /** `['+<name>']` for a rustup toolchain, `[]` for the one on PATH. */
  plus: string[];
  /** How it was found: `rustup` (by the pin's name or the same build under its channel) or `path`. */
  via: 'rustup' | 'path';
  /** `rustc -V` of it. */
  version: string;
}

/**
 * Finds the toolchain hot builds will use for `plan` ({@link HotToolchain}), or
 * undefined when neither rustup has the pin nor the rustc on PATH is that build.
 * A rustup answer is confirmed with `rustc +<name> --print target-libdir`: a rustc that
 * is not rustup's proxy (a Nix shell's) also answers `rustc +<name> -vV`, ignoring the
 * `+<name>`, but fails that. Never installs anything.
 */
export async function findHotToolchain(root: string, plan: HotPlan, env: NodeJS.ProcessEnv, resolved?: ResolvedToolchain): Promise<HotToolchain | undefined> {
  const r = resolved ?? (await resolveRustupToolchain(plan.toolchain));
  if (r.match !== 'missing' && (await targetLibdir(r.name).then(() => true, () => false))) {
    return { plus: [`+${r.name}`], via: 'rustup', version: r.rustcVersion ?? r.name };
  }
  const active = await rustcInfo(undefined, root, env);
  if (active && rustcMatchesPin(parsePin(plan.toolchain), active)) return { plus: [], via: 'path', version: active.version };
  return undefined;
}

/**
 * The pinned toolchain (`hotgen/rust-toolchain.toml`) can run hot builds: rustup has it
 * (hotgen selects it itself with `+toolchain`, whatever the directory's own
 * rust-toolchain.toml or RUSTUP_TOOLCHAIN say), or the rustc on PATH is that build (a
 * Nix shell). The workspace's own toolchain is not hotgen's business.
 */
export async function checkToolchain(root: string, plan: HotPlan, env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const pin = parsePin(plan.toolchain);
  const resolved = await resolveRustupToolchain(plan.toolchain);
  const tc = await findHotToolchain(root, plan, env, resolved);
  if (tc?.via === 'rustup') {
    const as = resolved.name === pin.spec ? '' : ` as \`${resolved.name}\``;
    return { id: 'toolchain', status: 'ok', summary: `${tc.version} is the pin ${pin.spec} (rustup${as}; hot builds run cargo ${tc.plus[0]})` };
  }
  if (tc) return { id: 'toolchain', status: 'ok', summary: `${tc.version} (on PATH) matches the pin ${pin.spec}` };
  const active = await rustcInfo(undefined, root, env);
  const why = `rustup has no toolchain for the pin ${pin.spec}${active ? `, and the rustc on PATH is ${active.version}` : ', and no rustc works on PATH'}`;
  return {
    id: 'toolchain',
    status: 'fail',
    summary: why,
    hint: `Run \`nix develop\`, or: rustup toolchain install ${pin.spec} --component rust-src rust-analyzer (the pin is in ${TOOLCHAIN_FILE})`,
  };
}

/** The plan's linker (and clang, which drives mold and lld) on PATH. */
export async function checkLinker(plan: HotPlan, pathVar: string): Promise<CheckResult> {
  const ld = linkerBinary(plan.linker) ?? (plan.linker === 'gold' ? 'ld.gold' : undefined);
  if (!ld) return { id: 'linker', status: 'ok', summary: 'default linker (cc)' };
  const found = await findOnPath(ld, pathVar);
  if (!found) return { id: 'linker', status: 'fail', summary: `${ld} is not on PATH`, hint: `Install ${plan.linker} (Debian: apt-get install ${plan.linker === 'gold' ? 'binutils' : plan.linker}) or use \`nix develop\`.` };
  if (plan.linker === 'gold') return { id: 'linker', status: 'warn', summary: `gold at ${found}`, hint: 'gold is deprecated since binutils 2.44; prefer `--linker mold`.' };
  const clang = await findOnPath('clang', pathVar);
  if (!clang) return { id: 'linker', status: 'warn', summary: `${ld} at ${found}, but no clang (cc links with -fuse-ld=${plan.linker})`, hint: 'Install clang, as the Nix shell does.' };
  return { id: 'linker', status: 'ok', summary: `clang driving ${ld} (${found})` };
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/**
 * LD_LIBRARY_PATH holds the hot toolchain's libstd dir (else fail) and the hot build's
 * dylib dir `<cargo target dir>/hotgen/<profile dir>/deps` (else warn), as `hotgen env`
 * and the flake's shell set it (glibc reads it once, at process start). `hotgen dev`
 * sets it for its own host; this is for running the dylibs yourself (ldd, a debugger).
 */
export async function checkLdPath(root: string, plan: HotPlan, env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const tc = await findHotToolchain(root, plan, env);
  const plus = tc?.plus ?? [];
  let libstd: string | undefined;
  if (tc?.via === 'rustup') libstd = await targetLibdir(tc.plus[0]!.slice(1)).catch(() => undefined);
  else {
    const r = await run('rustc', ['--print', 'target-libdir'], { cwd: root, env: { ...env, RUSTUP_AUTO_INSTALL: '0' }, allowFailure: true }).catch(() => undefined);
    libstd = r?.code === 0 ? r.stdout.trim() || undefined : undefined;
  }
  if (!libstd) return { id: 'ld-library-path', status: 'skip', summary: 'no working rustc to ask for the libstd dir (see the toolchain check)' };
  const entries = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const hint = 'Run `eval "$(hotgen env)"` or `nix develop`.';
  if (!entries.some((e) => samePath(e, libstd))) return { id: 'ld-library-path', status: 'fail', summary: `LD_LIBRARY_PATH does not contain ${libstd}`, hint };
  let targetDir: string;
  try {
    targetDir = await cargoTargetDir(root, plus, env);
  } catch (err) {
    if (err instanceof InternalError) throw err;
    return { id: 'ld-library-path', status: 'warn', summary: `libstd (${libstd}); cargo could not say where the hot dylibs go: ${(err as Error).message}`, hint: 'Fix the workspace so that `cargo metadata` works.' };
  }
  const deps = hotDepsDir(targetDir, plan.profile);
  if (!entries.some((e) => samePath(e, deps))) return { id: 'ld-library-path', status: 'warn', summary: `LD_LIBRARY_PATH has libstd but not ${deps}`, hint };
  return { id: 'ld-library-path', status: 'ok', summary: `libstd (${libstd}) and ${deps}` };
}

/** Parses `file` (relative to root) as TOML; a message instead when it is missing or invalid. */
async function tomlFile(root: string, rel: string): Promise<{ toml: Record<string, unknown> } | { problem: string }> {
  const buf = await readIfExists(path.join(root, rel));
  if (!buf) return { problem: `${rel} is missing` };
  try {
    return { toml: parseToml(buf.toString('utf8')) as Record<string, unknown> };
  } catch (err) {
    return { problem: `${rel} is not valid TOML (${(err as Error).message.split('\n')[0]})` };
  }
}

/**
 * hotgen's own files are in place and nothing of the workspace is edited: the pin
 * (`hotgen/rust-toolchain.toml`) and the hot profile (`hotgen/cargo-config.toml`, with
 * `[profile.<profile>]` unless the plan uses `dev`) exist and parse; and no manifest
 * still carries an edit of the hotgen before 0.2 (its record, `.hotgen/init-state.json`,
 * lists `Cargo.toml` or `rust-toolchain.toml` files as `edited`), which `hotgen init`
 * undoes. Reads files only (no cargo run).
 */
export async function checkFiles(root: string, plan: HotPlan): Promise<CheckResult> {
  const problems: string[] = [];
  const pin = await tomlFile(root, TOOLCHAIN_FILE);
  if ('problem' in pin) problems.push(pin.problem);
  const config = await tomlFile(root, CARGO_CONFIG_FILE);
  if ('problem' in config) problems.push(config.problem);
  else if (plan.profile !== 'dev') {
    const profile = (config.toml.profile as Record<string, unknown> | undefined)?.[plan.profile];
    if (!profile || typeof profile !== 'object') problems.push(`${CARGO_CONFIG_FILE} has no [profile.${plan.profile}] (the profile in ${PLAN_FILE})`);
  }
  let legacy: string[] = [];
  try {
    legacy = ((await readState(root))?.files ?? []).filter((e) => isLegacyEdit(e)).map((e) => e.path);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (legacy.length > 0) {
    return {
      id: 'files',
      status: 'fail',
      summary: `${legacy.join(', ')} still carr${legacy.length === 1 ? 'ies' : 'y'} the edits of an older hotgen (recorded in ${STATE_FILE})${problems.length ? `; ${problems.join('; ')}` : ''}`,
      hint: 'Run `hotgen init`, which restores them.',
    };
  }
  if (problems.length) return { id: 'files', status: 'fail', summary: problems.join('; '), hint: 'Run `hotgen init` again.' };
  return { id: 'files', status: 'ok', summary: `${TOOLCHAIN_FILE} and ${CARGO_CONFIG_FILE} present; no workspace file edited` };
}

/**
 * The Nix files: `nix/hotgen.nix` (beside a user's flake) or `flake.nix` present and
 * reading the pin from `hotgen/rust-toolchain.toml`, which pins the plan's toolchain.
 */
export async function checkNixFiles(root: string, plan: HotPlan): Promise<CheckResult> {
  const nixFile = (await exists(path.join(root, 'nix', 'hotgen.nix'))) ? 'nix/hotgen.nix' : (await exists(path.join(root, 'flake.nix'))) ? 'flake.nix' : undefined;
  if (!nixFile) return { id: 'nix', status: 'fail', summary: 'no flake.nix or nix/hotgen.nix', hint: 'Run `hotgen init` again.' };
  const tt = await readIfExists(path.join(root, TOOLCHAIN_FILE));
  const channel = tt && pinnedToolchain(tt.toString('utf8'));
  if (channel !== plan.toolchain) {
    return { id: 'nix', status: 'fail', summary: `${nixFile} present, but ${TOOLCHAIN_FILE} ${tt ? `pins ${String(channel)}` : 'is missing'}, not ${plan.toolchain}`, hint: 'Run `hotgen init --force` to re-pin it.' };
  }
  const text = (await fs.readFile(path.join(root, nixFile), 'utf8')).toString();
  if (!text.includes(TOOLCHAIN_FILE)) {
    return {
      id: 'nix',
      status: 'warn',
      summary: `${nixFile} does not read ${TOOLCHAIN_FILE} (written by an older hotgen, or your own): its shell may have another toolchain`,
      hint: 'Run `hotgen init` (with --force if you edited the file).',
    };
  }
  return { id: 'nix', status: 'ok', summary: `${nixFile} reads ${TOOLCHAIN_FILE}, which pins ${plan.toolchain}` };
}

/** What a hot build probe reports: success, one line about it, and the compiler's errors on failure. */
export interface HotBuildOutcome {
  ok: boolean;
  /** One line, e.g. `built 2 workspace and 3 registry dylibs for app`. */
  summary: string;
  /** On failure: the rendered compiler errors; a last line starting with `hotgen: ` is a known fix. */
  errors?: string;
}

/**
 * Runs the real hot build of `plan` in `root` (the CLI passes one that uses
 * loader/hotbuild.ts). It resolves with the outcome; it may throw a UserError (no
 * toolchain, cargo metadata failing), which becomes a failed check.
 */
export type HotBuildProbe = (root: string, plan: HotPlan) => Promise<HotBuildOutcome>;

/**
 * The hot build check: `skip` without a probe (it builds the whole closure, so only on
 * request: `hotgen doctor --build`), else the probe's outcome. A failure's summary is
 * its first error line; the hint is the known fix the errors end with (`hotgen: ...`,
 * e.g. E0635 in a registry crate), else to fix the errors shown; `details` holds them.
 * @throws InternalError from the probe (a bug, not a failed check).
 */
export async function checkHotBuild(root: string, plan: HotPlan, probe?: HotBuildProbe): Promise<CheckResult> {
  if (!probe) return { id: 'hot-build', status: 'skip', summary: 'skipped (it builds the entry and its closure): run `hotgen doctor --build`' };
  let outcome: HotBuildOutcome;
  try {
    outcome = await probe(root, plan);
  } catch (err) {
    if (!(err instanceof HotgenError) || err instanceof InternalError) throw err;
    const hint = (err as { opts?: { hint?: string } }).opts?.hint;
    return { id: 'hot-build', status: 'fail', summary: `the hot build could not start: ${err.message.split('\n')[0]}`, hint: hint ?? 'Fix the problem above, then run `hotgen doctor --build` again.' };
  }
  if (outcome.ok) return { id: 'hot-build', status: 'ok', summary: outcome.summary };
  const errors = (outcome.errors ?? '').trimEnd();
  const lines = errors.split('\n');
  const known = lines.findLast((l) => l.startsWith('hotgen: '));
  const first = lines.find((l) => /^error/.test(l)) ?? lines.find((l) => l.trim()) ?? 'cargo failed';
  return {
    id: 'hot-build',
    status: 'fail',
    summary: `${outcome.summary}: ${first.trim()}`,
    hint: known ? known.slice('hotgen: '.length) : 'Fix the errors below, then run `hotgen doctor --build` again.',
    ...(errors ? { details: errors } : {}),
  };
}

/** Options for {@link runDoctor}; defaults are this process's. */
export interface DoctorOptions {
  env?: NodeJS.ProcessEnv;
  facts?: PlatformFacts;
  /** Runs the hot build for the `hot-build` check; absent: the check is skipped. */
  hotBuild?: HotBuildProbe;
}

/** Runs every check for the workspace at or above `cwd`. Checks that need the plan are left out without one. */
export async function runDoctor(cwd: string, opts: DoctorOptions = {}): Promise<CheckResult[]> {
  const env = opts.env ?? process.env;
  const results: CheckResult[] = [checkPlatform(opts.facts ?? (await platformFacts()))];
  const root = await findPlanRoot(cwd);
  let plan: HotPlan;
  try {
    plan = await readPlan(root);
    results.push({ id: 'plan', status: 'ok', summary: `${PLAN_FILE}: entry ${plan.entry}, profile ${plan.profile}, ${plan.toolchain}, linker ${plan.linker}` });
  } catch (err) {
    if (err instanceof InternalError) throw err;
    results.push({ id: 'plan', status: 'fail', summary: (err as Error).message, hint: 'Run `hotgen init` in the workspace.' });
    return results;
  }
  results.push(await checkToolchain(root, plan, env));
  results.push(await checkLinker(plan, env.PATH ?? ''));
  results.push(await checkLdPath(root, plan, env));
  results.push(await checkFiles(root, plan));
  results.push(await checkNixFiles(root, plan));
  results.push(await checkHotBuild(root, plan, opts.hotBuild));
  return results;
}

/**
 * One human line: `ok   toolchain  rustc ... (fix: ...)`; `details` follow on their own
 * lines, indented by four spaces.
 */
export function formatCheck(r: CheckResult): string {
  const tag = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' }[r.status];
  const hint = r.hint && r.status !== 'ok' ? ` (fix: ${r.hint})` : '';
  const details = r.details ? '\n' + r.details.split('\n').map((l) => `    ${l}`.trimEnd()).join('\n') : '';
  return `${tag} ${r.id.padEnd(15)} ${r.summary}${hint}${details}`;
}
