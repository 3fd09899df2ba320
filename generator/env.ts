/**
 * `hotgen env`: the flake shell's environment for rustup users, computed from the plan
 * (hotgen.yaml, with the pin from hotgen/rust-toolchain.toml) and the installed
 * toolchain, printed as `export` lines for `eval "$(hotgen env)"`: the pinned toolchain,
 * the linker, and LD_LIBRARY_PATH on libstd and the hot build's dylibs.
 */
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { atomicWrite } from '../common/fsx.js';
import { ensureOwnDir, readConfined } from '../common/confine.js';
import { STATE_DIR, TOOLCHAIN_FILE } from '../common/layout.js';
import type { HotPlan } from '../common/types.js';
import { shellWord } from './escape.js';
import {
  cargoTargetDir,
  findOnPath,
  hotDepsDir,
  hostTriple,
  linkerBinary,
  linkerEnvVar,
  linkerScript,
  parsePin,
  resolveRustupToolchain,
  targetLibdir,
  type ResolvedToolchain,
} from '../common/toolchain.js';

/** Where `hotgen env` writes the clang-driven linker wrapper, relative to the root. */
export const LINKER_WRAPPER = `${STATE_DIR}/bin/hotgen-linker`;

export { cargoTargetDir, hotDepsDir };

/** The environment the hot setup needs. */
export interface HotEnv {
  /** Variables to set as-is: RUSTUP_TOOLCHAIN and, with clang and mold or lld on PATH, the linker variable. */
  vars: Record<string, string>;
  /**
   * Directories to put in front of LD_LIBRARY_PATH, in order: the toolchain's libstd dir,
   * then the hot build's dylibs ({@link hotDepsDir}).
   */
  ldLibraryPath: string[];
  /** The toolchain rustup will run. */
  toolchain: ResolvedToolchain;
  /** Why something could not be set (e.g. clang missing), one line each. */
  warnings: string[];
}

/** Options for {@link computeEnv}. */
export interface EnvOptions {
  /** PATH to search for clang and the linker (default process.env.PATH). */
  pathVar?: string;
  /** Cargo's target directory, absolute (default: asked from cargo, {@link cargoTargetDir}). */
  targetDir?: string;
}

/**
 * Computes the environment for `plan` in the workspace at `root`, and writes the linker
 * wrapper `.hotgen/bin/hotgen-linker` (`clang --ld-path=<ld.mold|ld.lld> "$@"`) when the
 * plan's linker is mold or lld and clang and that linker are on PATH. Nothing else is
 * needed on either channel: the hot profile comes from `hotgen/cargo-config.toml` and
 * the crate types from hotgen's rustc wrapper, so no RUSTC_BOOTSTRAP.
 * @throws UserError when the pinned toolchain is not installed (with the install
 *   command); CommandError when cargo cannot read the workspace.
 */
export async function computeEnv(root: string, plan: HotPlan, opts: EnvOptions = {}): Promise<HotEnv> {
  const pathVar = opts.pathVar ?? process.env.PATH ?? '';
  const pin = parsePin(plan.toolchain);
  const toolchain = await resolveRustupToolchain(plan.toolchain);
  if (toolchain.match === 'missing') {
    throw new UserError(`the pinned toolchain ${pin.spec} is not installed`, {
      file: TOOLCHAIN_FILE,
      hint: `Install it: rustup toolchain install ${pin.spec} --component rust-src rust-analyzer`,
    });
  }
  const libstd = await targetLibdir(toolchain.name);
  const targetDir = opts.targetDir ?? (await cargoTargetDir(root, [`+${toolchain.name}`]));
  const vars: Record<string, string> = { RUSTUP_TOOLCHAIN: toolchain.name };
  const warnings: string[] = [];

  const ldName = linkerBinary(plan.linker);
  if (ldName) {
    const [clang, ld] = await Promise.all([findOnPath('clang', pathVar), findOnPath(ldName, pathVar)]);
    if (!ld) warnings.push(`${ldName} is not on PATH: install ${plan.linker} (the ${plan.profile} profile links with it)`);
    else if (!clang) warnings.push(`clang is not on PATH: linking with cc and the profile's -fuse-ld=${plan.linker} instead`);
    else {
      const wrapper = path.join(root, LINKER_WRAPPER);
      const script = linkerScript(clang, ld);
      // .hotgen/ and bin/ must be real directories of this user, and the wrapper no symlink (common/confine.ts).
      await ensureOwnDir(root, STATE_DIR);
      await ensureOwnDir(root, path.posix.dirname(LINKER_WRAPPER));
      if ((await readConfined(root, LINKER_WRAPPER))?.toString() !== script) await atomicWrite(wrapper, script, 0o755);
      vars[linkerEnvVar(hostTriple())] = wrapper;
    }
  }
  return { vars, ldLibraryPath: [libstd, hotDepsDir(targetDir, plan.profile)], toolchain, warnings };
}

/**
 * `export` lines for a POSIX shell, every value shell-quoted. Each LD_LIBRARY_PATH entry
 * is prepended (libstd first) only when not already in the current value, so
 * `eval "$(hotgen env)"` run twice leaves LD_LIBRARY_PATH as after the first run.
 */
export function formatShell(env: HotEnv): string {
  const lines = Object.entries(env.vars).map(([k, v]) => `export ${k}=${shellWord(v)}`);
  // In reverse, so that the first entry ends up in front.
  for (const dir of [...env.ldLibraryPath].reverse()) {
    const q = shellWord(dir);
    lines.push(`case ":\${LD_LIBRARY_PATH-}:" in *:${q}:*) ;; *) LD_LIBRARY_PATH=${q}"\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" ;; esac`);
  }
  lines.push('export LD_LIBRARY_PATH');
  return lines.join('\n') + '\n';
}

/**
 * The resulting variables as plain values: LD_LIBRARY_PATH is the entries not already in
 * `current`, then `current` (when non-empty), as {@link formatShell}'s code computes it.
 */
export function envValues(env: HotEnv, current: string | undefined = process.env.LD_LIBRARY_PATH): Record<string, string> {
  const have = new Set((current ?? '').split(':'));
  const add = current ? env.ldLibraryPath.filter((d) => !have.has(d)) : env.ldLibraryPath;
  return { ...env.vars, LD_LIBRARY_PATH: [...add, ...(current ? [current] : [])].join(':') };
}

