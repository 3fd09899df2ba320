/**
 * The hot build without cargo (loader/fastbuild.ts) and the wrapper's timings, on a real
 * three-crate workspace built by real cargo through the rustc wrapper: the records carry
 * when rustc and the linker ran; after an edit the replayed units are exactly the edited
 * crate and the ones above it; cargo afterwards finds them fresh; errors come back
 * rendered; a change that is not a known source file goes to cargo.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cargoBuild, resolveToolchain } from '../../loader/build.js';
import { runFastBuild } from '../../loader/fastbuild.js';
import { buildScriptRerun, depInfoSources, parseReplay, planFastBuild } from '../../loader/fastplan.js';
import { prepareHotBuild, runHotBuild } from '../../loader/hotbuild.js';
import { buildPhases } from '../../loader/phases.js';
import type { HotPlan } from '../../common/types.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { DEBIAN_SOURCE_CONFIG, HOT_PROFILE_CONFIG, debianMemchr, plainManifest } from '../helpers/cargo.js';


// base <- mid-layer <- top, plus `side` (beside mid-layer, under top); mid-layer uses memchr.
const fixture = {
  'Cargo.toml': '[workspace]\nmembers = ["base", "mid", "side", "top"]\nresolver = "2"\n',
  '.cargo/config.toml': DEBIAN_SOURCE_CONFIG,
  'hotgen/cargo-config.toml': HOT_PROFILE_CONFIG,
  'base/Cargo.toml': plainManifest('base', []),
  'base/src/lib.rs': 'pub fn base() -> u32 { 1 }\n',
  // cargo runs it again on any change in its package: it prints no rerun-if-changed.
  'base/build.rs': 'fn main() {}\n',
  'mid/Cargo.toml': plainManifest('mid-layer', ['base = { path = "../base" }', 'memchr = "2"']),
  'mid/src/lib.rs': 'mod inner;\npub fn mid() -> u32 { base::base() + inner::two() + memchr::memchr(b\'b\', b"abc").unwrap() as u32 }\n',
  'mid/src/inner.rs': 'pub fn two() -> u32 { 2 }\n',
  // A cdylib crate (for C callers): its outputs carry no hash, and the dylib is a second, link-only call.
  'side/Cargo.toml': plainManifest('side', ['base = { path = "../base" }']).replace('[dependencies]', '[lib]\ncrate-type = ["cdylib", "rlib"]\n\n[dependencies]'),
  'side/src/lib.rs': 'pub fn side() -> u32 { base::base() * 10 }\n',
  'side/build.rs': 'fn main() { println!("cargo::rerun-if-changed=build.rs"); }\n',
  'top/Cargo.toml': plainManifest('top', ['mid-layer = { path = "../mid" }', 'side = { path = "../side" }']),
  'top/src/lib.rs': 'pub fn top() -> u32 { mid_layer::mid() + side::side() }\n',
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
    { name: 'side', role: 'reloadable', lib: 'side', deps: ['base'], src: ['side/src'] },
    { name: 'top', role: 'entry', lib: 'top', deps: ['mid-layer', 'side'], src: ['top/src'] },
  ],
};

describe('replay files and dep-info parsing', () => {
  it('parses the wrapper\'s NUL-separated replay file; rejects an incomplete one', () => {
    const buf = Buffer.from(['cwd', '/w', 'arg', '/rustc', 'arg', '--crate-name', 'arg', 'a b', 'env', 'PATH=/bin', 'env', 'X=1=2', ''].join('\0'));
    expect(parseReplay(buf)).toEqual({ cwd: '/w', args: ['/rustc', '--crate-name', 'a b'], env: { PATH: '/bin', X: '1=2' } });
    expect(parseReplay(Buffer.from('cwd\0/w\0arg\0/rustc\0'))).toBeUndefined();
    expect(parseReplay(Buffer.from(''))).toBeUndefined();
  });

  it('says when cargo would run a build script again: no rerun-if-changed printed, or a watched file or directory changed', async () => {
    await using dir = await tempDir('buildscript');
    const pkg = path.join(dir.path, 'pkg');
    const outDir = path.join(dir.path, 'target/build/pkg-1/out');
    await mkdir(outDir, { recursive: true });
    const replay = { cwd: pkg, args: ['rustc'], env: { OUT_DIR: outDir, CARGO_MANIFEST_DIR: pkg } };
    const src = path.join(pkg, 'src/lib.rs');
    expect(buildScriptRerun({ ...replay, env: {} }, [src])).toBeUndefined();
    expect(buildScriptRerun(replay, [src])).toBe('its build script has not run in this target directory');
    await writeFile(path.join(outDir, '../output'), 'cargo:rustc-cfg=x\n');
    expect(buildScriptRerun(replay, [src])).toMatch(/runs again on any change in the package/);
    await writeFile(path.join(outDir, '../output'), 'cargo:rerun-if-changed=build.rs\ncargo::rerun-if-changed=schema\n');
    expect(buildScriptRerun(replay, [src])).toBeUndefined();
    expect(buildScriptRerun(replay, [src, path.join(pkg, 'schema/a.sql')])).toBe(`its build script watches ${path.join(pkg, 'schema/a.sql')}`);
    expect(buildScriptRerun(replay, [path.join(pkg, 'schemata.rs')])).toBeUndefined();
  });

  it('lists the sources of a rustc .d file, relative ones against the working directory', () => {
    const d = '/t/deps/x-1.d: src/lib.rs src/a\\ b.rs /abs/gen.rs\n\n/t/deps/libx-1.rlib: src/lib.rs\n\nsrc/lib.rs:\nsrc/a\\ b.rs:\n/abs/gen.rs:\n\n# env-dep:FOO=1\n';
    expect(depInfoSources(d, '/w/x')).toEqual(['/w/x/src/lib.rs', '/w/x/src/a b.rs', '/abs/gen.rs']);
  });
});

describe.skipIf(skipUnless(tools.nightly(), debianMemchr()))('the hot build without cargo (real cargo, the rustc wrapper)', () => {
  it('records rustc and link times; replays the edited crate and those above it; cargo then finds them fresh', async () => {
    await using dir = await tempDir('fastbuild');
    const root = dir.path;
    await writeTree(root, fixture);
    const tc = await resolveToolchain(plan, root);
    const hot = await prepareHotBuild({ root, plan, plus: tc.plus, env: tc.env });
    const replayDir = path.join(root, '.hotgen', 'replay');
    await mkdir(replayDir, { recursive: true, mode: 0o700 });
    hot.env.HOTGEN_REPLAY_DIR = replayDir;
    const quiet = { onStderr: () => undefined };
    const first = await runHotBuild({ root, plan, hot, toolchain: tc, ...quiet });
    expect(first.success).toBe(true);

    // Every dylib's record says when its rustc ran, and how long its link took.
    const t = first.unitTimings.find((u) => u.name === 'top')!.timing;
    expect(t.wrapperStart).toBeLessThanOrEqual(t.rustcStart);
    expect(t.rustcStart).toBeLessThan(t.rustcEnd);
    expect(t.rustcEnd).toBeLessThanOrEqual(t.wrapperEnd);
    expect(t.linkMs).toBeGreaterThan(0);
    expect(t.linkMs).toBeLessThan(t.rustcEnd - t.rustcStart);
    const b = buildPhases(first.cargoRuns[0].startedAt, first.cargoRuns[0].ms, first.unitTimings);
    expect(b.crates!.map((c) => c.name)).toEqual(expect.arrayContaining(['base', 'mid-layer', 'side', 'top']));
    expect(b.rustcMs! + b.cargoOwnMs!).toBeLessThanOrEqual(first.cargoRuns[0].ms + 1);
    // Replay files for the workspace crates only, owner-only directory.
    expect(readdirSync(replayDir).filter((n) => !n.startsWith('.')).map((n) => n.replace(/-[0-9a-f]+$/, '')).sort()).toEqual(['libbase', 'libmid_layer', 'libside', 'libtop']);

    // An edit of mid/src/inner.rs (a module file): mid-layer and top run again, not side or base.
    await writeFile(path.join(root, 'mid/src/inner.rs'), 'pub fn two() -> u32 { 3 }\n');
    const edited = await planFastBuild({ changed: [path.join(root, 'mid/src/inner.rs')], modules: first.modules, units: first.units, replayDir });
    if (!edited.ok) throw new Error(edited.reason);
    expect(edited.units.map((u) => [u.name, u.after])).toEqual([['mid-layer', []], ['top', ['mid-layer']]]);
    const out: string[] = [];
    const topSo = first.modules.find((m) => m.name === 'top')!.source;
    const before = (await stat(topSo)).mtimeMs;
    const fast = await runFastBuild(edited.units, { wrapper: hot.env.RUSTC_WRAPPER, closure: hot.closure, unitsDir: hot.unitsDir, write: (s) => out.push(s) });
    expect(fast.success, out.join('')).toBe(true);
    expect([...fast.rebuilt].sort()).toEqual(['mid-layer', 'top']);
    expect(fast.cargoStale).toEqual([]);
    expect(fast.unitTimings.map((u) => u.name).sort()).toEqual(['mid-layer', 'top']);
    expect((await stat(topSo)).mtimeMs).toBeGreaterThan(before);
    // cargo agrees that nothing is left to build.
    const again = await cargoBuild({ root, toolchain: tc, cargoArgs: hot.cargoArgs, env: hot.env, ...quiet });
    expect(again.success).toBe(true);
    expect(again.artifacts.filter((a) => !a.fresh).map((a) => a.targetName)).toEqual([]);

    // The same for the cdylib crate: its dep-info is in cargo's deps directory, its fingerprint found without a hash.
    await writeFile(path.join(root, 'side/src/lib.rs'), 'pub fn side() -> u32 { base::base() * 11 }\n');
    const cdylib = await planFastBuild({ changed: [path.join(root, 'side/src/lib.rs')], modules: first.modules, units: first.units, replayDir });
    if (!cdylib.ok) throw new Error(cdylib.reason);
    expect(cdylib.units.map((u) => u.name)).toEqual(['side', 'top']);
    const fastCdylib = await runFastBuild(cdylib.units, { wrapper: hot.env.RUSTC_WRAPPER, closure: hot.closure, unitsDir: hot.unitsDir, write: (s) => out.push(s) });
    expect(fastCdylib.success, out.join('')).toBe(true);
    expect(fastCdylib.cargoStale).toEqual([]);
    const again2 = await cargoBuild({ root, toolchain: tc, cargoArgs: hot.cargoArgs, env: hot.env, ...quiet });
    expect(again2.artifacts.filter((a) => !a.fresh).map((a) => a.targetName)).toEqual([]);

    // A compiler error comes back rendered; nothing after the failed crate runs.
    await writeFile(path.join(root, 'side/src/lib.rs'), 'pub fn side() -> u32 { "x" }\n');
    const broken = await planFastBuild({ changed: [path.join(root, 'side/src/lib.rs')], modules: first.modules, units: fast.records.size ? new Map([...first.units, ...fast.records]) : first.units, replayDir });
    if (!broken.ok) throw new Error(broken.reason);
    expect(broken.units.map((u) => u.name)).toEqual(['side', 'top']);
    const failed = await runFastBuild(broken.units, { wrapper: hot.env.RUSTC_WRAPPER, closure: hot.closure, unitsDir: hot.unitsDir, write: () => undefined });
    expect(failed.success).toBe(false);
    expect(failed.rebuilt.size).toBe(0);
    expect(failed.errors).toMatch(/^error\[E0308\]: mismatched types/m);
    expect(failed.errors).toContain('side/src/lib.rs');

    // Not a source file of a built crate (a manifest, a new file): cargo must build.
    for (const f of ['side/Cargo.toml', 'side/src/new.rs']) {
      await writeFile(path.join(root, f), (await readFile(path.join(root, 'side/Cargo.toml'), 'utf8')) + '\n');
      const p = await planFastBuild({ changed: [path.join(root, f)], modules: first.modules, units: first.units, replayDir });
      expect(p.ok, f).toBe(false);
    }
    // Nothing changed: nothing to run.
    expect(await planFastBuild({ changed: [], modules: first.modules, units: first.units, replayDir })).toEqual({ ok: true, units: [] });
    // A crate whose build script prints no rerun-if-changed: cargo would run it again, so cargo builds.
    await writeFile(path.join(root, 'base/src/lib.rs'), 'pub fn base() -> u32 { 2 }\n');
    const withScript = await planFastBuild({ changed: [path.join(root, 'base/src/lib.rs')], modules: first.modules, units: first.units, replayDir });
    expect(withScript).toEqual({ ok: false, reason: 'base: its build script runs again on any change in the package (it prints no rerun-if-changed)' });
  });
});
