/**
 * Whether `hotgen init` may write a rendered file over what is already there: never a
 * user's flake.nix, nix/hotgen.nix, .envrc or entry shim without --force; keep generated
 * files the user edited; keep hotgen's committed files (`hotgen/`, nix/hotgen.nix) as a
 * teammate's init left them.
 */
import { UserError } from '../common/errors.js';
import { sha256 } from '../common/fsx.js';
import type { HotPlan } from '../common/types.js';
import { TOOLCHAIN_FILE } from '../common/layout.js';
import { pinnedToolchain } from '../common/toolchain.js';
import type { RenderedFile } from './render.js';
import type { StateEntry } from './state.js';

/** The files the hotgen before the rustc wrapper edited: manifests, and the root rust-toolchain.toml with --force. */
const LEGACY_EDIT = /(^|\/)(Cargo\.toml|rust-toolchain(\.toml)?)$/;

/**
 * Whether a state entry records an edit by an older hotgen that `hotgen init` undoes:
 * an `edited` manifest or rust-toolchain file, but never hotgen's own pin
 * (`hotgen/rust-toolchain.toml`, which `init --force` may record as edited).
 */
export function isLegacyEdit(e: Pick<StateEntry, 'path' | 'action'>): boolean {
  return e.action === 'edited' && e.path !== TOOLCHAIN_FILE && LEGACY_EDIT.test(e.path);
}

/** The decision for one file: write it or not, and what to tell the user. */
export interface PolicyDecision {
  write: boolean;
  warning?: string;
}

/**
 * Decides for `file` given the bytes now on disk (`current`, undefined = absent) and
 * init's record of it (`entry`, undefined = never written by hotgen).
 * @throws UserError when a user's entry shim is in the way (without --force).
 */
export function applyRenderPolicy(
  file: RenderedFile,
  current: Buffer | undefined,
  entry: StateEntry | undefined,
  force: boolean,
  plan: HotPlan,
): PolicyDecision {
  if (!current) return { write: true };
  if (current.toString('utf8') === file.content) return { write: false };
  if (entry) {
    if (force || sha256(current) === entry.writtenSha) return { write: true };
    return { write: false, warning: `kept ${file.path}: you edited it since hotgen wrote it (pass --force to regenerate it)` };
  }
  if (force) return { write: true, warning: `replaced ${file.path} (--force); \`hotgen eject\` restores your version` };
  switch (file.kind) {
    case 'flake':
      return { write: false, warning: `kept your ${file.path}` };
    case 'flake-module':
      // Committed by a teammate's init and edited since (the edit makes it theirs), or the user's own.
      return { write: false, warning: `kept ${file.path}: it is not what hotgen would write (pass --force to regenerate it)` };
    case 'toolchain': {
      const pin = pinnedToolchain(current.toString('utf8'));
      if (pin === plan.toolchain) return { write: false };
      return { write: false, warning: `${file.path} pins ${pin ?? 'another toolchain'}, not ${plan.toolchain}; kept it (pass --force to replace it)` };
    }
    case 'cargo-config':
      return { write: false };
    case 'envrc':
      return /^\s*use flake\b/m.test(current.toString('utf8'))
        ? { write: false }
        : { write: false, warning: `kept your ${file.path}; add the line \`use flake\` to it for direnv` };
    default:
      throw new UserError(`exists and was not written by hotgen; move it away or pass --force`, { file: file.path });
  }
}
