/**
 * The bad-input corpus (issue 2), through the real CLI: each case ends in a correct
 * init (hotgen's files created, every workspace file's bytes unchanged), or a one-line
 * error with a non-zero exit and every file's bytes unchanged.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseToml } from '../../common/deps-config.js';
import { CARGO_CONFIG_FILE, TOOLCHAIN_FILE } from '../../common/layout.js';
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

/** `now` has every file of `before` with the same bytes (init adds files, never edits one). */
function expectUntouched(before: Record<string, string>, now: Record<string, string>): void {
  for (const [f, h] of Object.entries(before)) expect(now[f], `${f} changed`).toBe(h);
}

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

  it('a directory init must write into is immutable (chattr +i; fails even for root); an immutable manifest is no obstacle', async (ctx) => {
    await using dir = await tempDir('corpus');
    await writeTree(dir.path, smallTree());
    const srcDir = path.join(dir.path, 'crates/app/src');
    const manifest = path.join(dir.path, 'crates/core/Cargo.toml');
    try {
      execFileSync('chattr', ['+i', srcDir], { stdio: 'ignore' });
    } catch {
      if (process.env.HOTGEN_REQUIRE_TOOLS === '1') throw new Error('chattr +i is not supported here (HOTGEN_REQUIRE_TOOLS=1)');
      ctx.skip('chattr +i is not supported on this file system');
    }
    try {
      const before = await all(dir.path);
      const r = await hotgen(dir.path, 'init');
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe('hotgen: crates/app/src/hotgen_entry.rs: the directory of this file is not writable (nothing was changed)');
      expect(await all(dir.path)).toEqual(before);
      expect(existsSync(path.join(dir.path, '.hotgen'))).toBe(false);
      execFileSync('chattr', ['-i', srcDir]);
      // init writes no manifest, so an immutable one changes nothing.
      execFileSync('chattr', ['+i', manifest]);
      const ok2 = await hotgen(dir.path, 'init');
      expect(ok2.code, ok2.stderr).toBe(0);
      expect((await all(dir.path))['crates/core/Cargo.toml']).toBe(before['crates/core/Cargo.toml']);
    } finally {
      execFileSync('chattr', ['-i', srcDir]);
      execFileSync('chattr', ['-i', manifest]);
    }
  });
});

describe.skipIf(skipUnless(tools.cargo()))('unusual input: init succeeds and no workspace file changes', () => {
  it('a read-only (0444) manifest stays as it is, mode included', async () => {
    await using dir = await tempDir('corpus');
    await writeTree(dir.path, smallTree());
    const file = path.join(dir.path, 'crates/core/Cargo.toml');
    await chmod(file, 0o444);
    const before = await all(dir.path);
    const r = await ok(dir.path);
    expect(r.stdout).not.toMatch(/^edited /m);
    expect((await stat(file)).mode & 0o777).toBe(0o444);
    expectUntouched(before, await all(dir.path));
  });

  it('an existing flake.nix is kept (nix/hotgen.nix instead) and replaced only with --force; a root rust-toolchain.toml is never touched; eject restores all', async () => {
    await using dir = await tempDir('corpus');
    await writeTree(dir.path, { ...smallTree(), 'flake.nix': '{ outputs = { self }: { }; }\n', 'rust-toolchain.toml': '[toolchain]\nchannel = "1.80.0"\n' });
    const before = await all(dir.path);
    const r = await ok(dir.path);
    expect(r.stderr).not.toMatch(/rust-toolchain/);
    expect(r.stdout).toMatch(/nix\/hotgen.nix/);
    const mid = await all(dir.path);
    expectUntouched(before, mid);
    expect(mid['nix/hotgen.nix']).toBeDefined();
    expect(await readFile(path.join(dir.path, TOOLCHAIN_FILE), 'utf8')).toContain('channel = "nightly-2026-05-19"');
    await ok(dir.path, '--force');
    expect(await readFile(path.join(dir.path, 'rust-toolchain.toml'), 'utf8')).toBe('[toolchain]\nchannel = "1.80.0"\n');
    expect((await all(dir.path))['flake.nix']).not.toBe(before['flake.nix']);
    expect((await hotgen(dir.path, 'eject')).code).toBe(0);
    expect(await all(dir.path)).toEqual(before);
  });

  it('workspace lints declaring cfgs and a [profile.hot] of the workspace\'s own are left as they are', async () => {
    await using dir = await tempDir('corpus');
    const tree = withFile(smallTree(), 'Cargo.toml', (s) =>
      s.replace('opt-level = 0\n', 'opt-level = 0\ndebug = "limited"\n') +
        "\n[profile.hot]\ninherits = \"release\"\n\n[workspace.lints.rust]\nunexpected_cfgs = { level = \"warn\", check-cfg = ['cfg(mine)'] }\n",
    );
    await writeTree(dir.path, tree);
    const before = await all(dir.path);
    await ok(dir.path);
    await ok(dir.path, '--profile', 'dev');
    expectUntouched(before, await all(dir.path));
    expect(parseToml(await readFile(path.join(dir.path, CARGO_CONFIG_FILE), 'utf8'))).toEqual({});
    await ok(dir.path, '--profile', 'hot');
    expect(parseToml(await readFile(path.join(dir.path, CARGO_CONFIG_FILE), 'utf8'))).toEqual({ profile: { hot: { inherits: 'dev' } } });
  });

  it('CRLF line breaks, tab indentation, *.workspace = true and a path with spaces: every byte kept', async () => {
    await using base = await tempDir('corpus');
    const dir = path.join(base.path, 'my work space');
    const tree = smallTree({ eol: '\r\n', indent: '\t' });
    await writeTree(dir, tree);
    const before = await all(dir);
    const r = await ok(dir, '--dry-run');
    expect(r.stdout).not.toMatch(/^--- a\//m);
    expect(r.stdout).toMatch(/^\+\+\+ b\/hotgen\/cargo-config\.toml$/m);
    expect(await all(dir)).toEqual(before);
    await ok(dir);
    expectUntouched(before, await all(dir));
    const r2 = await hotgen(dir, 'init');
    expect(r2.stdout).toContain('nothing to change');
  });
});
