/** A copy of the repository as a fresh clone has it, for the package and flake tests. */
import { copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../common/exec.js';

/** The repository root (this file is test/package/clean-copy.ts). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Copies the files git tracks, or would track (untracked and not ignored), to `dest`:
 * no node_modules, dist/ or build output. Files tracked but deleted are skipped.
 * @throws CommandError when git fails (not a git work tree).
 */
export async function cleanCopy(dest: string): Promise<void> {
  const listed = (await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO })).stdout;
  for (const rel of listed.split('\0').filter(Boolean)) {
    const from = path.join(REPO, rel);
    if (!existsSync(from)) continue;
    await mkdir(path.dirname(path.join(dest, rel)), { recursive: true });
    await copyFile(from, path.join(dest, rel));
  }
}
