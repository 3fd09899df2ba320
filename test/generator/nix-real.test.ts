/**
 * Every generated flake variant against the real rust-overlay and the real nixpkgs lib
 * (test/nix/real-standins.ts; offline, builders stubbed): `nix flake check --no-build`,
 * the dev shell, the check and the formatter instantiate, the toolchain is the one
 * hotgen/rust-toolchain.toml pins (through nix/hotgen.nix itself), vendoring goes through
 * importCargoLock and cargoSetupHook, and a pin rust-overlay does not know stops
 * evaluation naming it. The runnable stand-ins (nix.test.ts) build and enter the same files.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import path from 'node:path';
import { NIX_MODULE_FILE } from '../../common/layout.js';
import type { Linker } from '../../common/types.js';
import { nixString } from '../../generator/render-impl.js';
import { skipUnless } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { NixEnv, nixMissing, nixSystem, pathRef } from '../nix/nixenv.js';
import { fixtureTree, type FixtureOptions } from '../nix/fixtures.js';
import { realStandins, realStandinsMissing, type RealStandins } from '../nix/real-standins.js';

const SYSTEM = nixSystem();
const NIGHTLY = /^rust-default-1\.\d+\.\d+-nightly-2026-05-19$/;

describe.skipIf(skipUnless(nixMissing(), realStandinsMissing()))('generated flakes against the real rust-overlay and nixpkgs lib', () => {
  let nix: NixEnv;
  let tmp: { path: string } & AsyncDisposable;
  let real: RealStandins;

  beforeAll(async () => {
    nix = await NixEnv.create({ toolchains: {} });
    tmp = await tempDir('nix-real');
    real = await realStandins(tmp.path);
  });
  afterAll(async () => {
    await nix?.[Symbol.asyncDispose]();
    await tmp?.[Symbol.asyncDispose]();
  });

  /** `nix ...args <flake ref><attr> <real overrides>` for the workspace `root`, failures returned. */
  const nixReal = (root: string, args: string[], attr = '') =>
    nix.nix([...args, pathRef(root) + attr, ...real.overrides, '--no-write-lock-file'], { cwd: root, allowFailure: true });

  /** `nix eval --impure --json --expr <expr>`, parsed. */
  async function evalJson(expr: string): Promise<unknown> {
    const r = await nix.nix(['eval', '--impure', '--json', '--expr', expr], { allowFailure: true });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  }

  /** nixpkgs (the stub with its real lib) with the real rust-overlay, as a Nix expression. */
  const pkgsExpr = () =>
    `import ${nixString(real.nixpkgs)} { system = ${nixString(SYSTEM)}; overlays = [ (import ${nixString(real.rustOverlay)}) ]; }`;

  it('every variant evaluates: check --no-build; shell, check and formatter instantiate; the toolchain is the pinned one', async () => {
    const linkers: Linker[] = ['mold', 'lld', 'gold', 'default'];
    const cases: [string, FixtureOptions, RegExp][] = [
      ...linkers.map((linker): [string, FixtureOptions, RegExp] => [`nightly-${linker}`, { linker }, NIGHTLY]),
      ['stable-lld', { channel: 'stable', toolchain: '1.95.0', linker: 'lld', profile: 'dev' }, /^rust-default-1\.95\.0$/],
      ['stable-default', { channel: 'stable', toolchain: '1.95.0', linker: 'default' }, /^rust-default-1\.95\.0$/],
      ['user-flake-mold', { flakeExists: true }, NIGHTLY],
      ['user-flake-stable-default', { flakeExists: true, channel: 'stable', toolchain: '1.95.0', linker: 'default', profile: 'dev' }, /^rust-default-1\.95\.0$/],
    ];
    for (const [name, o, toolchainName] of cases) {
      const root = path.join(tmp.path, name);
      await writeTree(root, fixtureTree(root, o).tree);
      const check = await nixReal(root, ['flake', 'check', '--no-build']);
      expect(check.code, `${name}: ${check.stderr}`).toBe(0);
      const attrs = [`devShells.${SYSTEM}.default`, `checks.${SYSTEM}.hotgen-build`, ...(o.flakeExists ? [] : [`formatter.${SYSTEM}`])];
      for (const attr of attrs) {
        const drv = await nixReal(root, ['eval', '--raw'], `#${attr}.drvPath`);
        expect(drv.code, `${name} ${attr}: ${drv.stderr}`).toBe(0);
        expect(drv.stdout).toMatch(/\.drv$/);
      }
      // The toolchain the real rust-overlay picks from hotgen/rust-toolchain.toml, with its
      // components as extensions, through nix/hotgen.nix itself (src as its default).
      const mod = `import ${nixString(path.join(root, NIX_MODULE_FILE))} { pkgs = ${pkgsExpr()}; }`;
      expect(await evalJson(`(${mod}).toolchain.name`), name).toMatch(toolchainName);
      // The shell has the toolchain, and clang with the linker's package when clang drives it.
      const inputs = (await evalJson(`map (p: p.name) (${mod}).devShell.nativeBuildInputs`)) as string[];
      const extra = o.linker === 'lld' ? ['clang-wrapper-stub', 'lld-stub'] : (o.linker ?? 'mold') === 'mold' ? ['clang-wrapper-stub', 'mold-wrapper-stub'] : [];
      expect(inputs.slice(1), name).toEqual(extra);
      expect(inputs[0], name).toMatch(toolchainName);
    }
  });

  it('the check vendors Cargo.lock through importCargoLock and cargoSetupHook; a git dependency wants its hash', async () => {
    const root = path.join(tmp.path, 'vendored');
    const { tree } = fixtureTree(root);
    // Evaluation only (nothing is fetched or built): any well-formed checksum.
    const checksum = 'ab'.repeat(32);
    const lock = (source: string, sum?: string) =>
      'version = 3\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["base"]\n\n' +
      '[[package]]\nname = "base"\nversion = "0.1.0"\ndependencies = ["dep"]\n\n' +
      `[[package]]\nname = "dep"\nversion = "0.2.1"\nsource = "${source}"\n${sum ? `checksum = "${sum}"\n` : ''}`;
    await writeTree(root, { ...tree, 'Cargo.lock': lock('registry+https://github.com/rust-lang/crates.io-index', checksum) });
    const mod = `(import ${nixString(path.join(root, NIX_MODULE_FILE))} { pkgs = ${pkgsExpr()}; }).check`;
    const drv = (await evalJson(`let c = ${mod}; in { inputs = map (p: p.name) c.nativeBuildInputs; deps = c.cargoDeps.name; crates = map (p: p.name) c.cargoDeps.crates; }`)) as {
      inputs: string[];
      deps: string;
      crates: string[];
    };
    expect(drv.inputs.at(-1)).toBe('cargo-setup-hook.sh');
    expect(drv.deps).toBe('cargo-vendor-dir');
    expect(drv.crates).toEqual(['crate-dep-0.2.1.tar.gz']);
    const check = await nixReal(root, ['flake', 'check', '--no-build']);
    expect(check.code, check.stderr).toBe(0);
    // Without a Cargo.lock there is nothing to vendor: no hook.
    const bare = path.join(tmp.path, 'no-lock');
    await writeTree(bare, fixtureTree(bare).tree);
    const bareInputs = (await evalJson(`map (p: p.name) (import ${nixString(path.join(bare, NIX_MODULE_FILE))} { pkgs = ${pkgsExpr()}; }).check.nativeBuildInputs`)) as string[];
    expect(bareInputs).not.toContain('cargo-setup-hook.sh');

    await writeTree(root, { 'Cargo.lock': lock('git+https://example.invalid/dep.git#0123456789abcdef0123456789abcdef01234567') });
    const git = await nixReal(root, ['flake', 'check', '--no-build']);
    expect(git.code).not.toBe(0);
    expect(git.stderr).toMatch(/No hash was found while vendoring the git dependency dep-0\.2\.1[\s\S]*outputHashes/);
  });

  it('a pin the real rust-overlay does not know stops evaluation naming it', async () => {
    const root = path.join(tmp.path, 'unknown-pin');
    await writeTree(root, fixtureTree(root, { toolchain: 'nightly-2001-01-01' }).tree);
    const check = await nixReal(root, ['flake', 'check', '--no-build']);
    expect(check.code).not.toBe(0);
    expect(check.stderr).toMatch(/2001-01-01/);
  });
});
