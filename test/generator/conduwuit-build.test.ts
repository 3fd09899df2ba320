/**
 * The conduwuit-shaped workspace end to end with real tools: `hotgen init`, then
 * `cargo build --profile hot` gives lib<crate>.so for every reloadable/frozen/entry
 * crate, each NEEDing libstd and linked by the chosen linker; init twice is a no-op;
 * eject restores every byte. Once with nightly + mold, once with stable + lld.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../common/exec.js';
import type { HotPlan } from '../../common/types.js';
import { readPlan } from '../../generator/plan.js';
import { skipUnless, tools, missingTool } from '../helpers/tools.js';
import { hashTree, tempDir, writeTree } from '../helpers/tree.js';
import { hotgen } from './cli.js';
import { conduwuitTree } from './fixtures/conduwuit.js';

/** Files init/eject own: everything but build outputs. */
const snapshot = (dir: string) => hashTree(dir, ['target', 'Cargo.lock']);

async function readelf(args: string[]): Promise<string> {
  return (await run('readelf', args)).stdout;
}

async function checkDylibs(dir: string, plan: HotPlan, linkerMark: RegExp): Promise<void> {
  const hot = plan.crates.filter((c) => c.role !== 'excluded');
  expect(hot.map((c) => c.name).sort()).toEqual(['conduwuit_admin', 'conduwuit_api', 'conduwuit_core', 'conduwuit_database', 'conduwuit_router', 'conduwuit_service']);
  for (const c of hot) {
    const so = path.join(dir, 'target', plan.profile, `lib${c.lib}.so`);
    expect(existsSync(so), so).toBe(true);
    const dyn = await readelf(['-d', so]);
    expect(dyn, c.name).toMatch(/NEEDED\)\s+Shared library: \[libstd-[0-9a-f]+\.so\]/);
    expect(/NODELETE/.test(dyn), `${c.name} nodelete`).toBe(c.role === 'frozen');
    for (const d of c.deps.filter((d) => d !== 'conduwuit_macros')) {
      const lib = plan.crates.find((x) => x.name === d)!.lib;
      expect(dyn, `${c.name} NEEDs lib${lib}.so`).toContain(`[lib${lib}.so]`);
    }
    expect(await readelf(['-p', '.comment', so]), c.name).toMatch(linkerMark);
  }
  const syms = await readelf(['--dyn-syms', '-W', path.join(dir, 'target', plan.profile, 'libconduwuit_router.so')]);
  expect(syms).toMatch(/ hotgen_main$/m);
  expect(syms).toMatch(/ hotgen_abi_version$/m);
}

describe.skipIf(skipUnless(tools.nightly(), tools.mold(), tools.readelf()))('conduwuit-shaped workspace, nightly + mold', () => {
  it('init, build, init again (no-op), eject (exact)', async () => {
    await using dir = await tempDir('conduwuit');
    await writeTree(dir.path, conduwuitTree({ entryShim: true }));
    const before = await snapshot(dir.path);
    const first = await hotgen(dir.path, 'init', '--frozen', 'conduwuit_core');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('entry:      conduwuit_router');
    const afterInit = await hashTree(dir.path, ['target']);
    const second = await hotgen(dir.path, 'init');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('nothing to change');
    expect(await hashTree(dir.path, ['target'])).toEqual(afterInit);

    const plan = await readPlan(dir.path);
    expect(plan.crates.find((c) => c.name === 'conduwuit_core')!.role).toBe('frozen');
    await run('cargo', ['+nightly', 'build', '--profile', 'hot', '--offline'], { cwd: dir.path, context: 'building the hot profile' });
    await checkDylibs(dir.path, plan, /mold/);

    const ej = await hotgen(dir.path, 'eject');
    expect(ej.code, ej.stderr).toBe(0);
    expect(await snapshot(dir.path)).toEqual(before);
    expect(existsSync(path.join(dir.path, '.hotgen'))).toBe(false);
  });
});

describe.skipIf(skipUnless(tools.cargo(), missingTool('cargo', ['+stable', '--version']), tools.lld(), tools.readelf()))('conduwuit-shaped workspace, stable + lld', () => {
  it('builds the hot profile with RUSTC_BOOTSTRAP=1 cargo +stable', async () => {
    await using dir = await tempDir('conduwuit-stable');
    await writeTree(dir.path, conduwuitTree({ entryShim: true }));
    const r = await hotgen(dir.path, 'init', '--channel', 'stable', '--linker', 'lld', '--frozen', 'conduwuit_core');
    expect(r.code, r.stderr).toBe(0);
    const plan = await readPlan(dir.path);
    expect(plan.channel).toBe('stable');
    expect(plan.toolchain).toMatch(/^1\.\d+\.\d+$/);
    await run('cargo', ['+stable', 'build', '--profile', 'hot', '--offline'], {
      cwd: dir.path,
      env: { ...process.env, RUSTC_BOOTSTRAP: '1' },
      context: 'building the hot profile with stable',
    });
    await checkDylibs(dir.path, plan, /Linker: .*LLD/i);
  });
});
