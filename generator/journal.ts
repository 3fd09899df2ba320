/**
 * Crash safety for `init` and `eject`: before the first file is created, changed or
 * removed, the journal (`.hotgen/journal/`) holds a copy of every path the command will
 * touch, and `journal.json` naming them is fsynced. The command then applies its changes
 * and removes `journal.json` last (the commit). Whatever kills it in between, the next
 * `init` or `eject` finds the journal and puts every path back to its before-image
 * ({@link recoverJournal}), removes the temp files of half-done atomic writes, and then
 * does its own work; so the tree is always as before the interrupted command or as after
 * it. A failure the command sees itself (disk full) takes the same undo path at once.
 * Callers hold the workspace lock (common/lock.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { assertConfinedTarget, confinedRel, readConfined } from '../common/confine.js';
import { atomicWrite, fsyncDir, sweepTemps } from '../common/fsx.js';
import { JOURNAL_DIR } from '../common/layout.js';

/** One change: write `after` to `rel` (workspace-relative, `/`-separated), or remove it when `after` is undefined. */
export interface FileOp {
  rel: string;
  after?: string | Uint8Array;
}

interface Entry {
  rel: string;
  /** Name of the before-image in JOURNAL_DIR; absent when the file did not exist. */
  copy?: string;
  /** File mode of the before-image (permission bits). */
  mode?: number;
}

interface JournalFile {
  version: 1;
  command: string;
  pid: number;
  entries: Entry[];
  /** Directories the changes may create (deepest first), removed by an undo when empty. */
  dirs: string[];
}

const JOURNAL_JSON = `${JOURNAL_DIR}/journal.json`;

/**
 * Applies `ops` in order as one journaled transaction, then runs `alsoBeforeCommit`
 * (e.g. removing directories left empty) inside it. On any error everything is undone
 * before the error is rethrown.
 * @throws whatever an operation threw (after the undo); UserError for a target outside
 *   the workspace or behind a symlink (before anything is written).
 */
export async function applyJournaled(root: string, command: string, ops: FileOp[], alsoBeforeCommit?: () => Promise<void>): Promise<void> {
  if (ops.length === 0 && !alsoBeforeCommit) return;
  for (const op of ops) await assertConfinedTarget(root, op.rel);
  const dir = path.join(root, JOURNAL_DIR);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { mode: 0o700 });
  const entries: Entry[] = [];
  const dirs = new Set<string>();
  try {
    for (const [i, op] of ops.entries()) {
      if (entries.some((e) => e.rel === op.rel)) continue;
      const abs = path.join(root, op.rel);
      const before = await readConfined(root, op.rel);
      if (before) {
        const mode = (await fs.stat(abs)).mode & 0o7777;
        await atomicWrite(path.join(dir, String(i)), before, 0o600);
        entries.push({ rel: op.rel, copy: String(i), mode });
      } else entries.push({ rel: op.rel });
      for (let d = path.posix.dirname(op.rel); d !== '.'; d = path.posix.dirname(d)) {
        if (await fs.lstat(path.join(root, d)).then(() => true, () => false)) break;
        dirs.add(d);
      }
    }
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  const journal: JournalFile = { version: 1, command, pid: process.pid, entries, dirs: [...dirs].sort(deepestFirst) };
  try {
    await atomicWrite(path.join(root, JOURNAL_JSON), JSON.stringify(journal, null, 1) + '\n', 0o600);
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  try {
    for (const op of ops) {
      const abs = path.join(root, op.rel);
      if (op.after === undefined) await fs.rm(abs, { force: true });
      else await atomicWrite(abs, op.after);
    }
    await alsoBeforeCommit?.();
  } catch (err) {
    // When the undo fails too (the disk still full), the journal stays for the next command.
    if (await undo(root, journal).then(() => true, () => false)) await commit(root).catch(() => undefined);
    throw err;
  }
  await commit(root);
}

/**
 * Finishes what an interrupted `init` or `eject` left: when `.hotgen/journal/journal.json`
 * exists, every path it names gets its before-image back (or is removed when it did not
 * exist), directories the command created are removed when empty, and temp files of
 * half-done writes go. A journal without `journal.json` was cut before the first change
 * and is just removed.
 * @returns what was undone (`init (pid 123)`), or undefined when there was nothing.
 * @throws UserError when the journal is corrupt (e.g. a path outside the workspace).
 */
export async function recoverJournal(root: string): Promise<string | undefined> {
  const dir = path.join(root, JOURNAL_DIR);
  if (!(await fs.lstat(dir).then(() => true, () => false))) return undefined;
  const text = await readConfined(root, JOURNAL_JSON);
  if (!text) {
    await fs.rm(dir, { recursive: true, force: true });
    return undefined;
  }
  const journal = parseJournal(text.toString('utf8'));
  await undo(root, journal);
  await commit(root);
  return `${journal.command} (pid ${journal.pid})`;
}

/** Whether an interrupted command's journal is waiting for {@link recoverJournal}. */
export async function journalPending(root: string): Promise<boolean> {
  return fs.lstat(path.join(root, JOURNAL_JSON)).then(() => true, () => false);
}

async function undo(root: string, journal: JournalFile): Promise<void> {
  const dir = path.join(root, JOURNAL_DIR);
  for (const e of [...journal.entries].reverse()) {
    await assertConfinedTarget(root, e.rel);
    const abs = path.join(root, e.rel);
    if (e.copy === undefined) {
      await fs.rm(abs, { force: true });
    } else {
      const before = await fs.readFile(path.join(dir, e.copy));
      const now = await readConfined(root, e.rel);
      if (!now || !now.equals(before)) await atomicWrite(abs, before, e.mode);
      else if (e.mode !== undefined) await fs.chmod(abs, e.mode);
    }
  }
  const touched = new Set(journal.entries.map((e) => path.dirname(path.join(root, e.rel))));
  for (const d of touched) await sweepTemps(d);
  for (const d of journal.dirs) await fs.rmdir(path.join(root, d)).catch(() => undefined);
}

async function commit(root: string): Promise<void> {
  await fs.rm(path.join(root, JOURNAL_JSON), { force: true });
  await fsyncDir(path.join(root, JOURNAL_DIR));
  await fs.rm(path.join(root, JOURNAL_DIR), { recursive: true, force: true });
}

function parseJournal(text: string): JournalFile {
  const bad = (why: string) =>
    new UserError(`corrupt journal of an interrupted hotgen command: ${why}`, {
      file: JOURNAL_JSON,
      hint: `Check the files it names by hand (e.g. git status), then remove ${JOURNAL_DIR}/.`,
    });
  let j: Partial<JournalFile>;
  try {
    j = JSON.parse(text) as Partial<JournalFile>;
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (j?.version !== 1 || !Array.isArray(j.entries) || !Array.isArray(j.dirs)) throw bad('unknown format');
  const entries = j.entries.map((e: Partial<Entry>) => {
    const rel = confinedRel(e?.rel, JOURNAL_JSON);
    if (e.copy !== undefined && !/^\d+$/.test(String(e.copy))) throw bad(`copy of ${rel} is not a journal file name`);
    if (e.mode !== undefined && (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777)) throw bad(`mode of ${rel} is not a file mode`);
    return { rel, copy: e.copy, mode: e.mode };
  });
  return { version: 1, command: String(j.command ?? '?'), pid: Number(j.pid ?? 0), entries, dirs: j.dirs.map((d) => confinedRel(d, JOURNAL_JSON)).sort(deepestFirst) };
}

function deepestFirst(a: string, b: string): number {
  return b.split('/').length - a.split('/').length || (a < b ? -1 : 1);
}
