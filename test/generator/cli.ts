/** Runs the built CLI (`dist/cli/hotgen.js`, from `npm run build`) as a subprocess, so exit codes are real. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../common/exec.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/hotgen.js');

/** `hotgen ...args` in `cwd`; never throws on a non-zero exit. */
export async function hotgen(cwd: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npx tsc -p .) first`);
  const env = { ...process.env, NO_COLOR: '1' };
  return run(process.execPath, [CLI, ...args], { cwd, env, allowFailure: true, timeoutMs: 120_000 });
}
