/**
 * `hotgen doctor`: checks that this machine and workspace can run the hot setup, one
 * result per check with a fix hint: platform, toolchain, linker, LD_LIBRARY_PATH,
 * manifests against the plan, and the Nix files.
 */
import { promises as fs, realpathSync } from 'node:fs';
import path from 'node:path';
import { run } from '../common/exec.js';
import { parseToml } from '../common/deps.js';
import { exists, readIfExists } from '../common/fsx.js';
import type { HotPlan } from '../common/types.js';
import { readPlan, PLAN_FILE } from './plan.js';
import { findPlanRoot } from './plan-file.js';
import { findOnPath, linkerBinary, parsePin, profileDir, resolveRustupToolchain, rustcInfo, rustcMatchesPin, targetLibdir } from './toolchain.js';

/** `ok` passes, `warn` passes with a remark, `fail` makes doctor exit 1, `skip` could not run. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** One check's outcome. `hint` says how to fix a warn or fail. */
export interface CheckResult {
  id: 'platform' | 'plan' | 'toolchain' | 'linker' | 'ld-library-path' | 'manifests' | 'nix';
  status: CheckStatus;
  summary: string;
  hint?: string;
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
 * would silently keep old code (REFERENCE.md, "Dynamic loading hazards").
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
 * The active toolchain (the `rustc` on PATH, run in `root` so rust-toolchain.toml and
 * RUSTUP_TOOLCHAIN apply) against the plan's pin.
 */
export async function checkToolchain(root: string, plan: HotPlan, env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const pin = parsePin(plan.toolchain);
  const active = await rustcInfo(undefined, root, env);
  if (active && rustcMatchesPin(pin, active)) return { id: 'toolchain', status: 'ok', summary: `${active.version} matches the pin ${pin.spec}` };
  const installed = await resolveRustupToolchain(plan.toolchain);
  const why = active ? `the active rustc is ${active.version}, not the pin ${pin.spec}` : `no working rustc for the pin ${pin.spec}`;
  if (installed.match !== 'missing') {
    return { id: 'toolchain', status: 'fail', summary: `${why} (rustup has it as \`${installed.name}\`)`, hint: 'Run `eval "$(hotgen env)"` or `nix develop`.' };
  }
  return { id: 'toolchain', status: 'fail', summary: why, hint: `Run \`nix develop\`, or: rustup toolchain install ${pin.spec} --component rust-src rust-analyzer` };
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

/** LD_LIBRARY_PATH holds the active toolchain's libstd dir (glibc reads it once, at process start). */
export async function checkLdPath(root: string, plan: HotPlan, env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const r = await run('rustc', ['--print', 'target-libdir'], { cwd: root, env: { ...env, RUSTUP_AUTO_INSTALL: '0' }, allowFailure: true }).catch(() => undefined);
  let libstd = r?.code === 0 ? r.stdout.trim() : undefined;
  if (!libstd) {
    // The active rustc is broken (e.g. the pin is not installed under its own name): ask the
    // rustup toolchain that is the pinned build instead, since that is what `hotgen env` selects.
    const resolved = await resolveRustupToolchain(plan.toolchain);
    if (resolved.match !== 'missing') libstd = await targetLibdir(resolved.name).catch(() => undefined);
  }
  if (!libstd) return { id: 'ld-library-path', status: 'skip', summary: 'no working rustc to ask for the libstd dir' };
  const entries = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const hint = 'Run `eval "$(hotgen env)"` or `nix develop`.';
  if (!entries.some((e) => samePath(e, libstd))) return { id: 'ld-library-path', status: 'fail', summary: `LD_LIBRARY_PATH does not contain ${libstd}`, hint };
  const out = path.join(env.CARGO_TARGET_DIR ? path.resolve(root, env.CARGO_TARGET_DIR) : path.join(root, 'target'), profileDir(plan.profile));
  if (!entries.some((e) => samePath(e, out))) return { id: 'ld-library-path', status: 'warn', summary: `LD_LIBRARY_PATH has libstd but not ${out}`, hint };
  return { id: 'ld-library-path', status: 'ok', summary: `libstd (${libstd}) and ${out}` };
}

type Table = Record<string, unknown>;
const table = (v: unknown): Table | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Table) : undefined);

async function readToml(file: string): Promise<Table> {
  return parseToml(await fs.readFile(file, 'utf8')) as Table;
}

/** The manifest of planned crate `c`: the nearest Cargo.toml at or above its first source dir. */
async function crateManifest(root: string, src: readonly string[]): Promise<string | undefined> {
  if (!src[0]) return undefined;
  for (let dir = path.resolve(root, src[0]); dir.startsWith(root); dir = path.dirname(dir)) {
    if (await exists(path.join(dir, 'Cargo.toml'))) return path.join(dir, 'Cargo.toml');
    if (dir === root) break;
  }
  return undefined;
}

/**
 * The manifests carry what the plan needs: `cargo-features = ["profile-rustflags"]`, the
 * profile with `prefer-dynamic` in its rustflags, and `dylib` in the `[lib] crate-type`
 * of every entry, reloadable and frozen crate. Parses the files only (no cargo run, so
 * a missing toolchain does not hide manifest problems). Problems are listed together.
 */
export async function checkManifests(root: string, plan: HotPlan): Promise<CheckResult> {
  const problems: string[] = [];
  try {
    const rootToml = await readToml(path.join(root, 'Cargo.toml'));
    const features = rootToml['cargo-features'];
    if (!Array.isArray(features) || !features.includes('profile-rustflags')) problems.push('Cargo.toml lacks cargo-features = ["profile-rustflags"]');
    const prof = table(table(rootToml.profile)?.[plan.profile]);
    const flags = Array.isArray(prof?.rustflags) ? prof.rustflags.join(' ') : '';
    if (!prof) problems.push(`Cargo.toml has no [profile.${plan.profile}]`);
    else if (!/-C ?prefer-dynamic/.test(flags)) problems.push(`[profile.${plan.profile}] rustflags lack -C prefer-dynamic`);
    for (const c of plan.crates) {
      if (c.role === 'excluded') continue;
      const manifest = await crateManifest(root, c.src);
      const toml = manifest && (await readToml(manifest));
      if (!manifest || !toml || table(toml.package)?.name !== c.name) {
        problems.push(`no manifest for ${c.name} (from its src in ${PLAN_FILE})`);
        continue;
      }
      const types = table(toml.lib)?.['crate-type'];
      if (!Array.isArray(types) || !types.includes('dylib')) problems.push(`${path.relative(root, manifest)}: [lib] crate-type lacks "dylib"`);
    }
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (problems.length) return { id: 'manifests', status: 'fail', summary: problems.join('; '), hint: 'Run `hotgen init` again.' };
  return { id: 'manifests', status: 'ok', summary: `[profile.${plan.profile}] and ${plan.crates.filter((c) => c.role !== 'excluded').length} dylib crates as planned` };
}

/** flake.nix (or nix/hotgen.nix) present, and rust-toolchain.toml pinning the plan's toolchain. */
export async function checkNixFiles(root: string, plan: HotPlan): Promise<CheckResult> {
  const flake = (await exists(path.join(root, 'flake.nix'))) ? 'flake.nix' : (await exists(path.join(root, 'nix', 'hotgen.nix'))) ? 'nix/hotgen.nix' : undefined;
  if (!flake) return { id: 'nix', status: 'fail', summary: 'no flake.nix or nix/hotgen.nix', hint: 'Run `hotgen init` again.' };
  const tt = await readIfExists(path.join(root, 'rust-toolchain.toml'));
  let channel: unknown;
  try {
    channel = tt && table((parseToml(tt.toString('utf8')) as Table).toolchain)?.channel;
  } catch {
    channel = undefined;
  }
  if (channel !== plan.toolchain) {
    return { id: 'nix', status: 'fail', summary: `${flake} present, but rust-toolchain.toml ${tt ? `pins ${String(channel)}` : 'is missing'}, not ${plan.toolchain}`, hint: 'Run `hotgen init --force` to re-pin it.' };
  }
  return { id: 'nix', status: 'ok', summary: `${flake} and rust-toolchain.toml pin ${plan.toolchain}` };
}

/** Options for {@link runDoctor}; defaults are this process's. */
export interface DoctorOptions {
  env?: NodeJS.ProcessEnv;
  facts?: PlatformFacts;
}

/** Runs every check for the workspace at or above `cwd`. Checks that need the plan are skipped without one. */
export async function runDoctor(cwd: string, opts: DoctorOptions = {}): Promise<CheckResult[]> {
  const env = opts.env ?? process.env;
  const results: CheckResult[] = [checkPlatform(opts.facts ?? (await platformFacts()))];
  const root = await findPlanRoot(cwd);
  let plan: HotPlan;
  try {
    plan = await readPlan(root);
    results.push({ id: 'plan', status: 'ok', summary: `${PLAN_FILE}: entry ${plan.entry}, profile ${plan.profile}, ${plan.toolchain}, linker ${plan.linker}` });
  } catch (err) {
    results.push({ id: 'plan', status: 'fail', summary: (err as Error).message, hint: 'Run `hotgen init` in the workspace.' });
    return results;
  }
  results.push(await checkToolchain(root, plan, env));
  results.push(await checkLinker(plan, env.PATH ?? ''));
  results.push(await checkLdPath(root, plan, env));
  results.push(await checkManifests(root, plan));
  results.push(await checkNixFiles(root, plan));
  return results;
}

/** One human line: `ok   toolchain  rustc ... (fix: ...)`. */
export function formatCheck(r: CheckResult): string {
  const tag = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' }[r.status];
  return `${tag} ${r.id.padEnd(15)} ${r.summary}${r.hint && r.status !== 'ok' ? ` (fix: ${r.hint})` : ''}`;
}
