/**
 * `hotgen eject`: undo `hotgen init` from `.hotgen/init-state.json`. Edited files get
 * their original bytes back; created files are removed unless the user changed them
 * since (kept, with a warning). Everything is checked before the first write.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { atomicWrite, exists, readIfExists, sha256 } from '../common/fsx.js';
import { readOriginal, readState, removeState, STATE_FILE } from './state.js';

/** What eject did. Paths are relative to the root. */
export interface EjectResult {
  root: string;
  restored: string[];
  removed: string[];
  /** Generated files kept because the user edited them. */
  kept: string[];
  warnings: string[];
}

/** Suffix of the copy eject keeps of an edited file the user changed after init. */
export const EJECT_BACKUP_SUFFIX = '.hotgen-ejected';

async function findStateRoot(dir: string): Promise<string> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (await exists(path.join(d, STATE_FILE))) return d;
    if (d === path.dirname(d)) break;
  }
  throw new UserError(`nothing to eject: no ${STATE_FILE} in ${dir} or above`, { hint: '`hotgen init` has not been run in this workspace.' });
}

/**
 * Restores the workspace at or above `dir` to its state before `hotgen init`.
 * An edited file the user changed after init is still restored, and their version is
 * kept beside it as `<file>.hotgen-ejected` (with a warning), so nothing is lost.
 * @throws UserError when nothing was initialised or a file is not writable (nothing
 *   changed then); also when a saved original is missing or altered.
 */
export async function ejectWorkspace(dir: string): Promise<EjectResult> {
  const root = await findStateRoot(dir);
  const state = (await readState(root))!;
  const res: EjectResult = { root, restored: [], removed: [], kept: [], warnings: [] };
  const writes: { rel: string; data: Buffer }[] = [];
  const removals: string[] = [];
  for (const e of state.files) {
    const cur = await readIfExists(path.join(root, e.path));
    if (e.action === 'edited') {
      const orig = await readOriginal(root, e, sha256);
      if (cur && cur.equals(orig)) continue;
      if (cur && sha256(cur) !== e.writtenSha) {
        writes.push({ rel: e.path + EJECT_BACKUP_SUFFIX, data: cur });
        res.warnings.push(`${e.path} was changed after init; restored the original and kept your version as ${e.path}${EJECT_BACKUP_SUFFIX}`);
      }
      writes.push({ rel: e.path, data: orig });
      res.restored.push(e.path);
    } else if (cur) {
      if (sha256(cur) === e.writtenSha) {
        removals.push(e.path);
        res.removed.push(e.path);
      } else {
        res.kept.push(e.path);
        res.warnings.push(`kept ${e.path}: you edited it after hotgen generated it`);
      }
    }
  }
  for (const rel of [...writes.map((w) => w.rel), ...removals, STATE_FILE]) await checkWritable(root, rel);
  for (const w of writes) await atomicWrite(path.join(root, w.rel), w.data);
  for (const rel of removals) await fs.rm(path.join(root, rel), { force: true });
  for (const d of state.dirs) await fs.rmdir(path.join(root, d)).catch(() => undefined);
  await removeState(root);
  return res;
}

async function checkWritable(root: string, rel: string): Promise<void> {
  const abs = path.join(root, rel);
  let dir = path.dirname(abs);
  while (!(await exists(dir))) dir = path.dirname(dir);
  for (const p of (await exists(abs)) ? [abs, dir] : [dir]) {
    try {
      await fs.access(p, fsc.W_OK);
    } catch (err) {
      throw new UserError('is not writable (nothing was changed)', { file: rel, cause: err });
    }
  }
}
