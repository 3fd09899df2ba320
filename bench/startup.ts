/**
 * Start-up of light commands: `hotgen --version` and `hotgen reload` with no session
 * running (it finds hotgen.yaml, fails to connect and exits 1), each as a fresh
 * `node dist/cli/hotgen.js` process, against a bare `node -e 0` in the same rounds.
 * The difference is what hotgen's own module loading costs (the goal: a command that
 * needs no heavy library starts in under 80 ms).
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PLAN_FILE } from '../common/layout.js';
import { repoRoot } from './paths.js';
import { interleave, summarize, type Figure } from './stats.js';

/** Samples per command, ms of wall time from spawn to exit. */
export interface StartupMeasure {
  node: number[];
  version: number[];
  reload: number[];
}

/** The goal of issue 13, ms (median). */
export const STARTUP_GOAL_MS = 80;

function timeProcess(args: string[], cwd: string, expectCode: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd, stdio: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (code !== expectCode) reject(new Error(`node ${args.join(' ')} exited with ${code}, expected ${expectCode}`));
      else resolve(ms);
    });
  });
}

/**
 * `runs` interleaved rounds (after 2 warm-ups) in a scratch workspace `dir` holding only
 * a hotgen.yaml.
 * @throws when a command exits with another code than expected (0; `reload` 1).
 */
export async function measureStartup(dir: string, runs: number): Promise<StartupMeasure> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, PLAN_FILE), 'version: 1\n');
  const cli = path.join(repoRoot(), 'dist', 'cli', 'hotgen.js');
  const s = await interleave(
    [
      { name: 'node', run: () => timeProcess(['-e', '0'], dir, 0) },
      { name: 'version', run: () => timeProcess([cli, '--version'], dir, 0) },
      { name: 'reload', run: () => timeProcess([cli, 'reload'], dir, 1) },
    ],
    { runs, warmup: 2 },
  );
  return { node: s.node, version: s.version, reload: s.reload };
}

/** Two rows: each command against bare node start-up, with the 80 ms goal. */
export function startupFigures(m: StartupMeasure): Figure[] {
  const row = (id: 'version' | 'reload', label: string): Figure => {
    const hotgen = summarize(m[id]);
    return {
      id: `startup.${id}`,
      bench: 'startup',
      label,
      unit: 'ms',
      hotgen,
      baseline: { ...summarize(m.node), label: 'node -e 0' },
      goal: { text: `< ${STARTUP_GOAL_MS} ms median`, met: hotgen.median < STARTUP_GOAL_MS },
    };
  };
  return [row('version', 'start-up: hotgen --version'), row('reload', 'start-up: hotgen reload (no session)')];
}
