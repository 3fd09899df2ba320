/**
 * vitest globalSetup: compiles the TypeScript once, before any test file runs, when
 * `dist/` is older than a source file. Tests then spawn the built CLI and host
 * (`dist/cli/hotgen.js`, `dist/loader/host.js`) as a user would, and no test file
 * rebuilds `dist/` while another one runs it. `npm test` builds first anyway.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '../..');
const SOURCE_DIRS = ['cli', 'common', 'generator', 'loader', 'bench'];
const SOURCE_FILES = ['index.ts'];

function newestSource(dir: string): number {
  let newest = 0;
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (ent.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const built = statSync(path.join(repo, 'dist/cli/hotgen.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const newest = Math.max(...SOURCE_DIRS.map((d) => newestSource(path.join(repo, d))), ...SOURCE_FILES.map((f) => statSync(path.join(repo, f)).mtimeMs));
  if (built >= newest) return;
  execFileSync(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', repo], { stdio: 'inherit' });
}
