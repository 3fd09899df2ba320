/** Test fixtures built from inline file trees. */
import { mkdtemp, mkdir, readFile, readdir, readlink, writeFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

/** A file tree: relative path → file contents. */
export type Tree = Record<string, string | Buffer>;

/** Writes `tree` under `dir` (created as needed). */
export async function writeTree(dir: string, tree: Tree): Promise<void> {
  for (const [rel, content] of Object.entries(tree)) {
    const file = path.join(dir, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}

/** A new temporary directory (prefix `hotgen-<label>-`); `await using` removes it. */
export async function tempDir(label: string): Promise<{ path: string } & AsyncDisposable> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `hotgen-${label}-`));
  return {
    path: dir,
    async [Symbol.asyncDispose]() {
      if (!process.env.HOTGEN_KEEP_TMP) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** SHA-256 of every file under `dir` (relative path → hex; a symlink → `symlink:<target>`, not followed), skipping `skip` dir names. */
export async function hashTree(dir: string, skip: string[] = ['target', '.hotgen', 'node_modules']): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    for (const ent of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      if (skip.includes(ent.name)) continue;
      const r = path.join(rel, ent.name);
      if (ent.isSymbolicLink()) out[r] = `symlink:${await readlink(path.join(dir, r))}`;
      else if (ent.isDirectory()) await walk(r);
      else out[r] = createHash('sha256').update(await readFile(path.join(dir, r))).digest('hex');
    }
  }
  await walk('');
  return out;
}
