/**
 * The hot build without editing the workspace (README, "Architecture": The hot build):
 * cargo runs with hotgen's rustc wrapper (`loader/wrapper/hotgen_rustc.rs`, compiled once
 * per toolchain with that toolchain's rustc) in a target directory of its own, and the
 * wrapper builds every library of the entry's closure as rlib+dylib. This module
 * prepares that build: the closure (from `cargo metadata`), the wrapper binary, the
 * environment, and `--config hotgen/cargo-config.toml` for the hot profile.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InternalError, UserError } from '../common/errors.js';
import { run } from '../common/exec.js';
import { atomicWrite, sha256 } from '../common/fsx.js';
import type { HotPlan, ModuleRole } from '../common/types.js';
import { CARGO_CONFIG_FILE } from '../common/layout.js';
import { hostTriple, hotDepsDir, hotTargetDir, profileDir } from '../common/toolchain.js';
import { cargoBuild, type BuildOptions, type BuildResult, type CargoArtifact } from './build.js';
import { artifactStem, entryRecord, moduleGraph, readUnits, type HotModule, type UnitRecord } from './units.js';
import type { UnitTimingOf } from './phases.js';

/** The wrapper's source, relative to the package root (shipped in the npm package). */
const WRAPPER_SOURCE = 'loader/wrapper/hotgen_rustc.rs';

/** A package of the entry's closure whose library the wrapper turns into a dylib. */
export interface ClosurePackage {
  /** Package name as in its manifest. */
  name: string;
  version: string;
  /** Absolute directory of its Cargo.toml (cargo's `CARGO_MANIFEST_DIR` for its units). */
  dir: string;
  role: ModuleRole;
}

/** Everything a hot cargo run needs beyond the toolchain. */
export interface HotBuild {
  /** The hot build's own target directory: `<cargo target_directory>/hotgen`. */
  targetDir: string;
  /** Where the dylibs land: `<targetDir>/<profile dir>/deps`. */
  depsDir: string;
  /** The wrapper's unit records (loader/units.ts). */
  unitsDir: string;
  /** Closure packages by directory. */
  closure: Map<string, ClosurePackage>;
  /** Every non-member package of the build (proc-macros and build dependencies too), for messages. */
  registry: { name: string; version: string }[];
  /** What the wrapper's records must carry in `flags` (wrapper build + link args). */
  flagsKey: string;
  /** Arguments after `cargo [+tc] build`: profile, package, config file. */
  cargoArgs: string[];
  /** `--config <hotgen/cargo-config.toml>`: the hot profile, for any cargo command. */
  configArgs: string[];
  /** Environment added to cargo's: RUSTC_WRAPPER, CARGO_TARGET_DIR, HOTGEN_*. */
  env: Record<string, string>;
}

/** Link arguments the wrapper adds to every dylib for `plan.linker` (`-fuse-ld=`; none for `default`). */
export function linkArgs(plan: HotPlan): string[] {
  return plan.linker === 'default' ? [] : ['-C', `link-arg=-fuse-ld=${plan.linker}`];
}

/**
 * The package's own file `rel`: the nearest ancestor of this module holding
 * `package.json` and `rel` (works from `dist/loader/` and from the sources).
 * @throws InternalError for a broken install.
 */
export function packageFile(rel: string, from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, rel))) return path.join(dir, rel);
    if (path.dirname(dir) === dir) throw new InternalError(`no ${rel} above ${from} (a broken hotgen install)`);
  }
}

interface Metadata {
  packages: { id: string; name: string; version: string; manifest_path: string; targets: { kind: string[] }[] }[];
  workspace_members: string[];
  resolve: { nodes: { id: string; deps: { pkg: string; dep_kinds: { kind: string | null }[] }[] }[] } | null;
  target_directory: string;
}

/**
 * The libraries the entry's library links: its normal dependencies, transitively
 * (build- and dev-dependencies and proc-macros are compile-time only), for the host
 * platform (`cargo metadata --filter-platform`). Workspace members keep their plan
 * role; an excluded member and every other package become `registry`.
 * @throws UserError when cargo metadata fails or the entry is not a member.
 */
export function entryClosure(meta: Metadata, plan: HotPlan): Map<string, ClosurePackage> {
  const byId = new Map(meta.packages.map((p) => [p.id, p]));
  const members = new Set(meta.workspace_members);
  const entry = meta.packages.find((p) => members.has(p.id) && p.name === plan.entry);
  if (!entry || !meta.resolve) throw new UserError(`the entry crate \`${plan.entry}\` is not a member of this workspace`, { file: 'hotgen.yaml' });
  const nodes = new Map(meta.resolve.nodes.map((n) => [n.id, n]));
  const roles = new Map(plan.crates.map((c) => [c.name, c.role]));
  const out = new Map<string, ClosurePackage>();
  const seen = new Set<string>();
  const stack = [entry.id];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const p = byId.get(id)!;
    if (p.targets.some((t) => t.kind.includes('proc-macro'))) continue;
    const planned = members.has(id) ? roles.get(p.name) : undefined;
    const role: ModuleRole = planned === undefined || planned === 'excluded' ? 'registry' : planned;
    out.set(path.dirname(p.manifest_path), { name: p.name, version: p.version, dir: path.dirname(p.manifest_path), role });
    for (const d of nodes.get(id)?.deps ?? []) if (d.dep_kinds.some((k) => k.kind === null)) stack.push(d.pkg);
  }
  return out;
}

/**
 * Compiles the wrapper with the workspace's rustc into `<targetDir>/hotgen-rustc-<key>`
 * unless that file exists (`key`: hash of its sources and `rustc -vV`), and returns its path.
 * @throws CommandError when rustc cannot compile it.
 */
export async function ensureWrapper(targetDir: string, plus: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ bin: string; key: string }> {
  const source = packageFile(WRAPPER_SOURCE);
  const rustcV = await run('rustc', [...plus, '-vV'], { cwd, env, context: 'asking rustc its version', timeoutMs: 60_000 });
  // The wrapper's modules (`mod fast;`...) are the other `.rs` files beside it.
  const dir = path.dirname(source);
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.rs')).sort();
  const texts = await Promise.all(files.map((f) => fs.readFile(path.join(dir, f))));
  const key = sha256(Buffer.concat([...files.flatMap((f, i) => [Buffer.from(`${f}\0`), texts[i]]), Buffer.from(rustcV.stdout)])).slice(0, 16);
  const bin = path.join(targetDir, `hotgen-rustc-${key}`);
  if (existsSync(bin)) return { bin, key };
  await fs.mkdir(targetDir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    // Unoptimised: it only rewrites arguments and copies lines, and -O would add ~1.5 s to a cold build.
    await run('rustc', [...plus, '--edition', '2021', '--crate-name', 'hotgen_rustc', '-o', tmp, source], {
      cwd,
      env,
      context: `compiling hotgen's rustc wrapper (${source})`,
      timeoutMs: 300_000,
    });
    await fs.rename(tmp, bin);
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return { bin, key };
}

/** Options for {@link prepareHotBuild}. */
export interface PrepareOptions {
  root: string;
  plan: HotPlan;
  /** `['+toolchain']` or `[]`. */
  plus: string[];
  /** Cargo's environment (toolchain selection). */
  env: NodeJS.ProcessEnv;
}

/**
 * Reads the workspace with `cargo metadata`, computes the entry's closure, writes the
 * closure file the wrapper reads, compiles the wrapper when needed, and returns how to
 * run the hot build. A user's own `RUSTC_WRAPPER` (e.g. sccache) is chained, not replaced.
 * @throws UserError when cargo metadata fails; CommandError when the wrapper does not compile.
 */
export async function prepareHotBuild(o: PrepareOptions): Promise<HotBuild> {
  const meta = await run('cargo', [...o.plus, 'metadata', '--format-version', '1', '--filter-platform', hostTriple()], {
    cwd: o.root,
    env: o.env,
    context: 'reading the workspace and its dependencies (cargo metadata)',
    timeoutMs: 300_000,
  });
  let parsed: Metadata;
  try {
    parsed = JSON.parse(meta.stdout) as Metadata;
  } catch (err) {
    throw new InternalError('cargo metadata printed no JSON', { cause: err });
  }
  const closure = entryClosure(parsed, o.plan);
  const targetDir = hotTargetDir(parsed.target_directory);
  const profileOut = path.join(targetDir, profileDir(o.plan.profile));
  const unitsDir = path.join(profileOut, 'hotgen-units');
  const wrapper = await ensureWrapper(targetDir, o.plus, o.env, o.root);
  const links = linkArgs(o.plan);
  const closureFile = path.join(targetDir, `closure-${o.plan.profile}.tsv`);
  const text = [...closure.values()].map((p) => `${p.role}\t${p.dir}\n`).sort().join('');
  if ((await fs.readFile(closureFile, 'utf8').catch(() => undefined)) !== text) await atomicWrite(closureFile, text);
  const flagsKey = sha256(Buffer.from(`${wrapper.key}\n${links.join('\n')}`)).slice(0, 16);
  const chain = o.env.RUSTC_WRAPPER && path.basename(o.env.RUSTC_WRAPPER).startsWith('hotgen-rustc') ? '' : (o.env.RUSTC_WRAPPER ?? '');
  const members = new Set(parsed.workspace_members);
  const configArgs = ['--config', path.join(o.root, CARGO_CONFIG_FILE)];
  return {
    targetDir,
    depsDir: hotDepsDir(parsed.target_directory, o.plan.profile),
    unitsDir,
    closure,
    registry: parsed.packages.filter((p) => !members.has(p.id)).map((p) => ({ name: p.name, version: p.version })),
    flagsKey,
    cargoArgs: [...configArgs, '--profile', o.plan.profile, '-p', o.plan.entry, '--lib'],
    configArgs,
    env: {
      RUSTC_WRAPPER: wrapper.bin,
      CARGO_TARGET_DIR: targetDir,
      HOTGEN_CLOSURE_FILE: closureFile,
      HOTGEN_UNITS_DIR: unitsDir,
      HOTGEN_LINK_ARGS: links.join('\x1f'),
      HOTGEN_FLAGS_KEY: flagsKey,
      HOTGEN_CHAIN_WRAPPER: chain,
    },
  };
}

/** Options for {@link runHotBuild}: where, how, and how cargo's output is shown. */
export interface RunHotBuildOptions extends Omit<BuildOptions, 'cargoArgs' | 'env'> {
  plan: HotPlan;
  hot: HotBuild;
}

/** A hot build's outcome: cargo's, plus the module graph from the wrapper's records. */
export interface HotBuildResult extends BuildResult {
  /** The host's modules in topological order (empty when the build failed). */
  modules: HotModule[];
  /** Names of modules cargo rebuilt in this build (`fresh: false`). */
  rebuilt: Set<string>;
  /** Each cargo run: when it started (epoch ms) and its wall time (ms); two when stale units were cleaned and built again. */
  cargoRuns: { startedAt: number; ms: number }[];
  /** The records' timings of the units cargo rebuilt (empty when the build failed), for loader/phases.ts. */
  unitTimings: UnitTimingOf[];
  /** Every unit record after the build, by stem (empty when the build failed). */
  units: Map<string, UnitRecord>;
}

/**
 * Runs the hot build. Units whose record is missing or was made with other flags or
 * another role (cargo's fingerprint ignores the wrapper) are cleaned with `cargo clean -p`
 * and built once more. A failure caused by a registry crate that enables nightly
 * features the compiler no longer has (E0635) gets a line naming the crate and the fix.
 * @throws InternalError when the wrapper left no record for a built dylib.
 */
export async function runHotBuild(o: RunHotBuildOptions): Promise<HotBuildResult> {
  const { hot, plan, toolchain } = o;
  const build = () => cargoBuild({ ...o, cargoArgs: hot.cargoArgs, env: hot.env });
  let b = await build();
  let artifacts = b.artifacts;
  let buildMs = b.buildMs;
  const cargoRuns = [{ startedAt: b.startedAt, ms: b.buildMs }];
  let units = b.success ? await readUnits(hot.unitsDir) : undefined;
  if (units) {
    const stale = staleUnits(hot, b.artifacts, units);
    if (stale.length > 0) {
      const specs = stale.flatMap((p) => ['-p', `${p.name}@${p.version}`]);
      await run('cargo', [...toolchain.plus, 'clean', ...hot.configArgs, '--profile', plan.profile, ...specs], { cwd: o.root, env: { ...toolchain.env, ...hot.env }, context: 'cleaning stale hot units', timeoutMs: 120_000 });
      b = await build();
      artifacts = [...artifacts, ...b.artifacts];
      buildMs += b.buildMs;
      cargoRuns.push({ startedAt: b.startedAt, ms: b.buildMs });
      units = undefined;
    }
  }
  if (!b.success) {
    const hint = nightlyFeatureHint(`${b.errors}\n${b.stderr}`, hot, toolchain.plus.join(' ').replace(/^\+/, '') || plan.toolchain);
    return { ...b, buildMs, errors: hint ? `${b.errors}\n${hint}` : b.errors, modules: [], rebuilt: new Set(), cargoRuns, unitTimings: [], units: new Map() };
  }
  units ??= await readUnits(hot.unitsDir);
  const { modules } = await modulesFromUnits(hot, plan, b.artifacts, units);
  const rebuiltStems = new Set(artifacts.filter((a) => !a.fresh).map(artifactStem));
  const rebuilt = new Set(modules.filter((m) => rebuiltStems.has(path.basename(m.source, '.so'))).map((m) => m.name));
  const nameBySo = new Map(modules.map((m) => [m.source, m.name]));
  const unitTimings: UnitTimingOf[] = [];
  for (const stem of rebuiltStems) {
    const rec = stem ? units.get(stem) : undefined;
    if (rec?.timing) unitTimings.push({ name: nameBySo.get(rec.so) ?? rec.crate, timing: rec.timing });
  }
  return { ...b, artifacts, buildMs, modules, rebuilt, cargoRuns, unitTimings, units };
}

/**
 * The module graph from the records of the last hot build (or of `artifacts`' build);
 * `units` when the caller has just read them.
 * @throws UserError when no hot build has produced the entry yet; InternalError when a
 *   dependency has no record.
 */
export async function modulesFromUnits(
  hot: HotBuild,
  plan: HotPlan,
  artifacts?: readonly CargoArtifact[],
  read?: Map<string, UnitRecord>,
): Promise<{ modules: HotModule[] }> {
  const units = read ?? (await readUnits(hot.unitsDir));
  const entry = await entryRecord(units, plan, artifacts);
  if (!entry) throw new UserError(`no hot build of the entry \`${plan.entry}\` yet (no record in ${hot.unitsDir})`);
  const { modules, missing } = moduleGraph(units, entry, plan);
  if (missing.length > 0) throw new InternalError(`the rustc wrapper left no record for ${missing.join(', ')}`);
  return { modules };
}

/**
 * Closure packages built in this run whose record is missing or was made otherwise, or
 * whose `.so` is gone (cargo does not know that file, so it never rebuilds it by itself).
 */
export function staleUnits(hot: HotBuild, artifacts: readonly CargoArtifact[], units: Map<string, UnitRecord>): ClosurePackage[] {
  const out = new Map<string, ClosurePackage>();
  for (const a of artifacts) {
    const pkg = hot.closure.get(path.dirname(a.manifestPath));
    if (!pkg || !a.kinds.some((k) => ['lib', 'rlib', 'dylib', 'cdylib', 'staticlib'].includes(k))) continue;
    const stem = artifactStem(a);
    const rec = stem ? units.get(stem) : undefined;
    if (!rec || rec.flags !== hot.flagsKey || rec.role !== pkg.role || !existsSync(rec.so)) out.set(pkg.dir, pkg);
  }
  return [...out.values()];
}

/**
 * The fix for E0635 (`unknown feature`) in a registry crate: its build script saw a
 * nightly rustc and enabled a feature this nightly removed (proc-macro2 1.0.47:
 * dtolnay/proc-macro2#398; ahash 0.7.6: tkaitchuck/aHash#200). Undefined when the
 * failure is something else.
 */
export function nightlyFeatureHint(stderr: string, hot: Pick<HotBuild, 'registry'>, toolchain: string): string | undefined {
  const feature = /error\[E0635\]: unknown feature `([^`]+)`/.exec(stderr)?.[1];
  if (!feature) return undefined;
  // cargo names the failed unit with its version when the name alone is ambiguous: `x v1.0.47`.
  const failed = [...stderr.matchAll(/could not compile `([^`]+)`(?: \(lib\))?/g)].map((m) => m[1]!);
  const crate = failed.map((n) => hot.registry.find((p) => p.name === n || `${p.name} v${p.version}` === n)).find(Boolean);
  const who = crate ? `registry crate \`${crate.name}\` ${crate.version}` : 'a dependency';
  const fix = crate ? `cargo update -p ${crate.name}` : 'cargo update';
  return `hotgen: ${who} enables the nightly feature \`${feature}\`, which ${toolchain} no longer has (E0635). Fix: \`${fix}\` (a newer release detects this nightly), or \`hotgen init --channel stable\`.`;
}
