/**
 * Builds and runs the swap floor (bench/floor/floor.c): bare dlopen/dlclose of the same
 * snapshot files, in the same order, as the host maps them.
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../common/exec.js';
import { repoRoot } from './paths.js';

/** Output of one floor run; times in µs per iteration. */
export interface FloorResult {
  iterations: number;
  modules: number;
  open_us: number[];
  close_us: number[];
  total_us: number[];
  /** Objects still mapped after their dlclose, summed over iterations (0 when every unload worked). */
  still_mapped: number;
}

/**
 * Compiles floor.c with `cc -O2 ... -ldl` into `outDir` (once; recompiled when the source
 * is newer) and returns the binary's path.
 * @throws CommandError when the compiler fails; UserError when `cc` is missing.
 */
export async function buildFloor(outDir: string): Promise<string> {
  const src = path.join(repoRoot(), 'bench/floor/floor.c');
  const bin = path.join(outDir, 'floor');
  const [s, b] = await Promise.all([stat(src), stat(bin).catch(() => undefined)]);
  if (!b || b.mtimeMs < s.mtimeMs) {
    await mkdir(outDir, { recursive: true });
    await run('cc', ['-O2', '-Wall', '-o', bin, src, '-ldl'], { context: 'compiling the swap floor' });
  }
  return bin;
}

/**
 * Runs the floor: maps `keep` once, then `iterations` times loads `reload` in order and
 * unloads it in reverse. `libDir` (libstd) goes first on LD_LIBRARY_PATH.
 * @throws CommandError when a dlopen fails (the message has dlerror's text).
 */
export async function runFloor(bin: string, opts: { iterations: number; keep: string[]; reload: string[]; libDir?: string }): Promise<FloorResult> {
  const ld = [opts.libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  const args = [String(opts.iterations), ...(opts.keep.length ? [...opts.keep, '--'] : []), ...opts.reload];
  const r = await run(bin, args, { env: { ...process.env, LD_LIBRARY_PATH: ld }, context: 'running the swap floor' });
  return JSON.parse(r.stdout) as FloorResult;
}
