/**
 * Facts about the Rust toolchain and the host that the generator (`hotgen env`, `hotgen
 * doctor`, the rendered flake) and the loader (the hot build) share: target triple,
 * Cargo's linker variable, the profile's output directory, the pinned toolchain and
 * where its libstd lives, linker binaries, and cargo's target directory.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { parseToml } from './deps-config.js';
import { run, shellQuote } from './exec.js';
import { InternalError, UserError } from './errors.js';
import type { Linker } from './types.js';

/** The libc a Linux host uses; musl's dlclose never unloads (musl wiki, "Functional differences from glibc"). */
export type Libc = 'gnu' | 'musl';

/**
 * The Rust target triple of a Linux host, e.g. `x86_64-unknown-linux-gnu`.
 * @param arch a Node `process.arch` value; only `x64` and `arm64` are supported.
 * @throws UserError for any other architecture.
 */
export function hostTriple(arch: string = process.arch, libc: Libc = 'gnu'): string {
  const cpu = NODE_ARCH_TO_RUST[arch];
  if (!cpu) throw new UserError(`unsupported CPU architecture \`${arch}\` (hotgen supports x86_64 and aarch64 Linux)`);
  return `${cpu}-unknown-linux-${libc}`;
}

const NODE_ARCH_TO_RUST: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

/**
 * Cargo's per-target linker variable for `triple`: `CARGO_TARGET_<TRIPLE>_LINKER`, the
 * triple upper-cased with `-` and `.` as `_` (Cargo book, "Configuration: target.<triple>.linker").
 */
export function linkerEnvVar(triple: string): string {
  return `CARGO_TARGET_${triple.toUpperCase().replace(/[-.]/g, '_')}_LINKER`;
}

/**
 * The directory under `target/` where `profile` puts its outputs: `dev` and `test` use
 * `debug`, `bench` uses `release`, every other profile its own name (Cargo book, "Profiles").
 */
export function profileDir(profile: string): string {
  return PROFILE_DIRS[profile] ?? profile;
}

const PROFILE_DIRS: Record<string, string> = { dev: 'debug', test: 'debug', bench: 'release', release: 'release' };

/** A toolchain pin split into its parts. */
export interface ToolchainPin {
  /** The pin as written, e.g. `nightly-2026-05-19`, `1.95.0`, `stable`. */
  spec: string;
  channel: 'nightly' | 'beta' | 'stable';
  /** `YYYY-MM-DD` for a dated nightly or beta. */
  date?: string;
  /** `1.95.0` for a versioned stable. */
  version?: string;
}

/**
 * The toolchain a rust-toolchain(.toml) file pins (`[toolchain] channel`, or the legacy
 * one-line format holding only the name; rustup book, "Overrides: The toolchain file"),
 * or undefined when the text pins nothing readable.
 */
export function pinnedToolchain(text: string): string | undefined {
  try {
    const t = parseToml(text) as { toolchain?: { channel?: unknown } };
    if (typeof t.toolchain?.channel === 'string') return t.toolchain.channel;
  } catch {
    // The legacy format is one line holding the toolchain name.
  }
  const line = text.trim();
  return /^[\w.-]+$/.test(line) ? line : undefined;
}

/**
 * Parses a rustup toolchain spec (`nightly`, `nightly-YYYY-MM-DD`, `stable`, `1.95.0`, `1.95`).
 * A trailing host triple (`nightly-2026-05-19-x86_64-unknown-linux-gnu`) is dropped.
 * @throws UserError for anything else.
 */
export function parsePin(spec: string): ToolchainPin {
  const s = spec.trim().replace(/-(x86_64|aarch64)-unknown-linux-(gnu|musl)$/, '');
  let m = /^(nightly|beta)(?:-(\d{4}-\d{2}-\d{2}))?$/.exec(s);
  if (m) return { spec: s, channel: m[1] as 'nightly' | 'beta', date: m[2] };
  if (s === 'stable') return { spec: s, channel: 'stable' };
  m = /^(\d+\.\d+(?:\.\d+)?)$/.exec(s);
  if (m) return { spec: s, channel: 'stable', version: m[1] };
  throw new UserError(`unsupported toolchain \`${spec}\` (use nightly-YYYY-MM-DD, nightly, stable or a version such as 1.95.0)`);
}

/**
 * The rust-overlay attribute path for a pin, e.g. `rust-bin.nightly."2026-05-19".default`
 * (rust-overlay README: `rust-bin.<channel>.<date or version or latest>.default`).
 */
export function rustOverlayAttr(pin: ToolchainPin): string {
  const which = pin.date ?? pin.version ?? 'latest';
  return `rust-bin.${pin.channel}.${which === 'latest' ? 'latest' : `"${which}"`}.default`;
}

/** Outcome of matching a pin against the installed rustup toolchains. */
export interface ResolvedToolchain {
  /** The name to pass as `+name` / `RUSTUP_TOOLCHAIN` (the pin itself when nothing matched). */
  name: string;
  /** `exact`: the pin is installed; `same-build`: an installed channel toolchain is that build; `missing`. */
  match: 'exact' | 'same-build' | 'missing';
  /** `rustc -V` of the chosen toolchain, when installed. */
  rustcVersion?: string;
}

/** Environment for rustup calls that must never download a toolchain. */
function rustupEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, RUSTUP_AUTO_INSTALL: '0' };
  delete env.RUSTUP_TOOLCHAIN;
  return env;
}

/** What `rustc -vV` says: the first line (`rustc 1.97.0-nightly (e50aa6fba 2026-05-19)`) and `commit-date`. */
export interface RustcInfo {
  version: string;
  commitDate?: string;
}

/**
 * `rustc [+name] -vV` parsed, or undefined when it fails (toolchain not installed, no
 * rustc). Without `name`, the rustc on PATH runs in `cwd` (so rust-toolchain.toml applies).
 */
export async function rustcInfo(name?: string, cwd?: string, env?: NodeJS.ProcessEnv): Promise<RustcInfo | undefined> {
  try {
    const args = name ? [`+${name}`, '-vV'] : ['-vV'];
    const r = await run('rustc', args, { allowFailure: true, env: name ? rustupEnv(env) : { ...(env ?? process.env), RUSTUP_AUTO_INSTALL: '0' }, cwd, timeoutMs: 30_000 });
    if (r.code !== 0) return undefined;
    // A rustc that is not rustup's proxy (a Nix shell's) answers `-vV` whatever `+name` says.
    if (name && (await run('rustc', [`+${name}`, '--print', 'sysroot'], { allowFailure: true, env: rustupEnv(env), cwd, timeoutMs: 30_000 })).code !== 0) return undefined;
    const version = r.stdout.split('\n')[0]!.trim();
    const commitDate = /^commit-date: (\S+)$/m.exec(r.stdout)?.[1];
    return { version, commitDate };
  } catch {
    return undefined;
  }
}

/**
 * Finds an installed rustup toolchain for `pin`: the pin itself, else the plain channel
 * toolchain (`nightly`, `stable`) when it is the same build: for a dated nightly its
 * rustc commit date equals the date or the day before (a nightly is built from the
 * previous day's commits); for a stable version its `rustc -V` starts with that version.
 * Never installs anything (`RUSTUP_AUTO_INSTALL=0`).
 */
export async function resolveRustupToolchain(pinSpec: string): Promise<ResolvedToolchain> {
  const pin = parsePin(pinSpec);
  const exact = await rustcInfo(pin.spec);
  if (exact) return { name: pin.spec, match: 'exact', rustcVersion: exact.version };
  if (pin.date || pin.version) {
    const chan = await rustcInfo(pin.channel);
    if (chan && rustcMatchesPin(pin, chan)) return { name: pin.channel, match: 'same-build', rustcVersion: chan.version };
  }
  return { name: pin.spec, match: 'missing' };
}

/**
 * True when a rustc (`rustc -vV`: first line and `commit-date`) is the build `pin` names:
 * same version for a stable version, any stable for `stable`, any nightly/beta for a bare
 * channel, and for a dated nightly a commit date equal to the date or the day before.
 */
export function rustcMatchesPin(pin: ToolchainPin, info: { version: string; commitDate?: string }): boolean {
  const isPre = /-(nightly|beta)\b/.exec(info.version)?.[1];
  if (pin.version) return info.version.startsWith(`rustc ${pin.version}`) && /^[ .]/.test(info.version.slice(6 + pin.version.length)) && !isPre;
  if (pin.channel === 'stable') return !isPre;
  if (isPre !== pin.channel) return false;
  if (!pin.date) return true;
  if (!info.commitDate) return false;
  const dayBefore = new Date(Date.parse(pin.date) - 86_400_000).toISOString().slice(0, 10);
  return info.commitDate === pin.date || info.commitDate === dayBefore;
}

/**
 * The directory holding `libstd-<hash>.so` for toolchain `name`: `rustc +name --print
 * target-libdir` (since Rust 1.83 it is `<sysroot>/lib/rustlib/<target>/lib`, not `<sysroot>/lib`).
 * @throws CommandError when rustc fails (e.g. the toolchain is not installed).
 */
export async function targetLibdir(name: string): Promise<string> {
  const r = await run('rustc', [`+${name}`, '--print', 'target-libdir'], {
    env: rustupEnv(),
    context: `finding libstd of toolchain ${name}`,
    timeoutMs: 30_000,
  });
  return r.stdout.trim();
}

/** The first executable `cmd` on `PATH` (absolute path), or undefined. */
export async function findOnPath(cmd: string, pathVar: string = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of pathVar.split(':')) {
    if (!dir) continue;
    const file = path.join(dir, cmd);
    try {
      await fs.access(file, fsc.X_OK);
      if ((await fs.stat(file)).isFile()) return file;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/**
 * The linker binary clang is pointed at (`--ld-path`) for `linker`, or undefined for
 * `default` (rustc's own `cc`) and `gold` (selected by `-fuse-ld=gold` in the profile's
 * rustflags, since clang's `--ld-path` wants a full linker path and gold is deprecated).
 */
export function linkerBinary(linker: Linker): string | undefined {
  return linker === 'mold' ? 'ld.mold' : linker === 'lld' ? 'ld.lld' : undefined;
}

/**
 * The body of the linker wrapper: `clang --ld-path=<ld> "$@"` with absolute paths. Cargo
 * runs it as `CARGO_TARGET_<TRIPLE>_LINKER`, which leaves the user's RUSTFLAGS alone.
 */
export function linkerScript(clang: string, ld: string): string {
  return `#!/bin/sh\n# Generated by hotgen env: clang drives ${path.basename(ld)}.\nexec ${shellQuote(clang)} --ld-path=${shellQuote(ld)} "$@"\n`;
}

/**
 * Where the hot build puts its dylibs: `<targetDir>/hotgen/<profile dir>/deps`, with
 * `targetDir` cargo's target directory (`cargo metadata`'s `target_directory`). The hot
 * build runs in a target directory of its own (`<targetDir>/hotgen`, loader/hotbuild.ts)
 * and its dylibs keep cargo's hash in their names (`libapp-<hash>.so`).
 */
export function hotDepsDir(targetDir: string, profile: string): string {
  return path.join(hotTargetDir(targetDir), profileDir(profile), 'deps');
}

/** The hot build's own target directory: `<targetDir>/hotgen` (`CARGO_TARGET_DIR` of hot builds). */
export function hotTargetDir(targetDir: string): string {
  return path.join(targetDir, 'hotgen');
}

/**
 * Cargo's target directory for the workspace at `root`, as cargo itself resolves it
 * (`CARGO_TARGET_DIR` in `env`, `build.target-dir` in a Cargo config, else `<root>/target`):
 * `cargo [plus] metadata --no-deps --format-version 1 --offline`, field `target_directory`.
 * @param plus `['+<toolchain>']` or `[]` (the cargo on PATH).
 * @throws CommandError when cargo fails (e.g. a broken manifest); InternalError when it prints no JSON.
 */
export async function cargoTargetDir(root: string, plus: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const r = await run('cargo', [...plus, 'metadata', '--no-deps', '--format-version', '1', '--offline'], {
    cwd: root,
    env: { ...env, RUSTUP_AUTO_INSTALL: '0' },
    context: 'asking cargo for the target directory',
    timeoutMs: 120_000,
  });
  let dir: unknown;
  try {
    dir = (JSON.parse(r.stdout) as { target_directory?: unknown }).target_directory;
  } catch (err) {
    throw new InternalError('cargo metadata printed no JSON', { cause: err });
  }
  if (typeof dir !== 'string' || !dir) throw new InternalError('cargo metadata gave no target_directory');
  return dir;
}
