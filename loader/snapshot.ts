/**
 * Immutable snapshots of the dylibs the host maps (`<root>/.hotgen/gen-N/lib<lib>.so`)
 * and the content hashes that tell which outputs changed. A mapped file must never be
 * rewritten in place (mmap(2): SIGBUS on a page beyond a truncated file's end), so the host only
 * ever maps these copies, never the files cargo writes.
 */
import { chmodSync, copyFileSync, promises as fs, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { sha256 } from '../common/fsx.js';
import { UserError } from '../common/errors.js';
import type { ModuleRole } from '../common/types.js';
import { STATE_DIR } from '../common/layout.js';
import { ensureOwnDir } from '../common/confine.js';

/** Identity of one output file: stat fields plus the hash of its bytes (absent until needed: snapshots are not hashed). */
export interface FileState {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256?: string;
}

/** `.hotgen` under the workspace root. */
export function hotgenDir(root: string): string {
  return path.join(root, STATE_DIR);
}

/**
 * Creates `<root>/.hotgen` with mode 0700 (also fixing the mode of an existing one),
 * so the control socket and snapshots are reachable by the owner only.
 * @throws UserError when it is a symlink, not a directory, or another user's (common/confine.ts).
 */
export async function ensureHotgenDir(root: string): Promise<string> {
  await ensureOwnDir(root, STATE_DIR);
  return hotgenDir(root);
}

/**
 * The state of `file`, or undefined when it does not exist. When `prev` has the same
 * size, mtime and inode the hash is reused (cargo replaces outputs with new files, which
 * changes at least the mtime), else the file is read and hashed.
 */
export async function fileState(file: string, prev?: FileState): Promise<FileState | undefined> {
  let st;
  try {
    st = await fs.stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (prev && prev.size === st.size && prev.mtimeMs === st.mtimeMs && prev.ino === st.ino) return prev;
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256: sha256(await fs.readFile(file)) };
}

/** One file to snapshot. */
export interface SnapshotItem {
  name: string;
  role: ModuleRole;
  /** The file cargo wrote, e.g. `target/hot/libapi.so`. */
  source: string;
}

/** A snapshot taken: where the copy is and what the source was when copied. */
export interface Snapshot {
  name: string;
  role: ModuleRole;
  path: string;
  source: string;
  state: FileState;
}

/** Numbered snapshot directories under `.hotgen/`. */
export class SnapshotStore {
  private next = 1;
  constructor(readonly root: string) {}

  /** Removes `gen-*` directories left by an earlier session (call when no session runs). */
  async clear(): Promise<void> {
    for (const d of await this.genDirs()) await fs.rm(d, { recursive: true, force: true });
  }

  /**
   * Copies each item into a new `gen-N/` (in the kernel, copy_file_range(2); read-only,
   * not hashed); a source that changes while being copied is copied again (up to 3 times).
   * @throws UserError naming a missing source file.
   */
  async take(items: readonly SnapshotItem[]): Promise<Snapshot[]> {
    const dir = path.join(hotgenDir(this.root), `gen-${this.next++}`);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const out: Snapshot[] = [];
    for (const it of items) {
      const dest = path.join(dir, path.basename(it.source));
      const state = copyStable(it.source, dest, it.name);
      out.push({ name: it.name, role: it.role, path: dest, source: it.source, state });
    }
    return out;
  }

  /** Removes every `gen-*` directory that holds none of `keep` (snapshot paths still mapped or wanted). */
  async prune(keep: Iterable<string>): Promise<void> {
    const keepDirs = new Set([...keep].map((p) => path.dirname(p)));
    for (const d of await this.genDirs()) {
      if (!keepDirs.has(d)) await fs.rm(d, { recursive: true, force: true });
    }
  }

  private async genDirs(): Promise<string[]> {
    const dir = hotgenDir(this.root);
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return [];
    }
    return names.filter((n) => /^gen-\d+$/.test(n)).map((n) => path.join(dir, n));
  }
}

/** Synchronous: a few small calls on the reload's path, where each trip through the thread pool costs a wake-up on a busy machine. */
function copyStable(file: string, dest: string, name: string): FileState {
  for (let attempt = 0; ; attempt++) {
    let before;
    try {
      before = statSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new UserError(`the dylib of ${name} is missing (was it deleted?); keeping what runs`, {
        file,
        hint: 'Build again (save a file, press CTRL+C or run `hotgen reload`).',
      });
    }
    if (attempt > 0) rmSync(dest, { force: true });
    copyFileSync(file, dest);
    chmodSync(dest, 0o555);
    const after = statSync(file);
    if ((after.mtimeMs === before.mtimeMs && after.ino === before.ino && after.size === before.size) || attempt >= 2) {
      return { size: after.size, mtimeMs: after.mtimeMs, ino: after.ino };
    }
  }
}
