/** loadWorkspace against real `cargo metadata`: members, targets, renamed path deps, order, errors. */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { UserError } from '../../common/errors.js';
import { loadWorkspace, parseManifest } from '../../generator/workspace.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree, type Tree } from '../helpers/tree.js';
import { conduwuitTree } from './fixtures/conduwuit.js';
import { smallTree } from './fixtures/small.js';

async function loadErr(tree: Tree, sub = ''): Promise<UserError> {
  await using dir = await tempDir('ws');
  await writeTree(dir.path, tree);
  const err = await loadWorkspace(path.join(dir.path, sub)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  expect((err as Error).message).not.toContain('\n');
  return err as UserError;
}

describe.skipIf(skipUnless(tools.cargo()))('loadWorkspace', () => {
  it('reads the conduwuit-shaped workspace: renamed deps, proc-macro, bin-only, order', async () => {
    await using dir = await tempDir('ws');
    await writeTree(dir.path, conduwuitTree());
    const g = await loadWorkspace(dir.path);
    expect(g.root).toBe(dir.path);
    expect(g.virtual).toBe(true);
    expect(g.targetDir).toBe(path.join(dir.path, 'target'));
    expect([...g.crates.keys()].sort()).toEqual(['conduwuit', 'conduwuit_admin', 'conduwuit_api', 'conduwuit_core', 'conduwuit_database', 'conduwuit_macros', 'conduwuit_router', 'conduwuit_service']);
    const router = g.crates.get('conduwuit_router')!;
    expect(router.deps).toEqual(['conduwuit_admin', 'conduwuit_api', 'conduwuit_core', 'conduwuit_service']);
    expect(router.libSrcPath).toBe(path.join(dir.path, 'src/router/mod.rs'));
    expect(g.crates.get('conduwuit_macros')!.procMacro).toBe(true);
    const bin = g.crates.get('conduwuit')!;
    expect(bin.libName).toBeUndefined();
    expect(bin.bins).toEqual(['conduwuit']);
    for (const [name, c] of g.crates) for (const d of c.deps) expect(g.order.indexOf(d), `${d} before ${name}`).toBeLessThan(g.order.indexOf(name));
  });

  it('resolves `alias = { package = ..., path = ... }` and ignores dev-dependency cycles', async () => {
    await using dir = await tempDir('ws');
    const tree = smallTree();
    tree['crates/core/Cargo.toml'] += '\n[dev-dependencies]\napp = { path = "../app" }\n';
    await writeTree(dir.path, tree);
    const g = await loadWorkspace(path.join(dir.path, 'crates/app'));
    expect(g.root).toBe(dir.path);
    expect(g.crates.get('app')!.deps).toEqual(['core-lib']);
    expect(g.crates.get('core-lib')!.libName).toBe('core_lib');
    expect(g.order).toEqual(['core-lib', 'app']);
  });

  it('a manifest starting with a UTF-8 byte order mark reads as cargo reads it', async () => {
    await using dir = await tempDir('ws');
    const tree = smallTree();
    tree['crates/core/Cargo.toml'] = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(String(tree['crates/core/Cargo.toml']))]);
    await writeTree(dir.path, tree);
    const g = await loadWorkspace(dir.path);
    expect(g.crates.get('core-lib')!.libName).toBe('core_lib');
    expect(parseManifest('\uFEFF[package]\nname = "x"\n', 'Cargo.toml')).toEqual({ package: { name: 'x' } });
  });

  it('a path-dependency cycle prints the cycle', async () => {
    const tree = smallTree();
    tree['crates/core/Cargo.toml'] += 'app = { path = "../app" }\n';
    expect((await loadErr(tree)).message).toMatch(/^path-dependency cycle: (app -> core-lib -> app|core-lib -> app -> core-lib)$/);
  });

  it('malformed TOML in the root or a member names the file and line', async () => {
    const root = smallTree();
    root['Cargo.toml'] = (root['Cargo.toml'] as string).replace('resolver = "2"', 'resolver = "2');
    const e1 = await loadErr(root);
    expect(e1.opts.file).toMatch(/(^|\/)Cargo\.toml$/);
    expect(e1.opts.line).toBe(3);
    expect(e1.message).toMatch(/^invalid TOML/);
    const member = smallTree();
    member['crates/core/Cargo.toml'] = '[package]\nname = "core-lib"\nversion = [\n';
    const e2 = await loadErr(member);
    expect(e2.opts.file).toMatch(/crates\/core\/Cargo\.toml$/);
    expect(e2.opts.line).toBe(4);
  });

  it('no Cargo.toml, and a virtual manifest without members, are clear errors', async () => {
    expect((await loadErr({ 'README.md': 'x' })).message).toMatch(/^no Cargo.toml in /);
    const e = await loadErr({ 'Cargo.toml': '[workspace]\nresolver = "2"\n' });
    expect(e.message).toMatch(/virtual manifest has no members/);
    expect(e.opts.file).toMatch(/Cargo\.toml$/);
    const none = await loadErr({ 'Cargo.toml': '[workspace]\nmembers = ["nothing/*"]\n' });
    expect(none.message).toBe('`[workspace] members`: no directory matching "nothing/*" has a Cargo.toml');
    expect(none.opts.file).toMatch(/(^|\/)Cargo\.toml$/);
  });

  it('a directory a `members` glob matches without a Cargo.toml is named, with the way out', async () => {
    const tree = smallTree();
    tree['crates/docs/README.md'] = 'not a crate\n';
    const e = await loadErr(tree);
    expect(e.message).toBe('`[workspace] members` entry "crates/*" matches "crates/docs", which has no Cargo.toml');
    expect(e.opts.hint).toContain('`[workspace] exclude`');
  });

  it('membership is cargo\'s: `exclude` removes a directory the `crates/*` glob matches', async () => {
    await using dir = await tempDir('ws');
    const tree = smallTree();
    tree['Cargo.toml'] = (tree['Cargo.toml'] as string).replace(/members = \[[^\]]*\]/, 'members = ["crates/*"]\nexclude = ["crates/skip"]');
    // A broken manifest too: cargo never reads an excluded directory, and neither may hotgen.
    tree['crates/skip/Cargo.toml'] = '[package]\nname = "skip"\nversion = [\n';
    tree['crates/skip/src/lib.rs'] = '';
    await writeTree(dir.path, tree);
    const g = await loadWorkspace(dir.path);
    expect([...g.crates.keys()].sort()).toEqual(['app', 'core-lib']);
    expect(g.order).toEqual(['core-lib', 'app']);
  });
});
