/**
 * Confinement: every path hotgen reads from its own files, and every file or directory it
 * writes, stays inside the workspace root; hotgen's state directory is a real directory
 * owned by the user; nothing is written, removed or chmodded through a symlink.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { UserError } from './errors.js';
import { STATE_DIR } from './layout.js';

/**
 * `rel` checked as a workspace-relative path read from one of hotgen's files (`file`,
 * named in the error): a non-empty `/`-separated string, already normalised, not
 * absolute, with no `..` or `.` component and no NUL byte.
 * @returns `rel` unchanged.
 * @throws UserError naming `file` ("corrupt hotgen state") otherwise.
 */
export function confinedRel(rel: unknown, file: string): string {
  const bad = (why: string) =>
    new UserError(`corrupt hotgen state: ${why}`, { file, hint: 'Delete the file (hotgen init writes it again), or restore it from a backup.' });
  if (typeof rel !== 'string' || rel === '') throw bad(`expected a relative path, found ${JSON.stringify(rel)}`);
  // Newlines and backslashes are ordinary file-name bytes on Linux (Cargo accepts such member directories); NUL is not.
  if (rel.includes('\0')) throw bad(`path ${JSON.stringify(rel)} contains a NUL byte`);
  if (path.posix.isAbsolute(rel)) throw bad(`path ${JSON.stringify(rel)} is absolute`);
  if (path.posix.normalize(rel) !== rel || rel.split('/').some((c) => c === '..' || c === '.' || c === '')) {
    throw bad(`path ${JSON.stringify(rel)} is not a normalised path inside the workspace`);
  }
  return rel;
}

/** Whether `p` is `dir` or below it (both absolute and resolved). */
export function isInside(dir: string, p: string): boolean {
  const r = path.relative(dir, p);
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r));
}

/**
 * Checks that writing, replacing or removing `rel` under `root` touches only the
 * workspace: the nearest existing directory above it resolves (symlinks followed, by
 * realpath(3)) to a directory inside the root's real path, and `rel` itself, when it
 * exists, is not a symlink (a rename over it would drop the user's link; a read would
 * leave the workspace).
 * @throws UserError naming `rel` otherwise (nothing was changed).
 */
export async function assertConfinedTarget(root: string, rel: string): Promise<void> {
  const abs = path.join(root, rel);
  const realRoot = await fs.realpath(root);
  let dir = path.dirname(abs);
  for (;;) {
    const st = await fs.lstat(dir).catch(() => undefined);
    if (st) break;
    dir = path.dirname(dir);
  }
  const realDir = await fs.realpath(dir);
  if (!isInside(realRoot, realDir)) {
    throw new UserError(`leads outside the workspace through a symlink (${path.relative(root, dir) || '.'} -> ${realDir}); nothing was changed`, { file: rel });
  }
  const st = await fs.lstat(abs).catch(() => undefined);
  if (st?.isSymbolicLink()) {
    throw new UserError('is a symlink; hotgen does not write or remove through symlinks (nothing was changed)', {
      file: rel,
      hint: 'Replace the link with a regular file (or remove it), then run the command again.',
    });
  }
}

/**
 * Reads `rel` under `root` as a regular file that is not a symlink and lies inside the
 * workspace; `undefined` when it does not exist.
 * @throws UserError when it is a symlink, a directory or leads outside (see {@link assertConfinedTarget}).
 */
export async function readConfined(root: string, rel: string): Promise<Buffer | undefined> {
  await assertConfinedTarget(root, rel);
  const abs = path.join(root, rel);
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(abs, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    if (!(await fh.stat()).isFile()) throw new UserError('is not a regular file', { file: rel });
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/**
 * Makes sure `<root>/.hotgen` (or `rel`, another directory hotgen owns) is a real
 * directory owned by this user, mode 0700: created when absent (if `create`), refused
 * when it is a symlink, not a directory, or owned by someone else. The mode is set
 * through a descriptor opened with O_NOFOLLOW|O_DIRECTORY (fchmod), never by path.
 * @returns whether it exists now (false only when absent and `create` is false).
 * @throws UserError naming the directory.
 */
export async function ensureOwnDir(root: string, rel: string = STATE_DIR, create = true): Promise<boolean> {
  const abs = path.join(root, rel);
  let st = await fs.lstat(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) {
    if (!create) return false;
    await assertConfinedTarget(root, rel);
    await fs.mkdir(abs, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    st = await fs.lstat(abs);
  }
  const refuse = (why: string, hint: string) => new UserError(why, { file: rel, hint });
  if (st.isSymbolicLink()) throw refuse('is a symlink; hotgen keeps its state only in a real directory of the workspace', `Remove the link (rm ${rel}) and run the command again.`);
  if (!st.isDirectory()) throw refuse('is not a directory; hotgen keeps its state there', `Move the file away (mv ${rel} ${rel}.bak) and run the command again.`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw refuse(`is owned by uid ${st.uid}, not by you (uid ${uid}); hotgen will not use it`, `If it is yours, chown it; otherwise remove it (rm -r ${rel}) and run the command again.`);
  }
  if ((st.mode & 0o077) !== 0) {
    const fh = await fs.open(abs, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    try {
      await fh.chmod(0o700);
    } finally {
      await fh.close();
    }
  }
  return true;
}

/**
 * The absolute path of the directory `rel` (from `file`, e.g. hotgen.yaml `app.cwd`)
 * under `root`, after checking that it exists and resolves (symlinks followed) inside the
 * workspace.
 * @throws UserError naming `file` when it is missing, not a directory, or outside.
 */
export async function confinedDir(root: string, rel: string, file: string, what: string): Promise<string> {
  const abs = path.join(root, rel);
  const st = await fs.stat(abs).catch(() => undefined);
  if (!st?.isDirectory()) throw new UserError(`${what} ${JSON.stringify(rel)} is not a directory of the workspace`, { file });
  const real = await fs.realpath(abs);
  if (!isInside(await fs.realpath(root), real)) throw new UserError(`${what} ${JSON.stringify(rel)} leads outside the workspace (${real})`, { file });
  return abs;
}
