/** File-system helpers: atomic writes, byte-exact snapshots, and paths as messages show them. */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { UserError } from './errors.js';

/**
 * Writes `data` to `file` atomically: a temp file in the same directory, fsync, rename
 * over the target, fsync the directory. A reader sees the old bytes or the new bytes,
 * never a mix (POSIX rename(2) is atomic within one file system). The target's mode is
 * kept when it exists, else `mode` (default 0o644).
 * @throws UserError naming the file when it or its directory is not writable.
 */
export async function atomicWrite(file: string, data: string | Uint8Array, mode?: number): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.hotgen-${randomBytes(4).toString('hex')}.tmp`);
  // TEMP_NAME below must match this name.
  let keepMode = mode ?? 0o644;
  try {
    keepMode = (await fs.stat(file)).mode & 0o7777;
    await fs.access(file, fsc.W_OK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EACCES') throw notWritable(file, err);
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    await fs.mkdir(dir, { recursive: true });
    const fh = await fs.open(tmp, 'wx', keepMode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    // A write on a descriptor fails without a path; the message must name the file.
    (err as NodeJS.ErrnoException).path ??= file;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw notWritable(file, err);
    throw err;
  }
  await fsyncDir(dir);
}

function notWritable(file: string, cause: unknown): UserError {
  return new UserError('is not writable (nothing was changed)', { file, cause, hint: 'Check the file and directory permissions.' });
}

/** fsync(2) of a directory, so a rename or unlink in it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The name of {@link atomicWrite}'s temp files (`.<name>.hotgen-<8 hex>.tmp`). */
export const TEMP_NAME = /^\..+\.hotgen-[0-9a-f]{8}\.tmp$/;

/**
 * Removes what an {@link atomicWrite} killed between creating its temp file and the
 * rename left in `dir`; a missing `dir` is fine.
 * @returns the names removed.
 */
export async function sweepTemps(dir: string): Promise<string[]> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => TEMP_NAME.test(n));
  for (const n of names) await fs.rm(path.join(dir, n), { force: true });
  return names;
}

/** The file's bytes, or `undefined` when it does not exist. */
export async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** True when `p` exists (file, directory or other). */
export async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Hex SHA-256 of some bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A path for messages: relative to the current directory when inside it, else as given. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  if (rel === '') return '.';
  return !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}
