/**
 * Issue 8, "Bad input": workspaces that `cargo metadata` accepts (a UTF-8 BOM,
 * `default-members`, a renamed package, `[lib] path` elsewhere, a symlinked member) are
 * accepted by `hotgen init` (the CLI, which creates files and edits none) and by the hot
 * build (`prepareHotBuild` + `runHotBuild`, as `hotgen dev` runs them), real cargo.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, readlink, symlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { run } from '../../common/exec.js';
import { readPlan } from '../../common/plan-read.js';
import { resolveToolchain } from '../../loader/build.js';
import { prepareHotBuild, runHotBuild } from '../../loader/hotbuild.js';
import { CLI, cliBuilt, hotgen } from '../cli/run.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { badInputCases, missingStable } from './fixture.js';

/**
 * SHA-256 of every file under `dir` (relative path → hex; a symbolic link → `-> target`,
 * not followed), skipping directories named in `skip`.
 */
async function snapshot(dir: string, skip: string[] = ['target', '.hotgen']): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    for (const ent of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      if (skip.includes(ent.name)) continue;
      const r = path.join(rel, ent.name);
      if (ent.isSymbolicLink()) out[r] = `-> ${await readlink(path.join(dir, r))}`;
      else if (ent.isDirectory()) await walk(r);
      else out[r] = createHash('sha256').update(await readFile(path.join(dir, r))).digest('hex');
    }
  }
  await walk('');
  return out;
}

const skip =
  (!cliBuilt && skipUnless(`${CLI} missing (run npx tsc -p .)`)) || skipUnless(tools.cargo(), tools.nightly(), tools.mold(), tools.readelf(), missingStable());

describe.skipIf(skip)('workspaces cargo metadata accepts: init + one hot build', () => {
  it.each(badInputCases().map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    // The loader tests' convention: the same build under `nightly` when rustup lacks the dated name.
    if (missingTool('cargo', ['+nightly-2026-05-19', '--version'])) vi.stubEnv('HOTGEN_TOOLCHAIN', 'nightly');
    await using tmp = await tempDir('bad-input');
    await writeTree(tmp.path, c.tree);
    for (const [link, target] of Object.entries(c.symlinks ?? {})) await symlink(target, path.join(tmp.path, link));
    const root = path.join(tmp.path, 'ws');
    await run('cargo', ['+stable', 'metadata', '--format-version', '1', '--offline'], { cwd: root, context: 'cargo metadata accepts the fixture' });
    const before = await snapshot(tmp.path);

    const init = await hotgen(root, ['init']);
    expect(init.code, `${init.stdout}\n${init.stderr}`).toBe(0);
    // Every file and link as before (the BOM included); init only added files.
    const after = await snapshot(tmp.path);
    for (const [file, hash] of Object.entries(before)) expect(after[file], `${file} changed or went away`).toBe(hash);
    expect(existsSync(path.join(root, c.shim)), c.shim).toBe(true);

    const plan = await readPlan(root);
    expect(plan.entry).toBe(c.entry);
    const toolchain = await resolveToolchain(plan, root);
    const hot = await prepareHotBuild({ root, plan, plus: toolchain.plus, env: toolchain.env });
    let cargoOut = '';
    const r = await runHotBuild({ root, plan, hot, toolchain, onStderr: (s) => (cargoOut += s), progress: false });
    expect(r.success, `${r.errors}\n${cargoOut.slice(-4000)}`).toBe(true);
    expect(r.modules.map((m) => m.name)).toEqual(c.modules);
    expect(r.modules.at(-1)?.role).toBe('entry');
    for (const m of r.modules) expect(existsSync(m.source), m.source).toBe(true);
    // The snippet and the shim were compiled in: the entry exports the ABI.
    const syms = (await run('readelf', ['--dyn-syms', '-W', r.modules.at(-1)!.source])).stdout;
    expect(syms).toMatch(/ hotgen_main$/m);
  });
});
