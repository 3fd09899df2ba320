/**
 * Where hotgen's own files live in a workspace, relative to its root (`/`-separated):
 * the one place each name is spelled. Everything `hotgen init` creates is listed here;
 * it edits no file of the workspace.
 */

/** The plan: settings and every member's role. */
export const PLAN_FILE = 'hotgen.yaml';
/** Directory of the committed files hotgen owns besides the plan. */
export const OWN_DIR = 'hotgen';
/** The hot Cargo profile, passed as `cargo --config <file>` by hot builds only. */
export const CARGO_CONFIG_FILE = `${OWN_DIR}/cargo-config.toml`;
/** The flake `init` writes when the workspace has none: a thin wrapper around {@link NIX_MODULE_FILE}. */
export const FLAKE_FILE = 'flake.nix';
/** The dev shell and check, as a Nix function of `pkgs`, imported by the generated flake or the user's own. */
export const NIX_MODULE_FILE = 'nix/hotgen.nix';
/** The toolchain pin in rustup's format, read by the flake (`fromRustupToolchainFile`), `hotgen dev` and `hotgen env`. */
export const TOOLCHAIN_FILE = `${OWN_DIR}/rust-toolchain.toml`;
/** hotgen's local state (never committed): init's record, snapshots, the control socket. */
export const STATE_DIR = '.hotgen';
/** The workspace lock (flock(2)) held by `init`, `eject` and `dev`; common/lock.ts. */
export const LOCK_FILE = `${STATE_DIR}/lock`;
/** init's record of what it created, so `eject` can undo it exactly; generator/state.ts. */
export const STATE_FILE = `${STATE_DIR}/init-state.json`;
/** Originals of files an `init --force` replaced (or an older hotgen edited). */
export const ORIGINALS_DIR = `${STATE_DIR}/originals`;
/** The journal of the command in progress: before-images of every path it changes; generator/journal.ts. */
export const JOURNAL_DIR = `${STATE_DIR}/journal`;
/** How to run each workspace crate's rustc again without cargo (full environment: owner-only, one session's); loader/fastbuild.ts. */
export const REPLAY_DIR = `${STATE_DIR}/replay`;
