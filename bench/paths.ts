/** Paths of the repository and the bench's scratch space. */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (works from `bench/*.ts` under vitest and from `dist/bench/*.js`). */
export function repoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '../..') : path.resolve(here, '..');
}

/** Scratch directory for builds and workspaces (`$HOTGEN_BENCH_DIR`, default `<tmp>/hotgen-bench`). */
export function scratchDir(): string {
  return process.env.HOTGEN_BENCH_DIR ?? path.join(os.tmpdir(), 'hotgen-bench');
}
