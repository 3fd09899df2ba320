/**
 * The conduwuit-shaped workspace end to end with real tools: `hotgen init` (which edits
 * no workspace file, so an ordinary build is exactly as before), then the hot build
 * through hotgen's rustc wrapper (loader/hotbuild.ts, as `hotgen dev` runs it) gives a
 * dylib for every reloadable/frozen/entry crate, each NEEDing libstd and its dependencies'
 * dylibs, linked by the chosen linker, frozen ones with NODELETE; init twice is a no-op;
 * eject restores every byte and leaves the build output alone. Once with nightly + mold,
 * once with stable + lld.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { skipUnless, tools, missingTool } from '../helpers/tools.js';
import { hashTree, tempDir, writeTree } from '../helpers/tree.js';
import { hotgen } from './cli.js';
import { conduwuitTree } from './fixtures/conduwuit.js';
import { hotBuild, needed, readelf, type HotBuilt } from './hot.js';

/** Files init/eject own: everything but build outputs. */
const snapshot = (dir: string) => hashTree(dir, ['target', 'Cargo.lock']);

const LIBS = ['conduwuit_admin', 'conduwuit_api', 'conduwuit_core', 'conduwuit_database', 'conduwuit_router', 'conduwuit_service'];

async function checkDylibs(dir: string, built: HotBuilt, linkerMark: RegExp): Promise<void> {
  const { plan, hot, result, byName } = built;
  const planned = plan.crates.filter((c) => c.role !== 'excluded');
  expect(planned.map((c) => c.name).sort()).toEqual(LIBS);
  // The host's modules: the planned crates (no registry crate here), each after its dependencies.
  expect(result.modules.map((m) => m.name).sort()).toEqual(LIBS);
  const order = result.modules.map((m) => m.name);
  for (const m of result.modules) for (const d of m.deps) expect(order.indexOf(d), `${d} before ${m.name}`).toBeLessThan(order.indexOf(m.name));
  for (const c of planned) {
    const m = byName.get(c.name)!;
    expect(m.role).toBe(c.role);
    // The dylibs live in the hot build's own target dir, with cargo's hash in the name.
    expect(path.dirname(m.source)).toBe(hot.depsDir);
    expect(hot.depsDir).toBe(path.join(dir, 'target', 'hotgen', plan.profile, 'deps'));
    expect(path.basename(m.source)).toMatch(new RegExp(`^lib${c.lib}-[0-9a-f]+\\.so$`));
    const dyn = await readelf('-d', m.source);
    expect(dyn, c.name).toContain(`Library soname: [${path.basename(m.source)}]`);
    const needs = await needed(m.source);
    expect(needs.some((n) => /^libstd-[0-9a-f]+\.so$/.test(n)), `${c.name} NEEDs libstd`).toBe(true);
    expect(/NODELETE/.test(dyn), `${c.name} nodelete`).toBe(c.role === 'frozen');
    for (const d of c.deps.filter((d) => d !== 'conduwuit_macros')) {
      expect(needs, `${c.name} NEEDs ${d}`).toContain(path.basename(byName.get(d)!.source));
    }
    expect(await readelf('-p', '.comment', m.source), c.name).toMatch(linkerMark);
  }
  const syms = await readelf('--dyn-syms', '-W', byName.get('conduwuit_router')!.source);
  expect(syms).toMatch(/ hotgen_main$/m);
  expect(syms).toMatch(/ hotgen_abi_version$/m);
  // Nothing was built as a dylib where ordinary builds put their output.
  expect(existsSync(path.join(dir, 'target', plan.profile))).toBe(false);
}

/** `cargo +<tc> build --offline` (an ordinary build): exit code and warning lines. */
async function ordinaryBuild(dir: string, tc: string): Promise<{ code: number | null; warnings: string[]; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, RUSTUP_AUTO_INSTALL: '0', CARGO_TERM_COLOR: 'never' };
  for (const k of ['RUSTUP_TOOLCHAIN', 'RUSTC_BOOTSTRAP', 'RUSTFLAGS', 'CARGO_TARGET_DIR', 'RUSTC_WRAPPER']) delete env[k];
  const r = await run('cargo', [`+${tc}`, 'build', '--offline'], { cwd: dir, env, allowFailure: true, timeoutMs: 600_000 });
  return { code: r.code, warnings: r.stderr.split('\n').filter((l) => /^warning/.test(l)), stderr: r.stderr };
}

describe.skipIf(skipUnless(tools.nightly(), tools.mold(), tools.readelf(), missingTool('cargo', ['+stable', '--version'])))('conduwuit-shaped workspace, nightly + mold', () => {
  it('init (no workspace file edited), hot build, init again (no-op), eject (exact, build output kept)', async () => {
    await using dir = await tempDir('conduwuit');
    await writeTree(dir.path, conduwuitTree({ entryShim: true }));
    const plain = await ordinaryBuild(dir.path, 'stable');
    expect(plain.code, plain.stderr).toBe(0);
    const before = await snapshot(dir.path);
    const first = await hotgen(dir.path, 'init', '--frozen', 'conduwuit_core');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('entry:      conduwuit_router');
    expect(first.stdout).not.toMatch(/^edited /m);
    const afterInit = await hashTree(dir.path, ['target']);
    for (const [f, h] of Object.entries(before)) expect(afterInit[f], `${f} changed`).toBe(h);
    // An ordinary build sees no difference: same result, same warnings.
    const ordinary = await ordinaryBuild(dir.path, 'stable');
    expect(ordinary.code, ordinary.stderr).toBe(0);
    expect(ordinary.warnings).toEqual(plain.warnings);

    const second = await hotgen(dir.path, 'init');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('nothing to change');
    expect(await hashTree(dir.path, ['target'])).toEqual(afterInit);

    const built = await hotBuild(dir.path);
    expect(built.plan.crates.find((c) => c.name === 'conduwuit_core')!.role).toBe('frozen');
    await checkDylibs(dir.path, built, /mold/);
    // A second hot build finds everything fresh.
    expect((await hotBuild(dir.path)).result.rebuilt.size).toBe(0);

    const ej = await hotgen(dir.path, 'eject');
    expect(ej.code, ej.stderr).toBe(0);
    expect(await snapshot(dir.path)).toEqual(before);
    expect(existsSync(path.join(dir.path, '.hotgen'))).toBe(false);
    expect(existsSync(path.join(dir.path, 'hotgen'))).toBe(false);
    for (const m of built.result.modules) expect(existsSync(m.source), m.source).toBe(true);
  });
});

describe.skipIf(skipUnless(tools.cargo(), missingTool('cargo', ['+stable', '--version']), tools.lld(), tools.readelf()))('conduwuit-shaped workspace, stable + lld', () => {
  it('builds the hot dylibs with stable (no RUSTC_BOOTSTRAP anywhere)', async () => {
    await using dir = await tempDir('conduwuit-stable');
    await writeTree(dir.path, conduwuitTree({ entryShim: true }));
    const r = await hotgen(dir.path, 'init', '--channel', 'stable', '--linker', 'lld', '--frozen', 'conduwuit_core');
    expect(r.code, r.stderr).toBe(0);
    const saved = process.env.RUSTC_BOOTSTRAP;
    delete process.env.RUSTC_BOOTSTRAP;
    try {
      const built = await hotBuild(dir.path);
      expect(built.plan.channel).toBe('stable');
      expect(built.plan.toolchain).toMatch(/^1\.\d+\.\d+$/);
      await checkDylibs(dir.path, built, /Linker: .*LLD/i);
    } finally {
      if (saved !== undefined) process.env.RUSTC_BOOTSTRAP = saved;
    }
  });
});
