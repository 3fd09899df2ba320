import { describe, expect, it } from 'vitest';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CycleQueue, cargoBuild, compilerErrors, parseCargoLine, profileDir, resolveToolchain } from '../../loader/build.js';
import { prepareHotBuild, runHotBuild } from '../../loader/hotbuild.js';
import { readDynamic } from '../../loader/modules.js';
import { artifactStem, readUnits } from '../../loader/units.js';
import type { HotPlan } from '../../common/types.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { DEBIAN_SOURCE_CONFIG, HOT_PROFILE_CONFIG, debianMemchr, plainManifest } from '../helpers/cargo.js';



// base <- mid-layer <- top, and mid-layer calls the registry crate `memchr`; `mid-layer`
// checks the `-` → `_` library name mapping.
const fixture = {
  'Cargo.toml': '[workspace]\nmembers = ["base", "mid", "top"]\nresolver = "2"\n',
  '.cargo/config.toml': DEBIAN_SOURCE_CONFIG,
  'hotgen/cargo-config.toml': HOT_PROFILE_CONFIG,
  'base/Cargo.toml': plainManifest('base', []),
  'base/src/lib.rs': 'pub fn base() -> u32 { 1 }\n',
  'mid/Cargo.toml': plainManifest('mid-layer', ['base = { path = "../base" }', 'memchr = "2"']),
  'mid/src/lib.rs': 'pub fn mid() -> u32 { base::base() + memchr::memchr(b\'b\', b"abc").unwrap() as u32 }\n',
  'top/Cargo.toml': plainManifest('top', ['mid-layer = { path = "../mid" }']),
  'top/src/lib.rs': 'pub fn top() -> u32 { mid_layer::mid() + 1 }\n',
};

const plan: HotPlan = {
  version: 1,
  profile: 'hot',
  channel: 'nightly',
  toolchain: 'nightly',
  linker: 'default',
  entry: 'top',
  listen: [],
  stopTimeoutMs: 5000,
  crates: [
    { name: 'base', role: 'frozen', lib: 'base', deps: [], src: ['base/src'] },
    { name: 'mid-layer', role: 'reloadable', lib: 'mid_layer', deps: ['base'], src: ['mid/src'] },
    { name: 'top', role: 'entry', lib: 'top', deps: ['mid-layer'], src: ['top/src'] },
  ],
};

describe.skipIf(skipUnless(tools.nightly(), debianMemchr()))('cargo build driver (real cargo, the rustc wrapper)', () => {
  it('parses the JSON of a real hot build: rebuilt units, then fresh ones', async () => {
    await using dir = await tempDir('build-json');
    await writeTree(dir.path, fixture);
    const tc = await resolveToolchain(plan, dir.path);
    const hot = await prepareHotBuild({ root: dir.path, plan, plus: tc.plus, env: tc.env });
    const quiet = { onStderr: () => undefined };
    const first = await cargoBuild({ root: dir.path, toolchain: tc, cargoArgs: hot.cargoArgs, env: hot.env, ...quiet });
    expect(first.success).toBe(true);
    expect(first.errors).toBe('');
    const libs = first.artifacts.filter((a) => a.kinds.includes('lib'));
    expect(libs.map((a) => a.targetName).sort()).toEqual(['base', 'memchr', 'mid_layer', 'top']);
    // memchr's build script is built and run too, untouched by the wrapper.
    expect(first.artifacts.filter((a) => !a.kinds.includes('lib')).map((a) => a.kinds)).toEqual([['custom-build']]);
    expect(first.artifacts.every((a) => !a.fresh)).toBe(true);
    // Cargo only knows the files it asked for, in the hot build's own target directory.
    for (const a of first.artifacts) expect(a.filenames.every((f) => f.startsWith(hot.targetDir + path.sep)), a.targetName).toBe(true);
    // The unit behind each library artifact has a wrapper record with its .so beside cargo's files.
    const units = await readUnits(hot.unitsDir);
    expect(units.size).toBe(4);
    for (const a of libs) {
      const rec = units.get(artifactStem(a)!);
      expect(rec, a.targetName).toBeDefined();
      expect(path.dirname(rec!.so)).toBe(hot.depsDir);
    }

    const again = await cargoBuild({ root: dir.path, toolchain: tc, cargoArgs: hot.cargoArgs, env: hot.env, ...quiet });
    expect(again.artifacts.map((a) => a.targetName).sort()).toEqual(first.artifacts.map((a) => a.targetName).sort());
    expect(again.artifacts.every((a) => a.fresh)).toBe(true);
  });

  it('finds the toolchain, builds the closure as dylibs, reports the rebuilt set after an edit, and keeps outputs on a failed build', async () => {
    await using dir = await tempDir('build-driver');
    await writeTree(dir.path, fixture);
    const tc = await resolveToolchain(plan, dir.path);
    expect(tc.plus).toEqual(['+nightly']);
    expect(tc.targetDir).toBe(path.join(dir.path, 'target'));
    expect((await readdir(tc.libstdDir)).some((f) => /^libstd-.*\.so$/.test(f))).toBe(true);
    const hot = await prepareHotBuild({ root: dir.path, plan, plus: tc.plus, env: tc.env });
    expect(hot.targetDir).toBe(path.join(dir.path, 'target', 'hotgen'));
    expect(hot.depsDir).toBe(path.join(dir.path, 'target', 'hotgen', profileDir('hot'), 'deps'));
    expect([...hot.closure.values()].map((p) => [p.name, p.role]).sort()).toEqual([['base', 'frozen'], ['memchr', 'registry'], ['mid-layer', 'reloadable'], ['top', 'entry']]);

    const quiet = { onStderr: () => undefined };
    const first = await runHotBuild({ root: dir.path, plan, hot, toolchain: tc, ...quiet });
    expect(first.success).toBe(true);
    expect([...first.rebuilt].sort()).toEqual(['base', expect.stringMatching(/^memchr-[0-9a-f]{16}$/), 'mid-layer', 'top']);
    const memchr = first.modules.find((m) => m.role === 'registry')!.name;
    expect(first.modules.map((m) => [m.name, m.role])).toEqual([
      ['base', 'frozen'],
      [memchr, 'registry'],
      ['mid-layer', 'reloadable'],
      ['top', 'entry'],
    ]);
    expect(first.modules.map((m) => m.deps)).toEqual([[], [], ['base', memchr], ['mid-layer']]);
    // Each module is `<deps>/lib<crate>-<hash>.so`, and that file name is its SONAME (what DT_NEEDED names).
    const dyn = new Map(first.modules.map((m) => [m.name, readDynamic(m.source)!]));
    for (const m of first.modules) {
      expect(path.dirname(m.source)).toBe(hot.depsDir);
      expect(path.basename(m.source)).toMatch(/^lib\w+-[0-9a-f]{16}\.so$/);
      expect(dyn.get(m.name)!.soname).toBe(path.basename(m.source));
    }
    const byName = new Map(first.modules.map((m) => [m.name, path.basename(m.source)]));
    expect(dyn.get('mid-layer')!.needed).toEqual(expect.arrayContaining([byName.get('base'), byName.get(memchr), expect.stringMatching(/^libstd-/)]));
    expect(dyn.get('top')!.needed).toContain(byName.get('mid-layer'));
    // The frozen crate, and only it, is linked with -z nodelete.
    expect([...dyn].filter(([, d]) => d.nodelete).map(([n]) => n)).toEqual(['base']);
    // No workspace file was touched to get there.
    expect((await readdir(dir.path)).sort()).toEqual(['.cargo', 'Cargo.lock', 'Cargo.toml', 'base', 'hotgen', 'mid', 'target', 'top']);

    await writeFile(path.join(dir.path, 'mid/src/lib.rs'), 'pub fn mid() -> u32 { base::base() + 2 }\n');
    const second = await runHotBuild({ root: dir.path, plan, hot, toolchain: tc, ...quiet });
    expect(second.success).toBe(true);
    expect([...second.rebuilt].sort()).toEqual(['mid-layer', 'top']);
    // Cargo's hash does not follow the sources: the same file names, rewritten.
    expect(second.modules.map((m) => m.source)).toEqual(first.modules.map((m) => m.source));

    await writeFile(path.join(dir.path, 'mid/src/lib.rs'), 'pub fn mid() -> u32 { base::base() + "x" }\n');
    const broken = await runHotBuild({ root: dir.path, plan, hot, toolchain: tc, ...quiet });
    expect(broken.success).toBe(false);
    expect(broken.rebuilt.size).toBe(0);
    expect(broken.modules).toEqual([]);
    expect(broken.errors).toMatch(/^error\[E\d+\]/m);
    expect(broken.errors).toContain('mid/src/lib.rs');
    for (const m of first.modules) expect(readDynamic(m.source), m.name).toBeDefined();
  });

  it('rebuilds a unit whose record was made for another role, or whose .so is gone (cargo\'s fingerprint does not see the wrapper)', async () => {
    await using dir = await tempDir('build-role');
    await writeTree(dir.path, fixture);
    const tc = await resolveToolchain(plan, dir.path);
    const quiet = { onStderr: () => undefined };
    const build = async (p: HotPlan) => {
      const hot = await prepareHotBuild({ root: dir.path, plan: p, plus: tc.plus, env: tc.env });
      return { hot, ...(await runHotBuild({ root: dir.path, plan: p, hot, toolchain: tc, ...quiet })) };
    };
    const frozen = await build(plan);
    expect(readDynamic(frozen.modules[0].source)).toMatchObject({ nodelete: true });
    const thawed = { ...plan, crates: plan.crates.map((c) => (c.name === 'base' ? { ...c, role: 'reloadable' as const } : c)) };
    const r = await build(thawed);
    expect(r.success).toBe(true);
    expect(r.modules[0]).toMatchObject({ name: 'base', role: 'reloadable', source: frozen.modules[0].source });
    expect(r.rebuilt.has('base')).toBe(true);
    expect(readDynamic(r.modules[0].source)).toMatchObject({ nodelete: false });
    expect((await readUnits(r.hot.unitsDir)).get(path.basename(r.modules[0].source, '.so'))?.role).toBe('reloadable');

    // A deleted dylib (cargo still has the rlib and calls the unit fresh) is built again.
    const mid = r.modules.find((m) => m.name === 'mid-layer')!.source;
    await rm(mid);
    const again = await build(thawed);
    expect(again.success).toBe(true);
    expect(again.rebuilt.has('mid-layer')).toBe(true);
    expect(again.modules.find((m) => m.name === 'mid-layer')?.source).toBe(mid);
    expect(readDynamic(mid)?.soname).toBe(path.basename(mid));
  });

  it('falls back to plain cargo when the plan names a toolchain rustup does not have', async () => {
    await using dir = await tempDir('build-tc');
    // rust-toolchain.toml is what picks the toolchain for plain cargo under rustup.
    await writeTree(dir.path, { ...fixture, 'rust-toolchain.toml': '[toolchain]\nchannel = "nightly"\n' });
    const tc = await resolveToolchain({ ...plan, toolchain: 'nightly-1999-01-01' }, dir.path);
    expect(tc.plus).toEqual([]);
    expect(tc.targetDir).toBe(path.join(dir.path, 'target'));
  });
});

describe('cargo output helpers', () => {
  it('ignores lines that are not cargo JSON', () => {
    expect(parseCargoLine('hello from build.rs')).toEqual({ reason: 'other' });
    expect(parseCargoLine('{not json')).toEqual({ reason: 'other' });
    expect(parseCargoLine('{"reason":"build-script-executed"}')).toEqual({ reason: 'other' });
  });

  it('maps profiles to cargo output directories', () => {
    expect(profileDir('dev')).toBe('debug');
    expect(profileDir('release')).toBe('release');
    expect(profileDir('hot')).toBe('hot');
  });

  it('extracts error blocks from rendered diagnostics, without colour codes', () => {
    const stderr = '   Compiling x v0.1.0\n\x1b[1m\x1b[38;5;9merror[E0308]\x1b[0m: mismatched types\n --> src/lib.rs:1:2\n\nwarning: unused\n\nerror: could not compile `x`\n';
    expect(compilerErrors(stderr)).toBe('error[E0308]: mismatched types\n --> src/lib.rs:1:2\nerror: could not compile `x`');
  });
});

describe('CycleQueue', () => {
  /** A queue whose cycles wait for `gates` and call seal() when `sealed` says so. */
  function gated() {
    const gates: Array<() => void> = [];
    let runs = 0;
    const q: CycleQueue<number> = new CycleQueue(async () => {
      const n = ++runs;
      await new Promise<void>((r) => gates.push(r));
      q.seal();
      await new Promise<void>((r) => gates.push(r));
      return n;
    });
    const open = async () => {
      await new Promise((r) => setTimeout(r, 0));
      gates.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    };
    return { q, open, runs: () => runs };
  }

  it('runs one cycle per request when idle', async () => {
    const { q, open } = gated();
    const a = q.request();
    await open();
    await open();
    expect(await a).toBe(1);
    const b = q.request();
    await open();
    await open();
    expect(await b).toBe(2);
  });

  it('lets requests made while the cycle builds join it (two at once = one cycle)', async () => {
    const { q, open, runs } = gated();
    const first = q.request();
    const second = q.request();
    expect(second).toBe(first);
    await open();
    await open();
    expect(await second).toBe(1);
    expect(runs()).toBe(1);
    expect(q.busy).toBe(false);
  });

  it('makes a request after the build waits for one more cycle, shared by all such requests', async () => {
    const { q, open, runs } = gated();
    const first = q.request();
    await open(); // build done: sealed
    const second = q.request();
    const third = q.request();
    expect(second).toBe(third);
    expect(second).not.toBe(first);
    await open();
    expect(await first).toBe(1);
    await open();
    expect(runs()).toBe(2);
    await open();
    expect(await second).toBe(2);
    await q.idle();
    expect(q.busy).toBe(false);
  });

  it('runs the pending cycle even when the running one failed', async () => {
    let n = 0;
    const q: CycleQueue<number> = new CycleQueue(async () => {
      n++;
      q.seal();
      await Promise.resolve();
      if (n === 1) throw new Error('boom');
      return n;
    });
    const a = q.request();
    const b = q.request();
    await expect(a).rejects.toThrow('boom');
    expect(await b).toBe(2);
  });
});
