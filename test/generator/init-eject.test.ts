/**
 * init and eject as a library, with a stub renderer (so the policies, state and undo
 * are tested apart from the templates): idempotence, dry run, re-init with changed
 * settings, user files in the way, user edits after init, exact eject.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseToml } from '../../common/deps.js';
import { UserError } from '../../common/errors.js';
import { ejectWorkspace } from '../../generator/eject.js';
import { initWorkspace, type Renderer } from '../../generator/init.js';
import { STATE_FILE } from '../../generator/state.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { hashTree, tempDir, writeTree } from '../helpers/tree.js';
import { smallTree } from './fixtures/small.js';

/** Renders one file of each kind; content depends on the plan so changes show. */
const stub: Renderer = (plan, _g, { flakeExists }) => ({
  files: [
    flakeExists
      ? { path: 'nix/hotgen.nix', kind: 'flake-module', content: `# module ${plan.toolchain}\n` }
      : { path: 'flake.nix', kind: 'flake', content: `# flake ${plan.toolchain} ${plan.linker}\n` },
    { path: 'rust-toolchain.toml', kind: 'toolchain', content: `[toolchain]\nchannel = "${plan.toolchain}"\n` },
    { path: '.envrc', kind: 'envrc', content: 'use flake\n' },
    { path: 'crates/app/src/hotgen_entry.rs', kind: 'entry-shim', content: `// shim for ${plan.entry}\n` },
  ],
  notes: [flakeExists ? 'add nix/hotgen.nix to your flake' : 'run nix develop'],
});

const all = (dir: string) => hashTree(dir, ['target']);
const read = (dir: string, rel: string) => readFile(path.join(dir, rel), 'utf8');

describe.skipIf(skipUnless(tools.cargo()))('init and eject', () => {
  it('init edits and creates, a second init changes nothing, eject restores every byte', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, smallTree());
    const before = await all(dir.path);
    const r = await initWorkspace(dir.path, {}, stub);
    expect(r.plan.entry).toBe('app');
    expect(r.changes.map((c) => c.rel).sort()).toEqual(
      ['.envrc', 'Cargo.toml', 'crates/app/Cargo.toml', 'crates/app/src/hotgen_entry.rs', 'crates/core/Cargo.toml', 'flake.nix', 'hotgen.yaml', 'rust-toolchain.toml'],
    );
    const root = parseToml(await read(dir.path, 'Cargo.toml')) as Record<string, any>;
    expect(root.profile.hot.package.app.rustflags).toContain('hotgen_entry');
    expect((parseToml(await read(dir.path, 'crates/core/Cargo.toml')) as any).lib['crate-type']).toEqual(['rlib', 'dylib']);

    const afterInit = await all(dir.path);
    const stateMtime = (await stat(path.join(dir.path, STATE_FILE))).mtimeMs;
    const again = await initWorkspace(dir.path, {}, stub);
    expect(again.changes).toEqual([]);
    expect(await all(dir.path)).toEqual(afterInit);
    expect((await stat(path.join(dir.path, STATE_FILE))).mtimeMs).toBe(stateMtime);

    const ej = await ejectWorkspace(dir.path);
    expect(ej.warnings).toEqual([]);
    expect(await all(dir.path)).toEqual(before);
  });

  it('--dry-run returns a unified diff and writes nothing', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, smallTree());
    const before = await all(dir.path);
    const r = await initWorkspace(dir.path, { dryRun: true, linker: 'lld' }, stub);
    expect(await all(dir.path)).toEqual(before);
    expect(r.diff).toContain('--- a/Cargo.toml\n+++ b/Cargo.toml\n');
    expect(r.diff).toContain('+cargo-features = ["profile-rustflags"]\n # A small workspace\n');
    expect(r.diff).toContain('+    "-C", "link-arg=-fuse-ld=lld",');
    expect(r.diff).toContain('--- /dev/null\n+++ b/hotgen.yaml');
  });

  it('re-init with other settings starts from the originals: no stale flags, eject still exact', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, smallTree());
    const before = await all(dir.path);
    await initWorkspace(dir.path, { frozen: ['core-lib'] }, stub);
    expect(await read(dir.path, 'Cargo.toml')).toContain('[profile.hot.package.core-lib]');
    const r = await initWorkspace(dir.path, { linker: 'lld', frozen: [] }, stub);
    const text = await read(dir.path, 'Cargo.toml');
    expect(text).not.toContain('mold');
    expect(text).not.toContain('[profile.hot.package.core-lib]');
    expect(text).toContain('link-arg=-fuse-ld=lld');
    expect(r.changes.map((c) => c.rel)).toContain('flake.nix');
    // hotgen.yaml now holds linker lld: a plain re-run keeps it.
    expect((await initWorkspace(dir.path, {}, stub)).changes).toEqual([]);
    await ejectWorkspace(dir.path);
    expect(await all(dir.path)).toEqual(before);
  });

  it('switching the entry removes the old shim and restores a manifest that left the hot set', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, smallTree());
    const before = await all(dir.path);
    await initWorkspace(dir.path, {}, stub);
    const shimStub: Renderer = (plan, g, o) => {
      const out = stub(plan, g, o);
      return { ...out, files: out.files.map((f) => (f.kind === 'entry-shim' ? { ...f, path: `crates/${plan.entry === 'app' ? 'app' : 'core'}/src/hotgen_entry.rs` } : f)) };
    };
    const dry = await initWorkspace(dir.path, { entry: 'core-lib', dryRun: true }, shimStub);
    expect(dry.diff).toContain('--- a/crates/app/src/hotgen_entry.rs\n+++ /dev/null');
    const r = await initWorkspace(dir.path, { entry: 'core-lib' }, shimStub);
    expect(r.plan.crates.find((c) => c.name === 'app')!.role).toBe('excluded');
    const now = await all(dir.path);
    expect(now['crates/app/src/hotgen_entry.rs']).toBeUndefined();
    expect(now['crates/core/src/hotgen_entry.rs']).toBeDefined();
    expect(now['crates/app/Cargo.toml']).toBe(before['crates/app/Cargo.toml']);
    expect(await read(dir.path, 'Cargo.toml')).toContain('[profile.hot.package.core-lib]');
    expect(await read(dir.path, 'Cargo.toml')).not.toContain('[profile.hot.package.app]');
    expect((await initWorkspace(dir.path, {}, shimStub)).changes).toEqual([]);
    await ejectWorkspace(dir.path);
    expect(await all(dir.path)).toEqual(before);
  });

  it('keeps a user flake.nix, .envrc and rust-toolchain.toml unless --force; eject restores them', async () => {
    await using dir = await tempDir('init');
    const tree = smallTree();
    tree['flake.nix'] = '{ outputs = _: { }; }\n';
    tree['.envrc'] = 'export FOO=1\n';
    tree['rust-toolchain.toml'] = '[toolchain]\nchannel = "1.80.0"\n';
    await writeTree(dir.path, tree);
    const before = await all(dir.path);
    const r = await initWorkspace(dir.path, {}, stub);
    for (const f of ['flake.nix', '.envrc', 'rust-toolchain.toml']) expect((await all(dir.path))[f]).toBe(before[f]);
    expect(await read(dir.path, 'nix/hotgen.nix')).toContain('# module');
    expect(r.notes).toContain('add nix/hotgen.nix to your flake');
    expect(r.warnings.join('\n')).toMatch(/rust-toolchain.toml pins 1.80.0, not nightly-2026-05-19; kept it \(pass --force/);
    expect(r.warnings.join('\n')).toMatch(/add the line `use flake`/);
    const forced = await initWorkspace(dir.path, { force: true }, stub);
    expect(forced.changes.map((c) => c.rel).sort()).toEqual(['.envrc', 'flake.nix', 'nix/hotgen.nix', 'rust-toolchain.toml']);
    expect(forced.changes.find((c) => c.rel === 'nix/hotgen.nix')!.after).toBeUndefined();
    expect(await read(dir.path, 'rust-toolchain.toml')).toContain('nightly-2026-05-19');
    await ejectWorkspace(dir.path);
    expect(await all(dir.path)).toEqual(before);
  });

  it('an entry shim hotgen did not write stops init before any write', async () => {
    await using dir = await tempDir('init');
    const tree = smallTree();
    tree['crates/app/src/hotgen_entry.rs'] = '// mine\n';
    await writeTree(dir.path, tree);
    const before = await all(dir.path);
    const err = await initWorkspace(dir.path, {}, stub).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).opts.file).toBe('crates/app/src/hotgen_entry.rs');
    expect(await all(dir.path)).toEqual(before);
  });

  it('eject keeps a generated file the user edited, and keeps their copy of an edited manifest', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, smallTree());
    const before = await all(dir.path);
    await initWorkspace(dir.path, {}, stub);
    await writeFile(path.join(dir.path, '.envrc'), 'use flake\nexport MINE=1\n');
    const manifest = (await read(dir.path, 'crates/core/Cargo.toml')) + '# my later note\n';
    await writeFile(path.join(dir.path, 'crates/core/Cargo.toml'), manifest);
    // A re-init merges into the user's text and keeps the user's .envrc.
    const re = await initWorkspace(dir.path, {}, stub);
    expect(re.changes).toEqual([]);
    expect(re.warnings.join('\n')).toMatch(/kept \.envrc: you edited it/);
    const ej = await ejectWorkspace(dir.path);
    expect(ej.kept).toEqual(['.envrc']);
    expect(ej.warnings.join('\n')).toMatch(/crates\/core\/Cargo.toml was changed after init/);
    const now = await all(dir.path);
    expect(now['crates/core/Cargo.toml']).toBe(before['crates/core/Cargo.toml']);
    expect(await read(dir.path, 'crates/core/Cargo.toml.hotgen-ejected')).toBe(manifest);
    expect(await read(dir.path, '.envrc')).toContain('MINE');
    expect(now['flake.nix']).toBeUndefined();
  });

  it('a single-package crate: the root manifest gets the profile and [lib] edits together', async () => {
    await using dir = await tempDir('init');
    const tree = {
      'Cargo.toml': '[package]\nname = "solo"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n',
      'src/lib.rs': 'pub fn f() {}\n',
      'src/main.rs': 'fn main() { solo::f() }\n',
    };
    await writeTree(dir.path, tree);
    const before = await all(dir.path);
    const r = await initWorkspace(dir.path, {}, (plan, g, o) => {
      const out = stub(plan, g, o);
      return { ...out, files: out.files.map((f) => (f.kind === 'entry-shim' ? { ...f, path: 'src/hotgen_entry.rs' } : f)) };
    });
    expect(r.plan.entry).toBe('solo');
    const t = parseToml(await read(dir.path, 'Cargo.toml')) as Record<string, any>;
    expect(t['cargo-features']).toEqual(['profile-rustflags']);
    expect(t.lib['crate-type']).toEqual(['rlib', 'dylib']);
    expect(t.profile.hot.package.solo.rustflags).toContain('hotgen_entry');
    expect(t.package).toEqual({ name: 'solo', version: '0.1.0', edition: '2021' });
    await ejectWorkspace(dir.path);
    expect(await all(dir.path)).toEqual(before);
  });

  it('a teammate\'s clone with hotgen\'s files committed (no .hotgen/) needs no change', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, { ...smallTree(), '.gitignore': 'target/\n' });
    const r1 = await initWorkspace(dir.path, {}, stub);
    expect(r1.notes.join('\n')).toContain('Add `.hotgen/` to .gitignore');
    await (await import('node:fs/promises')).rm(path.join(dir.path, '.hotgen'), { recursive: true });
    const committed = await all(dir.path);
    const r2 = await initWorkspace(dir.path, {}, stub);
    expect(r2.changes).toEqual([]);
    expect(r2.warnings).toEqual([]);
    expect(await all(dir.path)).toEqual(committed);
  });

  it('a write failing half-way is rolled back: every file as before, no state', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, { ...smallTree(), blocker: 'a file where a directory is needed\n' });
    const before = await hashTree(dir.path, ['target']);
    // The last rendered file cannot be created (its parent is a regular file), after the manifests were written.
    const failing: Renderer = (plan, g, o) => {
      const out = stub(plan, g, o);
      return { ...out, files: [...out.files, { path: 'blocker/late.txt', kind: 'envrc', content: 'x\n' }] };
    };
    await expect(initWorkspace(dir.path, {}, failing)).rejects.toThrow();
    expect(await hashTree(dir.path, ['target'])).toEqual(before);
    expect(existsSync(path.join(dir.path, '.hotgen'))).toBe(false);
  });

  it('eject without init is a user error', async () => {
    await using dir = await tempDir('init');
    await expect(ejectWorkspace(dir.path)).rejects.toThrow(/nothing to eject/);
  });
});
