/**
 * init and eject as a library. With a stub renderer (so the policies, state and undo
 * are tested apart from the templates): init creates only hotgen's own files and edits
 * no workspace file, idempotence, dry run, re-init with changed settings, user files in
 * the way, user edits after init, exact eject, and the migration of a workspace an older
 * hotgen set up (edited manifests restored byte for byte). With the real renderer and
 * real cargo: an ordinary `cargo +stable build` sees no difference after init.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { sha256 } from '../../common/fsx.js';
import { CARGO_CONFIG_FILE, FLAKE_FILE, NIX_MODULE_FILE, TOOLCHAIN_FILE } from '../../common/layout.js';
import { UserError } from '../../common/errors.js';
import { checkFiles } from '../../generator/doctor.js';
import { ejectWorkspace } from '../../generator/eject.js';
import { initWorkspace, type Renderer } from '../../generator/init.js';
import { readPlan } from '../../common/plan-read.js';
import { entrySnippet } from '../../generator/render-impl.js';
import { readState, serializeState, STATE_FILE, type InitState } from '../../generator/state.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';
import { hashTree, tempDir, writeTree, type Tree } from '../helpers/tree.js';
import { smallTree } from './fixtures/small.js';

/**
 * Renders one file of each kind, at the real paths, as renderFiles does: nix/hotgen.nix
 * always, flake.nix (a thin wrapper that depends on no setting) only when the user has no
 * flake; content depends on the plan so changes show.
 */
const stub: Renderer = (plan, _g, { flakeExists }) => ({
  files: [
    ...(flakeExists ? [] : [{ path: FLAKE_FILE, kind: 'flake' as const, content: '# flake\n' }]),
    { path: NIX_MODULE_FILE, kind: 'flake-module', content: `# module ${plan.linker}\n` },
    { path: TOOLCHAIN_FILE, kind: 'toolchain', content: `[toolchain]\nchannel = "${plan.toolchain}"\n` },
    { path: CARGO_CONFIG_FILE, kind: 'cargo-config', content: `[profile.${plan.profile}]\ninherits = "dev"\n` },
    { path: '.envrc', kind: 'envrc', content: 'use flake\n' },
    { path: 'crates/app/src/hotgen_entry.rs', kind: 'entry-shim', content: `// shim for ${plan.entry}\n` },
  ],
  notes: [flakeExists ? 'add nix/hotgen.nix to your flake' : 'run nix develop'],
});

/** What init creates in the small workspace with the stub. */
const CREATED = ['.envrc', 'crates/app/src/hotgen_entry.rs', FLAKE_FILE, NIX_MODULE_FILE, 'hotgen.yaml', CARGO_CONFIG_FILE, TOOLCHAIN_FILE].sort();

const all = (dir: string) => hashTree(dir, ['target']);
const read = (dir: string, rel: string) => readFile(path.join(dir, rel), 'utf8');

/** `now` has every file of `before` with the same bytes (files may be added). */
function expectUntouched(before: Record<string, string>, now: Record<string, string>): void {
  for (const [f, h] of Object.entries(before)) expect(now[f], `${f} changed`).toBe(h);
}

describe.skipIf(skipUnless(tools.cargo()))('init and eject', () => {
  it('init only creates hotgen\'s files, a second init changes nothing, eject restores every byte', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, smallTree());
    const before = await all(dir.path);
    const r = await initWorkspace(dir.path, {}, stub);
    expect(r.plan.entry).toBe('app');
    expect(r.plan.toolchain).toBe('nightly-2026-05-19');
    expect(r.changes.map((c) => c.rel).sort()).toEqual(CREATED);
    expect(r.changes.every((c) => c.before === undefined)).toBe(true);
    const afterInit = await all(dir.path);
    expectUntouched(before, afterInit);
    expect(Object.keys(afterInit).filter((f) => !f.startsWith('.hotgen/')).sort()).toEqual([...Object.keys(before), ...CREATED].sort());
    expect((await readState(dir.path))!.files.every((e) => e.action === 'created')).toBe(true);
    expect(await read(dir.path, 'hotgen.yaml')).not.toMatch(/^toolchain:/m);
    expect((await readPlan(dir.path)).toolchain).toBe('nightly-2026-05-19');

    const stateMtime = (await stat(path.join(dir.path, STATE_FILE))).mtimeMs;
    const again = await initWorkspace(dir.path, {}, stub);
    expect(again.changes).toEqual([]);
    expect(await all(dir.path)).toEqual(afterInit);
    expect((await stat(path.join(dir.path, STATE_FILE))).mtimeMs).toBe(stateMtime);

    const ej = await ejectWorkspace(dir.path);
    expect(ej.warnings).toEqual([]);
    expect(ej.restored).toEqual([]);
    expect([...ej.removed].sort()).toEqual([...CREATED, '.hotgen/'].sort());
    expect(await all(dir.path)).toEqual(before);
    expect(existsSync(path.join(dir.path, 'hotgen'))).toBe(false);
  });

  it('--dry-run returns a unified diff of new files only and writes nothing', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, smallTree());
    const before = await all(dir.path);
    const r = await initWorkspace(dir.path, { dryRun: true, linker: 'lld' }, stub);
    expect(await all(dir.path)).toEqual(before);
    expect(existsSync(path.join(dir.path, '.hotgen'))).toBe(false);
    expect(r.diff).toContain('--- /dev/null\n+++ b/hotgen.yaml');
    expect(r.diff).toContain('--- /dev/null\n+++ b/hotgen/cargo-config.toml\n');
    expect(r.diff).toContain('+# module lld\n');
    expect(r.diff).not.toMatch(/^--- a\//m);
    expect(r.diff!.match(/^--- \/dev\/null$/gm)).toHaveLength(CREATED.length);
  });

  it('re-init with other settings rewrites hotgen\'s files only; eject still exact', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, smallTree());
    const before = await all(dir.path);
    await initWorkspace(dir.path, { frozen: ['core-lib'] }, stub);
    expect((await readPlan(dir.path)).crates.find((c) => c.name === 'core-lib')!.role).toBe('frozen');
    const r = await initWorkspace(dir.path, { linker: 'lld', frozen: [], profile: 'hotter', channel: 'stable' }, stub);
    expect(r.changes.map((c) => c.rel).sort()).toEqual([NIX_MODULE_FILE, 'hotgen.yaml', CARGO_CONFIG_FILE, TOOLCHAIN_FILE].sort());
    expect(await read(dir.path, NIX_MODULE_FILE)).toBe('# module lld\n');
    expect(await read(dir.path, CARGO_CONFIG_FILE)).toContain('[profile.hotter]');
    // A channel switch re-pins: the pin is read back from hotgen/rust-toolchain.toml.
    const plan = await readPlan(dir.path);
    expect(plan.toolchain).toMatch(/^1\.\d+(\.\d+)?$/);
    expect(await read(dir.path, TOOLCHAIN_FILE)).toContain(`channel = "${plan.toolchain}"`);
    expect(plan.crates.find((c) => c.name === 'core-lib')!.role).toBe('reloadable');
    expectUntouched(before, await all(dir.path));
    // hotgen.yaml now holds these settings: a plain re-run keeps them.
    expect((await initWorkspace(dir.path, {}, stub)).changes).toEqual([]);
    await ejectWorkspace(dir.path);
    expect(await all(dir.path)).toEqual(before);
  });

  it('the pin in hotgen/rust-toolchain.toml is the plan\'s toolchain: edit it and init keeps it', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, smallTree());
    await initWorkspace(dir.path, {}, stub);
    await writeFile(path.join(dir.path, TOOLCHAIN_FILE), '[toolchain]\nchannel = "nightly-2026-04-01"\n');
    const r = await initWorkspace(dir.path, {}, stub);
    expect(r.plan.toolchain).toBe('nightly-2026-04-01');
    expect(r.changes).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect((await readPlan(dir.path)).toolchain).toBe('nightly-2026-04-01');
    // What init would write now is hotgen's again: eject removes it without a warning.
    const ej = await ejectWorkspace(dir.path);
    expect(ej.warnings).toEqual([]);
    expect(ej.removed).toContain(TOOLCHAIN_FILE);
    expect(existsSync(path.join(dir.path, 'hotgen'))).toBe(false);
  });

  it('switching the entry removes the old shim; no manifest is touched', async () => {
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
    expect(r.changes.find((c) => c.rel === 'crates/app/src/hotgen_entry.rs')).toMatchObject({ kind: 'stale' });
    const now = await all(dir.path);
    expect(now['crates/app/src/hotgen_entry.rs']).toBeUndefined();
    expect(now['crates/core/src/hotgen_entry.rs']).toBeDefined();
    expectUntouched(before, now);
    expect((await initWorkspace(dir.path, {}, shimStub)).changes).toEqual([]);
    await ejectWorkspace(dir.path);
    expect(await all(dir.path)).toEqual(before);
  });

  it('keeps a user flake.nix and .envrc unless --force, never touches the user\'s rust-toolchain.toml; eject restores them', async () => {
    await using dir = await tempDir('init');
    const tree = smallTree();
    tree['flake.nix'] = '{ outputs = _: { }; }\n';
    tree['.envrc'] = 'export FOO=1\n';
    tree['rust-toolchain.toml'] = '[toolchain]\nchannel = "1.80.0"\n';
    await writeTree(dir.path, tree);
    const before = await all(dir.path);
    const r = await initWorkspace(dir.path, {}, stub);
    expectUntouched(before, await all(dir.path));
    expect(r.plan.toolchain).toBe('nightly-2026-05-19');
    expect(await read(dir.path, 'nix/hotgen.nix')).toContain('# module');
    expect(r.notes).toContain('add nix/hotgen.nix to your flake');
    expect(r.warnings.join('\n')).toMatch(/add the line `use flake`/);
    expect(r.warnings.join('\n')).not.toMatch(/rust-toolchain/);
    const forced = await initWorkspace(dir.path, { force: true }, stub);
    // nix/hotgen.nix is the same either way; --force adds the thin flake.nix over the user's.
    expect(forced.changes.map((c) => c.rel).sort()).toEqual(['.envrc', FLAKE_FILE]);
    expect(await read(dir.path, 'rust-toolchain.toml')).toBe(tree['rust-toolchain.toml']);
    expect((await initWorkspace(dir.path, {}, stub)).changes).toEqual([]);
    await ejectWorkspace(dir.path);
    expect(await all(dir.path)).toEqual(before);
  });

  it('a committed hotgen/rust-toolchain.toml is the pin; --force over one hotgen did not write is never taken for an old edit', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, { ...smallTree(), [TOOLCHAIN_FILE]: '# ours\n[toolchain]\nchannel = "nightly-2026-03-03"\n' });
    const before = await all(dir.path);
    const r = await initWorkspace(dir.path, {}, stub);
    expect(r.plan.toolchain).toBe('nightly-2026-03-03');
    expect(r.changes.map((c) => c.rel)).not.toContain(TOOLCHAIN_FILE);
    expect((await all(dir.path))[TOOLCHAIN_FILE]).toBe(before[TOOLCHAIN_FILE]);
    const forced = await initWorkspace(dir.path, { force: true }, stub);
    expect(forced.changes.map((c) => c.rel)).toEqual([TOOLCHAIN_FILE]);
    expect((await readState(dir.path))!.files.find((e) => e.path === TOOLCHAIN_FILE)!.action).toBe('edited');
    // Not an older hotgen's manifest edit: the next init leaves it, and doctor does not complain.
    const next = await initWorkspace(dir.path, {}, stub);
    expect(next.changes).toEqual([]);
    expect(next.notes.join('\n')).not.toMatch(/Restored/);
    expect((await checkFiles(dir.path, await readPlan(dir.path))).status).toBe('ok');
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

  it('generated files the user edited survive re-init and eject (with warnings); later manifest edits are the user\'s', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, smallTree());
    await initWorkspace(dir.path, {}, stub);
    await writeFile(path.join(dir.path, '.envrc'), 'use flake\nexport MINE=1\n');
    const tuned = '[profile.hot]\ninherits = "dev"\nopt-level = 1\n';
    await writeFile(path.join(dir.path, CARGO_CONFIG_FILE), tuned);
    const manifest = (await read(dir.path, 'crates/core/Cargo.toml')) + '# my later note\n';
    await writeFile(path.join(dir.path, 'crates/core/Cargo.toml'), manifest);
    const re = await initWorkspace(dir.path, {}, stub);
    expect(re.changes).toEqual([]);
    expect(re.warnings.join('\n')).toMatch(/kept \.envrc: you edited it/);
    expect(re.warnings.join('\n')).toMatch(/kept hotgen\/cargo-config\.toml: you edited it/);
    const ej = await ejectWorkspace(dir.path);
    expect([...ej.kept].sort()).toEqual(['.envrc', CARGO_CONFIG_FILE]);
    expect(ej.restored).toEqual([]);
    expect(ej.warnings).toHaveLength(2);
    expect(await read(dir.path, '.envrc')).toContain('MINE');
    expect(await read(dir.path, CARGO_CONFIG_FILE)).toBe(tuned);
    expect(await read(dir.path, 'crates/core/Cargo.toml')).toBe(manifest);
    const now = await all(dir.path);
    expect(now['flake.nix']).toBeUndefined();
    expect(now[TOOLCHAIN_FILE]).toBeUndefined();
    expect(existsSync(path.join(dir.path, '.hotgen'))).toBe(false);
  });

  it('a single-package crate: its manifest stays as it is, the shim goes beside src/lib.rs', async () => {
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
    expect(r.changes.every((c) => c.before === undefined)).toBe(true);
    expectUntouched(before, await all(dir.path));
    await ejectWorkspace(dir.path);
    expect(await all(dir.path)).toEqual(before);
  });

  it('a teammate\'s clone with hotgen\'s files committed (no .hotgen/) needs no change', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, { ...smallTree(), '.gitignore': 'target/\n' });
    const r1 = await initWorkspace(dir.path, {}, stub);
    expect(r1.notes.join('\n')).toContain('Add `.hotgen/` to .gitignore');
    await rm(path.join(dir.path, '.hotgen'), { recursive: true });
    const committed = await all(dir.path);
    const r2 = await initWorkspace(dir.path, {}, stub);
    expect(r2.changes).toEqual([]);
    expect(r2.warnings).toEqual([]);
    expect(await all(dir.path)).toEqual(committed);
    // A committed nix/hotgen.nix someone edited is theirs: kept, with a warning, not an error.
    await writeFile(path.join(dir.path, NIX_MODULE_FILE), '# module mold, tuned\n');
    const r3 = await initWorkspace(dir.path, {}, stub);
    expect(r3.changes.map((c) => c.rel)).toEqual([]);
    expect(r3.warnings).toEqual([`kept ${NIX_MODULE_FILE}: it is not what hotgen would write (pass --force to regenerate it)`]);
    expect(await read(dir.path, NIX_MODULE_FILE)).toBe('# module mold, tuned\n');
  });

  it('a write failing half-way is rolled back: every file as before, no state', async () => {
    await using dir = await tempDir('init');
    await writeTree(dir.path, { ...smallTree(), blocker: 'a file where a directory is needed\n' });
    const before = await hashTree(dir.path, ['target']);
    // The last rendered file cannot be created (its parent is a regular file), after the others were written.
    const failing: Renderer = (plan, g, o) => {
      const out = stub(plan, g, o);
      return { ...out, files: [...out.files, { path: 'blocker/late.txt', kind: 'envrc', content: 'x\n' }] };
    };
    // mkdir of blocker/ fails with ENOTDIR after the other files were written; the journal undoes them.
    await expect(initWorkspace(dir.path, {}, failing)).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(await hashTree(dir.path, ['target'])).toEqual(before);
    expect(existsSync(path.join(dir.path, '.hotgen'))).toBe(false);
    expect(existsSync(path.join(dir.path, 'hotgen'))).toBe(false);
  });

  it('eject without init is a user error', async () => {
    await using dir = await tempDir('init');
    await expect(ejectWorkspace(dir.path)).rejects.toThrow(/nothing to eject/);
  });
});

/** The small workspace as the hotgen before the rustc wrapper left it: edited manifests (originals saved), a root pin. */
async function legacyWorkspace(root: string): Promise<{ before: Record<string, string>; edited: Tree }> {
  const tree = smallTree();
  await writeTree(root, tree);
  const before = await all(root);
  const edited: Tree = {
    'Cargo.toml': 'cargo-features = ["profile-rustflags"]\n' + String(tree['Cargo.toml']) + '\n[profile.hot]\ninherits = "dev"\nrustflags = ["--cfg", "hotgen", "-C", "prefer-dynamic"]\n',
    'crates/core/Cargo.toml': String(tree['crates/core/Cargo.toml']).replace('[dependencies]', '[lib]\ncrate-type = ["rlib", "dylib"]\n\n[dependencies]'),
    'crates/app/Cargo.toml': String(tree['crates/app/Cargo.toml']).replace('[dependencies]', '[lib]\ncrate-type = ["rlib", "dylib"]\n\n[dependencies]'),
  };
  const created: Tree = {
    'rust-toolchain.toml': '[toolchain]\nchannel = "nightly-2026-02-02"\ncomponents = ["rust-src", "rust-analyzer"]\n',
    'hotgen.yaml':
      'version: 1\nentry: app\nfrozen: []\nexclude: []\nlisten: []\nlinker: mold\nchannel: nightly\n# the pin\ntoolchain: nightly-2026-02-02\nprofile: hot\nstop_timeout_ms: 5000\n' +
      'crates:\n  - { name: core-lib, role: reloadable, lib: core_lib, deps: [], src: [ crates/core/src ] }\n  - { name: app, role: entry, lib: app, deps: [ core-lib ], src: [ crates/app/src ] }\n',
  };
  const state: InitState = { version: 1, files: [], dirs: [] };
  for (const [rel, text] of Object.entries(edited)) {
    await mkdir(path.dirname(path.join(root, '.hotgen', 'originals', rel)), { recursive: true });
    await writeFile(path.join(root, '.hotgen', 'originals', rel), tree[rel]!);
    state.files.push({ path: rel, action: 'edited', writtenSha: sha256(String(text)), originalSha: sha256(String(tree[rel])) });
  }
  for (const [rel, text] of Object.entries(created)) state.files.push({ path: rel, action: 'created', writtenSha: sha256(String(text)) });
  await writeTree(root, { ...edited, ...created, [STATE_FILE]: serializeState(state) });
  return { before, edited };
}

describe.skipIf(skipUnless(tools.cargo()))('a workspace the older hotgen set up (edited manifests)', () => {
  it('doctor names the edited manifests; init restores them byte for byte and moves the pin to hotgen/', async () => {
    await using dir = await tempDir('legacy');
    const { before } = await legacyWorkspace(dir.path);
    const files = await checkFiles(dir.path, await readPlan(dir.path));
    expect(files.status).toBe('fail');
    expect(files.summary).toContain('Cargo.toml, crates/app/Cargo.toml, crates/core/Cargo.toml still carry the edits of an older hotgen');
    expect(files.hint).toBe('Run `hotgen init`, which restores them.');

    const r = await initWorkspace(dir.path, {}, stub);
    expect(r.notes.join('\n')).toMatch(/Restored Cargo\.toml, crates\/app\/Cargo\.toml, crates\/core\/Cargo\.toml as they were before hotgen/);
    expect(r.plan.toolchain).toBe('nightly-2026-02-02');
    const restored = r.changes.filter((c) => c.kind === 'restore').map((c) => c.rel).sort();
    expect(restored).toEqual(['Cargo.toml', 'crates/app/Cargo.toml', 'crates/core/Cargo.toml']);
    expect(r.changes.find((c) => c.rel === 'rust-toolchain.toml')).toMatchObject({ kind: 'stale' });
    const now = await all(dir.path);
    expectUntouched(before, now);
    expect(now['rust-toolchain.toml']).toBeUndefined();
    expect(await read(dir.path, TOOLCHAIN_FILE)).toContain('channel = "nightly-2026-02-02"');
    const yaml = await read(dir.path, 'hotgen.yaml');
    expect(yaml).not.toMatch(/^toolchain:/m);
    expect(yaml).toMatch(/^linker: mold$/m);
    expect(existsSync(path.join(dir.path, '.hotgen', 'originals'))).toBe(false);
    expect((await readState(dir.path))!.files.some((e) => e.action === 'edited')).toBe(false);
    expect((await checkFiles(dir.path, await readPlan(dir.path))).status).toBe('ok');
    expect((await initWorkspace(dir.path, {}, stub)).changes).toEqual([]);

    await ejectWorkspace(dir.path);
    expect(await all(dir.path)).toEqual(before);
  });

  it('a manifest changed after the old init is restored, the user\'s version kept beside it', async () => {
    await using dir = await tempDir('legacy');
    const { before, edited } = await legacyWorkspace(dir.path);
    const mine = String(edited['crates/core/Cargo.toml']) + '# my note\n';
    await writeFile(path.join(dir.path, 'crates/core/Cargo.toml'), mine);
    const r = await initWorkspace(dir.path, {}, stub);
    expect(r.warnings.join('\n')).toMatch(/crates\/core\/Cargo\.toml was changed after the old init; restored the original and kept your version as crates\/core\/Cargo\.toml\.hotgen-ejected/);
    expectUntouched(before, await all(dir.path));
    expect(await read(dir.path, 'crates/core/Cargo.toml.hotgen-ejected')).toBe(mine);
  });

  it('eject restores the old edits byte for byte without an init first', async () => {
    await using dir = await tempDir('legacy');
    const { before } = await legacyWorkspace(dir.path);
    const ej = await ejectWorkspace(dir.path);
    expect([...ej.restored].sort()).toEqual(['Cargo.toml', 'crates/app/Cargo.toml', 'crates/core/Cargo.toml']);
    expect([...ej.removed].sort()).toEqual(['.hotgen/', 'hotgen.yaml', 'rust-toolchain.toml']);
    expect(ej.warnings).toEqual([]);
    expect(await all(dir.path)).toEqual(before);
  });
});

/** `cargo +stable build` in `dir`: its exit code and the warning lines of its stderr. */
async function stableBuild(dir: string, ...args: string[]): Promise<{ code: number | null; warnings: string[]; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, RUSTUP_AUTO_INSTALL: '0', CARGO_TERM_COLOR: 'never' };
  for (const k of ['RUSTUP_TOOLCHAIN', 'RUSTC_BOOTSTRAP', 'RUSTFLAGS', 'CARGO_TARGET_DIR', 'RUSTC_WRAPPER']) delete env[k];
  const r = await run('cargo', ['+stable', 'build', '--offline', ...args], { cwd: dir, env, allowFailure: true, timeoutMs: 300_000 });
  return { code: r.code, warnings: r.stderr.split('\n').filter((l) => /^warning/.test(l)), stderr: r.stderr };
}

describe.skipIf(skipUnless(tools.cargo(), missingTool('cargo', ['+stable', '--version'])))('ordinary builds after a real init', () => {
  it('every workspace file is byte-identical, `cargo +stable build` works with no new warning, the hot profile exists only with --config', async () => {
    await using dir = await tempDir('init-real');
    const tree = smallTree();
    // The entry already has what init's note says to add (so the shim is referenced).
    tree['crates/app/src/lib.rs'] = `${String(tree['crates/app/src/lib.rs'])}\n${entrySnippet().join('\n')}\n`;
    await writeTree(dir.path, tree);
    const plain = await stableBuild(dir.path);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.warnings).toEqual([]);
    const before = await hashTree(dir.path, ['target', 'Cargo.lock']);

    const r = await initWorkspace(dir.path, {});
    expect(r.changes.every((c) => c.before === undefined), r.changes.map((c) => c.rel).join()).toBe(true);
    expect(r.changes.map((c) => c.rel).sort()).toEqual(['.envrc', 'crates/app/src/hotgen_entry.rs', FLAKE_FILE, NIX_MODULE_FILE, 'hotgen.yaml', CARGO_CONFIG_FILE, TOOLCHAIN_FILE].sort());
    expectUntouched(before, await hashTree(dir.path, ['target', 'Cargo.lock']));

    const after = await stableBuild(dir.path);
    expect(after.code, after.stderr).toBe(0);
    expect(after.warnings).toEqual([]);
    // The hot profile lives in hotgen's config file, not in the workspace.
    expect((await stableBuild(dir.path, '--profile', 'hot')).stderr).toMatch(/profile `hot` is not defined/);
    const hot = await stableBuild(dir.path, '--config', CARGO_CONFIG_FILE, '--profile', 'hot');
    expect(hot.code, hot.stderr).toBe(0);
    expect(hot.warnings).toEqual([]);
    expect(existsSync(path.join(dir.path, 'target', 'hot'))).toBe(true);
  });
});
