/**
 * Public types shared by the generator (`hotgen init`) and the loader (`hotgen dev`).
 * The plan is stored in `hotgen.yaml` at the workspace root; see `generator/plan.ts`.
 */

/** One workspace member, from `cargo metadata --no-deps --format-version 1`. */
export interface CrateNode {
  /** Package name as in `[package] name` (may contain `-`). */
  name: string;
  /** Library target name (`-` replaced by `_`), or undefined for a bin-only package. */
  libName?: string;
  /** Absolute path of the member's Cargo.toml. */
  manifestPath: string;
  /** Target kinds over all targets, e.g. ["lib"], ["proc-macro"], ["bin"], ["rlib","dylib"]. */
  kinds: string[];
  /** Names of binary targets. */
  bins: string[];
  /** True when the library target is a proc-macro (cannot be a dylib). */
  procMacro: boolean;
  /** Package names of workspace members this crate depends on by path (normal and build deps; renames resolved). */
  deps: string[];
  /** The subset of `deps` reached only as build-dependencies (absent when none); such crates are not part of the entry's closure. */
  buildDeps?: string[];
  /** Absolute directories holding the crate's sources (for the watcher). */
  srcDirs: string[];
  /** Absolute path of the library target's root file (`targets[].src_path` of the lib), when known. */
  libSrcPath?: string;
}

/** The workspace as a DAG of members. */
export interface WorkspaceGraph {
  /** Absolute workspace root (directory of the root Cargo.toml). */
  root: string;
  /** Absolute path of the root Cargo.toml. */
  rootManifest: string;
  /** True when the root manifest has no `[package]` (a virtual manifest). */
  virtual: boolean;
  /** Absolute cargo target directory. */
  targetDir: string;
  /** Members by package name. */
  crates: Map<string, CrateNode>;
  /** Package names in topological order: every crate after all of its deps. */
  order: string[];
}

/**
 * A crate's role in the hot setup (README, "`hotgen.yaml`": Roles):
 * - `entry`: the top library the host runs; exports `hotgen_main`; loaded RTLD_LOCAL.
 * - `reloadable`: a dylib in the entry's closure; loaded RTLD_GLOBAL in topological order.
 * - `frozen`: a dylib linked with `-z nodelete`; never unloaded; a change restarts the host.
 * - `excluded`: proc-macros, bin-only packages, crates outside the entry's closure.
 */
export type Role = 'entry' | 'reloadable' | 'frozen' | 'excluded';

/**
 * The role of a dylib the host maps: a workspace crate's role, or `registry` for a
 * library from outside the workspace (and an excluded workspace library in the entry's
 * closure): loaded once, bottom-up, `RTLD_GLOBAL`, never unloaded; a change restarts the host.
 */
export type ModuleRole = Exclude<Role, 'excluded'> | 'registry';

/** Linkers of the hot profile (`--linker`, `linker:`). `default` = whatever rustc picks (cc). */
export const LINKERS = ['mold', 'lld', 'gold', 'default'] as const;

/** Which linker the hot profile uses (one of {@link LINKERS}). */
export type Linker = (typeof LINKERS)[number];

/** Channels of the pinned toolchain (`--channel`, `channel:`). */
export const CHANNELS = ['nightly', 'stable'] as const;

/** The channel of the pinned toolchain (one of {@link CHANNELS}). */
export type Channel = (typeof CHANNELS)[number];

/** One crate in the plan. */
export interface PlannedCrate {
  /** Package name. */
  name: string;
  role: Role;
  /** Library target name; the dylib is `lib<lib>.so` in the profile's output dir. Absent for excluded bin-only packages. */
  lib?: string;
  /** Package names of path deps that are also in the plan (any role). */
  deps: string[];
  /** Source directories, relative to the workspace root (for the watcher). */
  src: string[];
}

/** The plan `init` writes to `hotgen.yaml` and the loader reads. */
export interface HotPlan {
  /** Format version of hotgen.yaml; currently 1. */
  version: 1;
  /** Cargo profile name that builds the dylibs (default `hot`; `dev` edits `[profile.dev]`). */
  profile: string;
  /** `nightly` (default, pinned by date) or `stable` (with RUSTC_BOOTSTRAP=1). */
  channel: Channel;
  /** The rustup toolchain spec pinned in rust-toolchain.toml, e.g. `nightly-2026-05-19` or `1.95.0`. */
  toolchain: string;
  linker: Linker;
  /** Package name of the entry crate. */
  entry: string;
  /** Listening addresses the supervisor binds and hands to every generation, e.g. `127.0.0.1:8080`. */
  listen: string[];
  /** How long a generation may take to stop before the host is restarted (ms). */
  stopTimeoutMs: number;
  /** How `hotgen dev` runs the app (hotgen.yaml `app:`); absent = no arguments, no extra environment, the root. */
  app?: AppSettings;
  /** Every workspace member with its role, in topological order (deps first). */
  crates: PlannedCrate[];
}

/** hotgen.yaml `app:`: what the app gets from `hotgen dev`. */
export interface AppSettings {
  /** Arguments, read in Rust by `ctx.args()`; `hotgen dev -- ARGS` replaces them. */
  args: string[];
  /** Extra environment variables of the host process (the app's), name → value. */
  env: Record<string, string>;
  /** The app's working directory, relative to the workspace root (`.` = the root). */
  cwd: string;
}

/** Entry ABI version implemented by this hotgen (templates/hotgen_entry.rs.hbs; README, "The Rust side": Entry ABI). */
export const ABI_VERSION = 2;
