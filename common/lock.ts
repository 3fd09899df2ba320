/**
 * One writer at a time: `init`, `eject` and `dev` hold an exclusive flock(2) on
 * `.hotgen/lock` while they read or write hotgen's state. The kernel drops the lock when
 * the holder dies, however it dies, so a killed command never leaves a stale lock. The
 * file holds the holder's pid and command while it is held, and is empty otherwise.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from './errors.js';
import { koffi } from './ffi.js';
import { ensureOwnDir } from './confine.js';
import { LOCK_FILE, STATE_DIR } from './layout.js';

/** How long a second command waits for the lock before it refuses (ms). */
export const LOCK_WAIT_MS = 2000;
const POLL_MS = 50;

/** flock(2) operations, from <sys/file.h> (Linux, every architecture). */
const LOCK_EX = 2;
const LOCK_NB = 4;

let flockFn: ((fd: number, op: number) => number) | undefined;
function flock(fd: number, op: number): number {
  flockFn ??= koffi().load('libc.so.6').func('int flock(int fd, int op)') as (fd: number, op: number) => number;
  return flockFn(fd, op);
}

/** A held lock; releasing it (or the process exiting) lets the next command in. */
export interface WorkspaceLock extends AsyncDisposable {
  release(): Promise<void>;
  /** Removes the lock file while still holding it (eject, just before it removes `.hotgen/`). */
  unlinkAndRelease(): Promise<void>;
}

/**
 * Takes the workspace's lock for `command` (e.g. `init`), waiting up to `waitMs` (ms).
 * `.hotgen/` is created (a real directory owned by the user, common/confine.ts) unless
 * `create` is false; then, when it does not exist, there is nothing to lock and the
 * result is undefined. A lock file removed by its holder meanwhile (eject) is not
 * trusted: the flock is taken again on the file at the path.
 * @throws UserError naming the holder's pid and command after `waitMs`, or when
 *   `.hotgen/` is not a usable directory.
 */
export async function lockWorkspace(root: string, command: string, opts: { waitMs?: number; create?: boolean } = {}): Promise<WorkspaceLock | undefined> {
  const waitMs = opts.waitMs ?? LOCK_WAIT_MS;
  const file = path.join(root, LOCK_FILE);
  const deadline = Date.now() + waitMs;
  const createdDir = !(await fs.lstat(path.join(root, STATE_DIR)).then(() => true, () => false));
  for (;;) {
    if (!(await ensureOwnDir(root, STATE_DIR, opts.create ?? true))) return undefined;
    // An eject that held the lock may remove .hotgen/ between the check above and this open.
    const fh = await fs.open(file, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!fh) continue;
    let held = false;
    try {
      if (flock(fh.fd, LOCK_EX | LOCK_NB) === 0) {
        const here = await fs.lstat(file).catch(() => undefined);
        if (here && here.ino === (await fh.stat()).ino) {
          const lock = heldLock(fh, file, createdDir);
          held = true;
          try {
            await fh.truncate(0);
            await fh.write(JSON.stringify({ pid: process.pid, command }) + '\n', 0);
          } catch (err) {
            (err as NodeJS.ErrnoException).path ??= file;
            await lock.release().catch(() => undefined);
            throw err;
          }
          return lock;
        }
        continue;
      }
      if (Date.now() >= deadline) {
        // The holder writes its pid just after taking the lock and empties the file as it
        // lets go: an empty read means one of those instants, so look again shortly.
        let holder = await readHolder(fh);
        let freed = false;
        for (let i = 0; holder === undefined && i < 20 && !freed; i++) {
          await sleep(POLL_MS);
          freed = flock(fh.fd, LOCK_EX | LOCK_NB) === 0;
          if (!freed) holder = await readHolder(fh);
        }
        // Let go just now: take it on the next turn (through the inode check above).
        if (freed) continue;
        throw new UserError(`is held by ${holder ?? 'another hotgen command'}; hotgen runs one init, eject or dev at a time in a workspace`, {
          file: LOCK_FILE,
          hint: 'Wait for that command to finish (or stop it), then run this one again.',
        });
      }
    } finally {
      if (!held) await fh.close();
    }
    await sleep(POLL_MS);
  }
}

/** `hotgen init (pid 123)` from the lock file, or undefined while it holds no pid. */
async function readHolder(fh: fs.FileHandle): Promise<string | undefined> {
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(256), 0, 256, 0);
    const h = JSON.parse(buffer.toString('utf8', 0, bytesRead) || '{}') as { pid?: number; command?: string };
    if (typeof h.pid === 'number') return `hotgen ${h.command ?? '?'} (pid ${h.pid})`;
  } catch {
    // A holder between flock and its write: no pid yet.
  }
  return undefined;
}

/** `createdDir`: this command made `.hotgen/` for its lock; it goes again on release when nothing else came into it. */
function heldLock(fh: fs.FileHandle, file: string, createdDir: boolean): WorkspaceLock {
  let open = true;
  const release = async (unlink: boolean) => {
    if (!open) return;
    open = false;
    try {
      const dir = path.dirname(file);
      const alone = createdDir && (await fs.readdir(dir).catch(() => [])).join() === path.basename(file);
      if (unlink || alone) await fs.rm(file, { force: true });
      else await fh.truncate(0);
      if (alone) await fs.rmdir(dir).catch(() => undefined);
    } finally {
      await fh.close();
    }
  };
  return {
    release: () => release(false),
    unlinkAndRelease: () => release(true),
    [Symbol.asyncDispose]: () => release(false),
  };
}
