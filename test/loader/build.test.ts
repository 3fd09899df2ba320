import { describe, expect, it } from 'vitest';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CycleQueue, cargoBuild, compilerErrors, parseCargoLine, profileDir, rebuiltCrates, resolveToolchain } from '../../loader/build.js';
import { run } from '../../common/exec.js';
import type { HotPlan } from '../../common/types.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';

const manifest = (name: string, deps: [string, string][]) =>
  `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\ncrate-type = ["rlib", "dylib"]\n\n[dependencies]\n` +
  deps.map(([d, dir]) => `${d} = { path = "../${dir}" }\n`).join('');

// base <- mid-layer <- top; `mid-layer` checks the `-` → `_` library name mapping.
const fixture = {
  'Cargo.toml':
    'cargo-features = ["profile-rustflags"]\n[workspace]\nmembers = ["base", "mid", "top"]\nresolver = "2"\n\n' +
    '[profile.hot]\ninherits = "dev"\nrustflags = ["-C", "prefer-dynamic"]\n',
  'base/Cargo.toml': manifest('base', []),
  'base/src/lib.rs': 'pub fn base() -> u32 { 1 }\n',
  'mid/Cargo.toml': manifest('mid-layer', [['base', 'base']]),
  'mid/src/lib.rs': 'pub fn mid() -> u32 { base::base() + 1 }\n',
  'top/Cargo.toml': manifest('top', [['mid-layer', 'mid']]),
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

describe.skipIf(skipUnless(tools.nightly()))('cargo build driver (real cargo)', () => {
  it('parses the JSON of a real build: rebuilt dylibs, then fresh ones', async () => {
    await using dir = await tempDir('build-json');
    await writeTree(dir.path, fixture);
    const res = await run('cargo', ['+nightly', 'build', '--profile', 'hot', '--message-format=json-render-diagnostics'], { cwd: dir.path });
    const msgs = res.stdout.split('\n').filter(Boolean).map(parseCargoLine);
    const arts = msgs.flatMap((m) => (m.reason === 'compiler-artifact' ? [m.artifact] : []));
    expect(arts.map((a) => a.targetName).sort()).toEqual(['base', 'mid_layer', 'top']);
    expect(arts.every((a) => !a.fresh && a.kinds.includes('dylib'))).toBe(true);
    expect(msgs.at(-1)).toEqual({ reason: 'build-finished', success: true });
    expect([...rebuiltCrates(plan.crates, arts)].sort()).toEqual(['base', 'mid-layer', 'top']);
    for (const a of arts) expect(a.filenames.some((f) => f.startsWith(path.join(dir.path, 'target', 'hot') + '/') && f.endsWith('.so'))).toBe(true);

    const again = await run('cargo', ['+nightly', 'build', '--profile', 'hot', '--message-format=json-render-diagnostics'], { cwd: dir.path });
    const arts2 = again.stdout.split('\n').map(parseCargoLine).flatMap((m) => (m.reason === 'compiler-artifact' ? [m.artifact] : []));
    expect(arts2.length).toBe(3);
    expect(arts2.every((a) => a.fresh)).toBe(true);
    expect(rebuiltCrates(plan.crates, arts2).size).toBe(0);
  });

  it('finds the toolchain, builds, reports the rebuilt set after an edit, and keeps outputs on a failed build', async () => {
    await using dir = await tempDir('build-driver');
    await writeTree(dir.path, fixture);
    const tc = await resolveToolchain(plan, dir.path);
    expect(tc.plus).toEqual(['+nightly']);
    expect(tc.targetDir).toBe(path.join(dir.path, 'target'));
    expect((await readdir(tc.libstdDir)).some((f) => /^libstd-.*\.so$/.test(f))).toBe(true);

    const quiet = { onStderr: () => undefined };
    const first = await cargoBuild({ root: dir.path, plan, toolchain: tc, ...quiet });
    expect(first.success).toBe(true);
    expect([...first.rebuilt].sort()).toEqual(['base', 'mid-layer', 'top']);

    await writeFile(path.join(dir.path, 'mid/src/lib.rs'), 'pub fn mid() -> u32 { base::base() + 2 }\n');
    const second = await cargoBuild({ root: dir.path, plan, toolchain: tc, ...quiet });
    expect(second.success).toBe(true);
    expect([...second.rebuilt].sort()).toEqual(['mid-layer', 'top']);

    await writeFile(path.join(dir.path, 'mid/src/lib.rs'), 'pub fn mid() -> u32 { base::base() + "x" }\n');
    const broken = await cargoBuild({ root: dir.path, plan, toolchain: tc, ...quiet });
    expect(broken.success).toBe(false);
    expect(broken.rebuilt.size).toBe(0);
    expect(broken.errors).toMatch(/^error\[E\d+\]/m);
    expect(broken.errors).toContain('mid/src/lib.rs');
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
