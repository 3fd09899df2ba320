/**
 * `.hotgen/init-state.json`: what `hotgen init` changed, so `hotgen eject` can undo it
 * exactly. Edited files keep their pre-hotgen bytes under `.hotgen/originals/<path>`.
 * Everything read from it is confined to the workspace (common/confine.ts).
 */
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { exists } from '../common/fsx.js';
import { assertConfinedTarget, confinedRel, readConfined } from '../common/confine.js';
import { ORIGINALS_DIR, STATE_DIR, STATE_FILE } from '../common/layout.js';

export { ORIGINALS_DIR, STATE_DIR, STATE_FILE };

/** One file `init` touched. `path` is relative to the root, `/`-separated. */
export interface StateEntry {
  path: string;
  /** `edited`: existed before init (original saved); `created`: init made it. */
  action: 'edited' | 'created';
  /** Hex SHA-256 of the bytes init last wrote. */
  writtenSha: string;
  /** Edited only: hex SHA-256 of the original bytes (saved under ORIGINALS_DIR/path). */
  originalSha?: string;
}

/** The whole state file. `dirs`: directories init created (removed by eject when empty), deepest first. */
export interface InitState {
  version: 1;
  files: StateEntry[];
  dirs: string[];
}

/** An empty state. */
export function emptyState(): InitState {
  return { version: 1, files: [], dirs: [] };
}

const SHA = /^[0-9a-f]{64}$/;

/**
 * Reads the state of the workspace at `root`; undefined when init never ran. Every path
 * in it is checked to be relative, normalised and inside the workspace
 * (common/confine.ts), every field its type.
 * @throws UserError naming the file when it exists but is not valid state, or is a symlink.
 */
export async function readState(root: string): Promise<InitState | undefined> {
  const buf = await readConfined(root, STATE_FILE);
  if (!buf) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw corrupt(`not JSON (${(err as Error).message})`);
  }
  const s = raw as Partial<InitState> | null;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw corrupt('expected a JSON object');
  if (s.version !== 1) throw corrupt(`unknown version ${JSON.stringify(s.version)} (this hotgen reads version 1)`);
  if (!Array.isArray(s.files)) throw corrupt('`files` must be a list');
  const files = s.files.map((e: Partial<StateEntry>): StateEntry => {
    if (typeof e !== 'object' || e === null) throw corrupt('an entry of `files` is not an object');
    const p = confinedRel(e.path, STATE_FILE);
    if (e.action !== 'edited' && e.action !== 'created') throw corrupt(`${p}: action must be "edited" or "created"`);
    if (typeof e.writtenSha !== 'string' || !SHA.test(e.writtenSha)) throw corrupt(`${p}: writtenSha must be a SHA-256 in hex`);
    if (e.originalSha !== undefined && (typeof e.originalSha !== 'string' || !SHA.test(e.originalSha))) throw corrupt(`${p}: originalSha must be a SHA-256 in hex`);
    if (p === STATE_DIR || p.startsWith(`${STATE_DIR}/`)) throw corrupt(`${p}: hotgen's own state is not a workspace file`);
    return { path: p, action: e.action, writtenSha: e.writtenSha, ...(e.originalSha ? { originalSha: e.originalSha } : {}) };
  });
  const dirs = s.dirs ?? [];
  if (!Array.isArray(dirs)) throw corrupt('`dirs` must be a list');
  return { version: 1, files, dirs: dirs.map((d) => confinedRel(d, STATE_FILE)) };
}

function corrupt(why: string): UserError {
  return new UserError(`corrupt hotgen state: ${why}`, { file: STATE_FILE, hint: 'Restore it from a backup, or delete .hotgen/ and restore the files by hand (git checkout).' });
}

/** The state as written: stable JSON (so an unchanged state is byte-identical). */
export function serializeState(s: InitState): string {
  const files = [...s.files].sort((a, b) => (a.path < b.path ? -1 : 1));
  return JSON.stringify({ version: 1, files, dirs: s.dirs }, null, 2) + '\n';
}

/** Absolute path of the saved original of `rel`. */
export function originalFile(root: string, rel: string): string {
  return path.join(root, originalRel(rel));
}

/** Workspace-relative path of the saved original of `rel`. */
export function originalRel(rel: string): string {
  return `${ORIGINALS_DIR}/${rel}`;
}

/**
 * The saved original bytes of an edited file, checked against their recorded hash.
 * @throws UserError when missing or changed (the state can no longer undo exactly).
 */
export async function readOriginal(root: string, e: StateEntry, sha: (b: Uint8Array) => string): Promise<Buffer> {
  const buf = await readConfined(root, originalRel(e.path));
  if (!buf || (e.originalSha && sha(buf) !== e.originalSha)) {
    throw new UserError(`the saved original of ${e.path} is missing or was changed`, {
      file: path.join(ORIGINALS_DIR, e.path),
      hint: 'hotgen cannot undo its edit of this file exactly; restore .hotgen/ or the file itself (e.g. from git).',
    });
  }
  return buf;
}

/**
 * Throws unless `rel` (relative to `root`) and the nearest existing directory above it
 * are writable, so a command can refuse before its first write. access(2) also fails
 * with EPERM for immutable files (chattr +i) even for root, which a mode check alone
 * would miss.
 * @throws UserError naming the file, with `hint` as its second line.
 */
export async function assertWritable(root: string, rel: string, hint: string): Promise<void> {
  await assertConfinedTarget(root, rel);
  const abs = path.join(root, rel);
  let dir = path.dirname(abs);
  while (!(await exists(dir))) dir = path.dirname(dir);
  for (const p of (await exists(abs)) ? [abs, dir] : [dir]) {
    try {
      await fs.access(p, fsc.W_OK);
    } catch (err) {
      throw new UserError(`${p === abs ? '' : 'the directory of this file '}is not writable (nothing was changed)`, { file: rel, cause: err, hint });
    }
  }
}
