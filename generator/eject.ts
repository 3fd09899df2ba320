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
import { atomicWrite, exists, readIfExists, sha256 } from '../common/fsx.js';
import { OWN_DIR } from '../common/layout.js';
import { controlSocketPath, isListening } from '../common/session.js';
import { isPristineWorkflow, WORKFLOW_FILE, WORKFLOW_HEADER } from './ci.js';
import { LINKER_WRAPPER } from './env.js';
import { assertWritable, readOriginal, readState, removeState, STATE_DIR, STATE_FILE } from './state.js';

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

/** Whether a `hotgen dev` session answers on the workspace's control socket. */
export function devSessionRunning(root: string, timeoutMs = 2000): Promise<boolean> {
  return isListening(controlSocketPath(root), timeoutMs);
}

async function findStateRoot(dir: string): Promise<string> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (await exists(path.join(d, STATE_FILE))) return d;
    if (d === path.dirname(d)) break;
  }
  throw new UserError(`nothing to eject: no ${STATE_FILE} in ${dir} or above`, { hint: '`hotgen init` has not been run in this workspace.' });
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
 * (kept, with a warning naming what).
 * @throws UserError when nothing was initialised, a `hotgen dev` session is running, or
 *   a file is not writable (nothing changed then); also when a saved original is
 *   missing or altered.
 */
export async function ejectWorkspace(dir: string): Promise<EjectResult> {
  const root = await findStateRoot(dir);
  if (await devSessionRunning(root)) {
    throw new UserError(`a hotgen dev session is running in ${root}; stop it before ejecting (nothing was changed)`, {
      file: path.relative(root, controlSocketPath(root)),
      hint: 'Quit it (CTRL+\\ in its terminal), then run hotgen eject again.',
    });
  }
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
  const workflow = (await readIfExists(path.join(root, WORKFLOW_FILE)))?.toString('utf8');
  if (workflow !== undefined && isPristineWorkflow(workflow)) {
    removals.push(WORKFLOW_FILE);
    res.removed.push(WORKFLOW_FILE);
  } else if (workflow?.startsWith(WORKFLOW_HEADER)) {
    res.kept.push(WORKFLOW_FILE);
    res.warnings.push(`kept ${WORKFLOW_FILE}: you edited it after \`hotgen ci\` generated it`);
  }
  const dirRemovals: string[] = [];
  if (await exists(path.join(root, ENV_BIN_DIR))) {
    dirRemovals.push(ENV_BIN_DIR);
    res.removed.push(`${ENV_BIN_DIR}/`);
  }
  const leftovers = (await fs.readdir(path.join(root, STATE_DIR))).filter((n) => SESSION_LEFTOVER.test(n));
  for (const n of leftovers) dirRemovals.push(`${STATE_DIR}/${n}`);

  for (const rel of [...writes.map((w) => w.rel), ...removals, ...dirRemovals, STATE_FILE]) await assertWritable(root, rel, 'Check its permissions (ls -l, lsattr) and run hotgen eject again.');
  for (const w of writes) await atomicWrite(path.join(root, w.rel), w.data);
  for (const rel of removals) await fs.rm(path.join(root, rel), { force: true });
  for (const rel of dirRemovals) await fs.rm(path.join(root, rel), { recursive: true, force: true });
  // The workflow's directories go only with the workflow, and only when that leaves them empty.
  const workflowDirs = removals.includes(WORKFLOW_FILE) ? [path.posix.dirname(WORKFLOW_FILE), '.github'] : [];
  // hotgen's own directory goes once it is empty, even when init did not record creating it.
  const ownDir = removals.some((r) => r.startsWith(`${OWN_DIR}/`)) && !state.dirs.includes(OWN_DIR) ? [OWN_DIR] : [];
  for (const d of [...state.dirs, ...ownDir, ...workflowDirs]) await fs.rmdir(path.join(root, d)).catch(() => undefined);
  await removeState(root);
  const left = await fs.readdir(path.join(root, STATE_DIR)).catch(() => undefined);
  if (left) {
    res.kept.push(`${STATE_DIR}/`);
    res.warnings.push(`kept ${STATE_DIR}/: it still holds ${left.sort().join(', ')}, which hotgen did not create`);
  } else res.removed.push(`${STATE_DIR}/`);
  return res;
}

