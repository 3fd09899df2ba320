/**
 * `hotgen init` on a generated layered workspace, in-process (generator/init.ts
 * `initWorkspace`), against `cargo metadata` alone on the same fresh workspace in the
 * same round. initWorkspace reads the workspace itself and has no seam that takes a
 * ready WorkspaceGraph, so "init excluding cargo metadata" is, per round, init's time
 * minus that round's `cargo metadata` time.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Linker } from '../common/types.js';
import { run } from '../common/exec.js';
import { initWorkspace } from '../generator/init.js';
import { generateWorkspace } from './workspace-gen.js';
import { writeGenerated } from './hotws.js';
import { interleave } from './stats.js';

/** Per-round samples, ms. `excludingMetadata[i] = init[i] - metadata[i]`. */
export interface InitMeasure {
  n: number;
  init: number[];
  metadata: number[];
  excludingMetadata: number[];
}

/**
 * `runs` rounds (after one warm-up) on `n` crates under `dir`: write a fresh workspace
 * (untimed), time `cargo metadata --no-deps --format-version 1 --offline`, then time
 * `initWorkspace(root, {linker})`.
 * @throws what init or cargo throw.
 */
export async function measureInit(dir: string, n: number, opts: { runs: number; linker: Linker }): Promise<InitMeasure> {
  const gen = generateWorkspace(n);
  const root = path.join(dir, 'ws');
  const samples = await interleave(
    [
      {
        name: 'metadata',
        run: async () => {
          await rm(dir, { recursive: true, force: true });
          await writeGenerated(root, gen);
          const t0 = performance.now();
          await run('cargo', ['metadata', '--no-deps', '--format-version', '1', '--offline'], { cwd: root, context: 'cargo metadata' });
          return performance.now() - t0;
        },
      },
      {
        name: 'init',
        run: async () => {
          const t0 = performance.now();
          const r = await initWorkspace(root, { linker: opts.linker });
          const ms = performance.now() - t0;
          if (r.changes.length === 0) throw new Error('init changed nothing on a fresh workspace');
          return ms;
        },
      },
    ],
    { runs: opts.runs, warmup: 1 },
  );
  await rm(dir, { recursive: true, force: true });
  return { n, init: samples.init, metadata: samples.metadata, excludingMetadata: samples.init.map((v, i) => v - samples.metadata[i]) };
}
