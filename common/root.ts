/**
 * Finding the workspace a command runs in, without loading any third-party module (so
 * `hotgen reload` starts fast): the nearest directory at or above the cwd holding
 * hotgen.yaml.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PLAN_FILE } from './layout.js';

/**
 * The nearest directory at or above `cwd` that holds hotgen.yaml; `cwd` itself (resolved)
 * when there is none, so the caller's own "no hotgen.yaml" error names it.
 */
export async function findPlanRoot(cwd: string): Promise<string> {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (await fs.lstat(path.join(dir, PLAN_FILE)).then(() => true, () => false)) return dir;
    if (path.dirname(dir) === dir) return path.resolve(cwd);
  }
}
