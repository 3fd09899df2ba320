/**
 * The bad-input corpus (issue 2), through the real CLI: each case ends in a correct
 * edit, or a one-line error with a non-zero exit and every file's bytes unchanged.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseToml } from '../../common/deps.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { hashTree, tempDir, writeTree, type Tree } from '../helpers/tree.js';
import { hotgen } from './cli.js';
import { conduwuitTree } from './fixtures/conduwuit.js';
import { smallTree } from './fixtures/small.js';

const all = (dir: string) => hashTree(dir, ['target']);

/** Runs `hotgen init ...args` on `tree`; expects failure with `pattern` on stderr's first line and no byte changed. */
async function fails(tree: Tree, args: string[], pattern: RegExp, exit = 1): Promise<string> {
  await using dir = await tempDir('corpus');
  await writeTree(dir.path, tree);
  const before = await all(dir.path);
  const r = await hotgen(dir.path, 'init', ...args);
  expect(r.code, r.stderr).toBe(exit);
  const first = r.stderr.split('\n')[0]!;
  expect(first).toMatch(pattern);
  expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
  expect(await all(dir.path)).toEqual(before);
  return first;
}

/** Runs `hotgen init ...args` in `dir`, expecting success. */
async function ok(dir: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await hotgen(dir, 'init', ...args);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

const withFile = (t: Tree, rel: string, edit: (s: string) => string): Tree => ({ ...t, [rel]: edit(t[rel] as string) });
const tomlOf = async (dir: string, rel: string) => parseToml(await readFile(path.join(dir, rel), 'utf8')) as Record<string, any>;

describe.skipIf(skipUnless(tools.cargo()))('bad input: one-line error, nothing changed', () => {
  it('malformed TOML in the root manifest', () =>
    fails(withFile(smallTree(), 'Cargo.toml', (s) => s.replace('edition = "2021"', 'edition = 2021"')), [], /^hotgen: Cargo\.toml:10: invalid TOML: /));

  it('malformed TOML in a member manifest', () =>
    fails(withFile(smallTree(), 'crates/app/Cargo.toml', (s) => s.replace('[dependencies]', '[dependencies')), [], /^hotgen: crates\/app\/Cargo\.toml:6: invalid TOML: unexpected "\\n" \(column 14\)$/));

  it('no Cargo.toml', () => fails({ 'README.md': 'hello\n' }, [], /^hotgen: no Cargo\.toml in \//));

  it('a virtual manifest with no members', () =>
    fails({ 'Cargo.toml': '[workspace]\nresolver = "2"\n' }, [], /^hotgen: Cargo\.toml: virtual manifest has no members/));

  it('a path-dependency cycle', () =>
    fails(withFile(smallTree(), 'crates/core/Cargo.toml', (s) => s + 'app = { path = "../app" }\n'), [], /^hotgen: Cargo\.toml: path-dependency cycle: (app -> core-lib -> app|core-lib -> app -> core-lib)$/));

  it('--entry naming an unknown crate, --frozen naming a proc-macro', async () => {
    await fails(smallTree(), ['--entry', 'nope'], /^hotgen: entry: `nope` is not a workspace member$/);
    await fails(conduwuitTree(), ['--frozen', 'conduwuit_core,conduwuit_macros'], /^hotgen: frozen: `conduwuit_macros` is a proc-macro crate/);
    await fails(conduwuitTree(), ['--frozen', 'ghost'], /^hotgen: frozen: `ghost` is not a workspace member$/);
  });

  it('a bad flag value is a usage error (exit 2)', () => fails(smallTree(), ['--linker', 'bfd'], /^hotgen: init: --linker must be/, 2));

  it('an immutable manifest (chattr +i; fails even for root)', async (ctx) => {
    await using dir = await tempDir('corpus');
    await writeTree(dir.path, smallTree());
    const target = path.join(dir.path, 'crates/core/Cargo.toml');
    try {
      execFileSync('chattr', ['+i', target], { stdio: 'ignore' });
    } catch {
      if (process.env.HOTGEN_REQUIRE_TOOLS === '1') throw new Error('chattr +i is not supported here (HOTGEN_REQUIRE_TOOLS=1)');
      ctx.skip('chattr +i is not supported on this file system');
    }
    try {
      const before = await all(dir.path);
      const r = await hotgen(dir.path, 'init');
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe('hotgen: crates/core/Cargo.toml: is not writable (nothing was changed)');
      expect(await all(dir.path)).toEqual(before);
      expect(await all(path.join(dir.path))).not.toHaveProperty(['.hotgen/init-state.json']);
    } finally {
      execFileSync('chattr', ['-i', target]);
    }
  });
});

describe.skipIf(skipUnless(tools.cargo()))('unusual input: a correct edit', () => {
  it('a read-only (0444) manifest: an error for users, an edit (mode kept) for root', async () => {
    await using dir = await tempDir('corpus');
    await writeTree(dir.path, smallTree());
    const file = path.join(dir.path, 'crates/core/Cargo.toml');
    await chmod(file, 0o444);
    const before = await all(dir.path);
    const r = await hotgen(dir.path, 'init');
    if (process.getuid?.() === 0) {
      expect(r.code, r.stderr).toBe(0);
      expect((await stat(file)).mode & 0o777).toBe(0o444);
      expect((await tomlOf(dir.path, 'crates/core/Cargo.toml')).lib['crate-type']).toEqual(['rlib', 'dylib']);
    } else {
      expect(r.code).toBe(1);
      expect(await all(dir.path)).toEqual(before);
    }
  });

  it('existing flake.nix and rust-toolchain.toml are kept, reported, replaced only with --force, restored by eject', async () => {
    await using dir = await tempDir('corpus');
    await writeTree(dir.path, { ...smallTree(), 'flake.nix': '{ outputs = { self }: { }; }\n', 'rust-toolchain.toml': '[toolchain]\nchannel = "1.80.0"\n' });
    const before = await all(dir.path);
    const r = await ok(dir.path);
    expect(r.stderr).toMatch(/rust-toolchain.toml pins 1.80.0/);
    expect(r.stdout).toMatch(/nix\/hotgen.nix/);
    const mid = await all(dir.path);
    expect(mid['flake.nix']).toBe(before['flake.nix']);
    expect(mid['rust-toolchain.toml']).toBe(before['rust-toolchain.toml']);
    expect(mid['nix/hotgen.nix']).toBeDefined();
    await ok(dir.path, '--force');
    expect(await readFile(path.join(dir.path, 'rust-toolchain.toml'), 'utf8')).toContain('nightly-2026-05-19');
    expect((await all(dir.path))['flake.nix']).not.toBe(before['flake.nix']);
    expect((await hotgen(dir.path, 'eject')).code).toBe(0);
    expect(await all(dir.path)).toEqual(before);
  });

  it('cargo-features and [profile.dev] rustflags already present are merged, not duplicated', async () => {
    await using dir = await tempDir('corpus');
    const tree = withFile(smallTree(), 'Cargo.toml', (s) =>
      'cargo-features = ["profile-rustflags", "trim-paths"]\n' + s.replace('opt-level = 0\n', 'opt-level = 0\nrustflags = ["-Cprefer-dynamic=true", "--cfg", "mine"]\n'),
    );
    await writeTree(dir.path, tree);
    await ok(dir.path);
    const t = await tomlOf(dir.path, 'Cargo.toml');
    expect(t['cargo-features']).toEqual(['profile-rustflags', 'trim-paths']);
    expect(t.profile.dev.rustflags).toEqual(['-Cprefer-dynamic=true', '--cfg', 'mine']);
    expect(t.profile.hot.rustflags).toEqual(['-Cprefer-dynamic=true', '--cfg', 'mine', '--cfg', 'hotgen', '--check-cfg', 'cfg(hotgen)', '-C', 'link-arg=-fuse-ld=mold']);
    await ok(dir.path, '--profile', 'dev');
    const d = await tomlOf(dir.path, 'Cargo.toml');
    expect(d.profile.hot).toBeUndefined();
    expect(d.profile.dev.rustflags).toEqual(t.profile.hot.rustflags);
  });

  it('CRLF line breaks, tab indentation, *.workspace = true and a path with spaces', async () => {
    await using base = await tempDir('corpus');
    const dir = path.join(base.path, 'my work space');
    const tree = smallTree({ eol: '\r\n', indent: '\t' });
    await writeTree(dir, tree);
    const r = await ok(dir, '--dry-run');
    expect(r.stdout).toContain('+cargo-features = ["profile-rustflags"]\r\n');
    await ok(dir);
    for (const rel of ['Cargo.toml', 'crates/app/Cargo.toml', 'crates/core/Cargo.toml']) {
      const text = await readFile(path.join(dir, rel), 'utf8');
      expect(text.replace(/\r\n/g, ''), rel).not.toContain('\n');
      const orig = tree[rel] as string;
      // Every original line is still there, in order.
      let at = 0;
      for (const line of orig.split('\r\n')) {
        at = text.indexOf(line, at);
        expect(at, `${rel}: ${line}`).toBeGreaterThanOrEqual(0);
      }
    }
    expect(await readFile(path.join(dir, 'Cargo.toml'), 'utf8')).toContain('[profile.dev]\r\n\topt-level = 0\r\n');
    expect(await readFile(path.join(dir, 'crates/app/Cargo.toml'), 'utf8')).toContain('version.workspace = true\r\nedition = { workspace = true }\r\n');
    const r2 = await hotgen(dir, 'init');
    expect(r2.stdout).toContain('nothing to change');
  });
});
