/**
 * `hotgen eject`: undo `hotgen init` from `.hotgen/init-state.json`. The files init
 * created (hotgen.yaml, `hotgen/`, flake.nix or nix/hotgen.nix, .envrc, the entry shim;
 * common/layout.ts) are removed unless the user changed them since (kept, with a
 * warning), and the directories init created once empty. Files an init replaced
 * (`--force`) or an older hotgen edited (manifests) get their original bytes back. What
 * other commands left goes too: `.hotgen/bin/` from `hotgen env`, the workflow `hotgen
 * ci` wrote (when unedited), snapshots and a stale control socket of past `hotgen dev`
 * sessions, and `.hotgen/` once nothing else is in it. Build outputs are left alone,
 * the hot build's `<target>/hotgen/` as much as `target/`. Everything is checked before
 * the first write.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { exists, sha256 } from '../common/fsx.js';
import { readConfined } from '../common/confine.js';
import { ORIGINALS_DIR, OWN_DIR } from '../common/layout.js';
import { lockWorkspace, type WorkspaceLock } from '../common/lock.js';
import { controlSocketPath, isListening } from '../common/session.js';
import { isPristineWorkflow, WORKFLOW_FILE, WORKFLOW_HEADER } from './ci.js';
import { LINKER_WRAPPER } from './env.js';
import { assertWritable, originalRel, readOriginal, readState, STATE_DIR, STATE_FILE } from './state.js';
import { applyJournaled, recoverJournal, type FileOp } from './journal.js';

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

/** `hotgen env`'s directory (the linker wrapper), relative to the root. */
const ENV_BIN_DIR = path.posix.dirname(LINKER_WRAPPER);
/** What `hotgen dev` leaves in `.hotgen/`: numbered snapshot dirs (loader/snapshot.ts) and its socket. */
const SESSION_LEFTOVER = /^(gen-\d+|control\.sock)$/;
/** Everything in `.hotgen/` a hotgen command may leave behind without a state file. */
const OWN_LEFTOVER = /^(gen-\d+|control\.sock|lock|bin|originals)$/;

/** Whether a `hotgen dev` session answers on the workspace's control socket. */
export function devSessionRunning(root: string, timeoutMs = 2000): Promise<boolean> {
  return isListening(controlSocketPath(root), timeoutMs);
}

/** The nearest directory at or above `dir` that has a `.hotgen` entry (of any type: confine.ts judges it). */
async function findStateRoot(dir: string): Promise<string> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (await exists(path.join(d, STATE_DIR))) return d;
    if (d === path.dirname(d)) break;
  }
  throw nothingToEject(dir);
}

function nothingToEject(dir: string): UserError {
  return new UserError(`nothing to eject: no ${STATE_FILE} in ${dir} or above`, { hint: '`hotgen init` has not been run in this workspace.' });
}

/**
 * Restores the workspace at or above `dir` to its state before `hotgen init`.
 * A created file the user changed since is kept (with a warning). An edited file
 * (replaced by `init --force`, or a manifest an older hotgen edited) the user changed
 * after init is still restored, and their version is
 * kept beside it as `<file>.hotgen-ejected` (with a warning), so nothing is lost.
 * Also removes `.hotgen/bin/` (`hotgen env`), `.github/workflows/hotgen.yml` when
 * `hotgen ci` wrote it and it is unedited (an edited one is kept, with a warning), past
 * sessions' snapshots, and `.hotgen/` itself unless something else is left in it
 * (kept, with a warning naming what). It holds the workspace lock, first finishes an
 * interrupted init or eject (generator/journal.ts), and makes its own changes as one
 * journaled transaction. Run where only the leftovers of an eject that was killed after
 * its commit remain, it removes them.
 * @throws UserError when nothing was initialised, another hotgen command holds the lock
 *   (a `hotgen dev` session), or a file is not writable (nothing changed then); also
 *   when a saved original is missing or altered, or the state is corrupt.
 */
export async function ejectWorkspace(dir: string): Promise<EjectResult> {
  const root = await findStateRoot(dir);
  await using lock = await lockWorkspace(root, 'eject', { create: false });
  if (!lock) throw nothingToEject(dir);
  const res: EjectResult = { root, restored: [], removed: [], kept: [], warnings: [] };
  const recovered = await recoverJournal(root);
  if (recovered) res.warnings.push(`undid an interrupted hotgen ${recovered} first`);
  if (await devSessionRunning(root)) {
    throw new UserError(`a hotgen dev session is running in ${root}; stop it before ejecting (nothing was changed)`, {
      file: path.relative(root, controlSocketPath(root)),
      hint: 'Quit it (CTRL+\\ in its terminal), then run hotgen eject again.',
    });
  }
  const state = await readState(root);
  const leftovers = (await fs.readdir(path.join(root, STATE_DIR))).filter((n) => SESSION_LEFTOVER.test(n)).map((n) => `${STATE_DIR}/${n}`);
  if (!state) {
    const all = await fs.readdir(path.join(root, STATE_DIR));
    if (all.some((n) => !OWN_LEFTOVER.test(n))) throw nothingToEject(dir);
    await finish(root, lock, [...leftovers, `${STATE_DIR}/bin`, ORIGINALS_DIR], res);
    res.warnings.push(`no ${STATE_FILE}: removed what an interrupted hotgen command left in ${STATE_DIR}/`);
    return res;
  }
  const writes: FileOp[] = [];
  const removals: string[] = [];
  for (const e of state.files) {
    const cur = await readConfined(root, e.path);
    if (e.action === 'edited') {
      const orig = await readOriginal(root, e, sha256);
      if (cur && cur.equals(orig)) continue;
      if (cur && sha256(cur) !== e.writtenSha) {
        writes.push({ rel: e.path + EJECT_BACKUP_SUFFIX, after: cur });
        res.warnings.push(`${e.path} was changed after init; restored the original and kept your version as ${e.path}${EJECT_BACKUP_SUFFIX}`);
      }
      writes.push({ rel: e.path, after: orig });
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
  const workflow = (await readConfined(root, WORKFLOW_FILE))?.toString('utf8');
  if (workflow !== undefined && isPristineWorkflow(workflow)) {
    removals.push(WORKFLOW_FILE);
    res.removed.push(WORKFLOW_FILE);
  } else if (workflow?.startsWith(WORKFLOW_HEADER)) {
    res.kept.push(WORKFLOW_FILE);
    res.warnings.push(`kept ${WORKFLOW_FILE}: you edited it after \`hotgen ci\` generated it`);
  }
  const dirRemovals = [...leftovers];
  if (await exists(path.join(root, ENV_BIN_DIR))) {
    dirRemovals.push(ENV_BIN_DIR);
    res.removed.push(`${ENV_BIN_DIR}/`);
  }
  const stateOps: FileOp[] = [...state.files.filter((e) => e.action === 'edited').map((e) => ({ rel: originalRel(e.path) })), { rel: STATE_FILE }];
  const ops: FileOp[] = [...writes, ...removals.map((rel) => ({ rel })), ...stateOps];
  for (const rel of [...ops.map((o) => o.rel), ...dirRemovals]) await assertWritable(root, rel, 'Check its permissions (ls -l, lsattr) and run hotgen eject again.');
  // The workflow's directories go only with the workflow, and only when that leaves them empty.
  const workflowDirs = removals.includes(WORKFLOW_FILE) ? [path.posix.dirname(WORKFLOW_FILE), '.github'] : [];
  // hotgen's own directory goes once it is empty, even when init did not record creating it.
  const ownDir = removals.some((r) => r.startsWith(`${OWN_DIR}/`)) && !state.dirs.includes(OWN_DIR) ? [OWN_DIR] : [];
  await applyJournaled(root, 'eject', ops, async () => {
    for (const d of [...state.dirs, ...ownDir, ...workflowDirs]) await fs.rmdir(path.join(root, d)).catch(() => undefined);
  });
  await finish(root, lock, [...dirRemovals, ORIGINALS_DIR], res);
  return res;
}

/**
 * After the commit: removes regenerable leftovers (`rels`, recursively), then `.hotgen/`
 * itself (lock last) when nothing else is in it. A kill in here leaves only such
 * leftovers, which the next eject removes.
 */
async function finish(root: string, lock: WorkspaceLock, rels: string[], res: EjectResult): Promise<void> {
  for (const rel of rels) await fs.rm(path.join(root, rel), { recursive: true, force: true });
  await lock.unlinkAndRelease();
  const left = await fs.readdir(path.join(root, STATE_DIR));
  if (left.length) {
    res.kept.push(`${STATE_DIR}/`);
    res.warnings.push(`kept ${STATE_DIR}/: it still holds ${left.sort().join(', ')}, which hotgen did not create`);
    return;
  }
  await fs.rmdir(path.join(root, STATE_DIR)).catch(() => undefined);
  res.removed.push(`${STATE_DIR}/`);
}
