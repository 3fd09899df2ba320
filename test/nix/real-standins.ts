/**
 * The real nixpkgs lib and the real rust-overlay, offline (a directory outside the
 * repository, `HOTGEN_NIX_STANDINS`; the tests skip without it): flakes evaluate against the code they will really meet (attribute names,
 * toolchain dates, `fromRustupToolchainFile`, platforms), with stub builders that
 * instantiate but cannot build. Passed with `--override-input` like the runnable stand-ins.
 *
 * The shared stub nixpkgs lacks two leaf attributes the generated flake uses:
 * `rustPlatform.cargoSetupHook` and `nixfmt-tree` (both in nixpkgs: pkgs/build-support/rust/hooks,
 * pkgs/by-name/ni/nixfmt-tree). A private copy adds them as stubs of the same kind
 * (dummy-builder derivations) only where the stub has none, so the stub's own, once it
 * has them, take over.
 */
import { cp, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { pathRef } from './nixenv.js';

/** Where the shared stand-ins are (`HOTGEN_NIX_STANDINS` overrides). */
export const REAL_STANDINS = process.env.HOTGEN_NIX_STANDINS ?? '/work/shared/nix-standins';

/** Why the real stand-ins cannot be used here, or undefined. */
export function realStandinsMissing(): string | undefined {
  return existsSync(path.join(REAL_STANDINS, 'stub-rust-overlay', 'flake.nix')) ? undefined : `no ${REAL_STANDINS} (the real rust-overlay, offline)`;
}

/** The overlay giving the shared stub what it lacks, only where it lacks it. */
const MISSING = `# Written by test/nix/real-standins.ts: leaf attributes this stub lacks, as stubs.
final: prev: {
  nixfmt-tree = prev.nixfmt-tree or (prev.stdenvNoCC.mkDerivation {
    pname = "nixfmt-tree";
    version = "stub";
    meta.mainProgram = "treefmt";
  });
  rustPlatform = prev.rustPlatform // {
    cargoSetupHook = prev.rustPlatform.cargoSetupHook or (prev.stdenvNoCC.mkDerivation { name = "cargo-setup-hook.sh"; });
  };
}
`;

/** The real stand-ins as flake inputs: nixpkgs (a private copy, see above) and rust-overlay. */
export interface RealStandins {
  /** Directory of the stub nixpkgs copy (`import`able, and a flake). */
  nixpkgs: string;
  /** Directory of the real rust-overlay (`import`able, and a flake). */
  rustOverlay: string;
  /** `--override-input` flags for both. */
  overrides: string[];
}

/**
 * Copies the shared stub nixpkgs into `dir/stub-nixpkgs` with the overlay above in front
 * of the caller's overlays (its own default.nix moved to stub.nix).
 */
export async function realStandins(dir: string): Promise<RealStandins> {
  const nixpkgs = path.join(dir, 'stub-nixpkgs');
  await cp(path.join(REAL_STANDINS, 'stub-nixpkgs'), nixpkgs, { recursive: true });
  await run('chmod', ['-R', 'u+w', nixpkgs]);
  await rename(path.join(nixpkgs, 'default.nix'), path.join(nixpkgs, 'stub.nix'));
  await writeFile(path.join(nixpkgs, 'missing.nix'), MISSING);
  await writeFile(
    path.join(nixpkgs, 'default.nix'),
    '# Written by test/nix/real-standins.ts: the shared stub (stub.nix) with missing.nix first.\n' +
      'args: import ./stub.nix (args // { overlays = [ (import ./missing.nix) ] ++ (args.overlays or [ ]); })\n',
  );
  const rustOverlay = path.join(REAL_STANDINS, 'stub-rust-overlay');
  return { nixpkgs, rustOverlay, overrides: ['--override-input', 'nixpkgs', pathRef(nixpkgs), '--override-input', 'rust-overlay', pathRef(rustOverlay)] };
}
