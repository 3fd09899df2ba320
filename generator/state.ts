/**
 * `.hotgen/init-state.json`: what `hotgen init` changed, so `hotgen eject` can undo it
 * exactly. Edited files keep their pre-hotgen bytes under `.hotgen/originals/<path>`.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { atomicWrite, exists, readIfExists } from '../common/fsx.js';

/** Directory of hotgen's own state, relative to the workspace root. */
export const STATE_DIR = '.hotgen';
/** The state file, relative to the workspace root. */
export const STATE_FILE = `${STATE_DIR}/init-state.json`;
/** Where originals of edited files are kept, relative to the workspace root. */
export const ORIGINALS_DIR = `${STATE_DIR}/originals`;

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

/**
 * Reads the state of the workspace at `root`; undefined when init never ran.
 * @throws UserError when the file exists but is not valid state.
 */
export async function readState(root: string): Promise<InitState | undefined> {
  const file = path.join(root, STATE_FILE);
  const buf = await readIfExists(file);
  if (!buf) return undefined;
  try {
    const s = JSON.parse(buf.toString('utf8')) as InitState;
    if (s.version !== 1 || !Array.isArray(s.files)) throw new Error('unknown version');
    s.dirs ??= [];
    return s;
  } catch (err) {
    throw new UserError(`corrupt hotgen state (${(err as Error).message})`, { file, hint: 'Restore it from a backup, or delete .hotgen/ and restore the files by hand (git checkout).' });
  }
}

/** The state as written: stable JSON (so an unchanged state is byte-identical). */
export function serializeState(s: InitState): string {
  const files = [...s.files].sort((a, b) => (a.path < b.path ? -1 : 1));
  return JSON.stringify({ version: 1, files, dirs: s.dirs }, null, 2) + '\n';
}

/** Writes the state atomically. */
export async function writeState(root: string, s: InitState): Promise<void> {
  await atomicWrite(path.join(root, STATE_FILE), serializeState(s));
}

/** Absolute path of the saved original of `rel`. */
export function originalFile(root: string, rel: string): string {
  return path.join(root, ORIGINALS_DIR, ...rel.split('/'));
}

/**
 * The saved original bytes of an edited file, checked against their recorded hash.
 * @throws UserError when missing or changed (the state can no longer undo exactly).
 */
export async function readOriginal(root: string, e: StateEntry, sha: (b: Uint8Array) => string): Promise<Buffer> {
  const buf = await readIfExists(originalFile(root, e.path));
  if (!buf || (e.originalSha && sha(buf) !== e.originalSha)) {
    throw new UserError(`the saved original of ${e.path} is missing or was changed`, {
      file: path.join(ORIGINALS_DIR, e.path),
      hint: 'hotgen cannot undo its edit of this file exactly; restore .hotgen/ or the file itself (e.g. from git).',
    });
  }
  return buf;
}

/** Removes the state file and the originals (and `.hotgen/` when that leaves it empty). */
export async function removeState(root: string): Promise<void> {
  await fs.rm(path.join(root, ORIGINALS_DIR), { recursive: true, force: true });
  await fs.rm(path.join(root, STATE_FILE), { force: true });
  await fs.rmdir(path.join(root, STATE_DIR)).catch(() => undefined);
}

/**
 * Throws unless `rel` (relative to `root`) and the nearest existing directory above it
 * are writable, so a command can refuse before its first write. access(2) also fails
 * with EPERM for immutable files (chattr +i) even for root, which a mode check alone
 * would miss.
 * @throws UserError naming the file, with `hint` as its second line.
 */
export async function assertWritable(root: string, rel: string, hint: string): Promise<void> {
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
