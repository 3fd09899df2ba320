/**
 * renderFiles: which files for which plan (only files hotgen owns, none of the
 * workspace's), their contents' key lines, the escaping helpers, and bad input. Nix
 * evaluation of the same output is in nix.test.ts.
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseToml } from '../../common/deps-config.js';
import { UserError } from '../../common/errors.js';
import { renderFiles } from '../../generator/render.js';
import { entrySnippet, nixIndented, nixString, shellWord, templatesDir, tomlString } from '../../generator/render-impl.js';
import { pinnedToolchain } from '../../common/toolchain.js';
import { CARGO_CONFIG_FILE, FLAKE_FILE, NIX_MODULE_FILE, TOOLCHAIN_FILE } from '../../common/layout.js';
import { ABI_VERSION } from '../../common/types.js';
import { fixtureGraph, fixturePlan } from '../nix/fixtures.js';

const ROOT = '/work/ws with space';

function render(o: Parameters<typeof fixturePlan>[0] = {}, flakeExists = false) {
  return renderFiles(fixturePlan(o), fixtureGraph(ROOT), { flakeExists });
}
const file = (r: ReturnType<typeof render>, p: string) => r.files.find((f) => f.path === p)?.content ?? '';

describe('renderFiles', () => {
  it('renders only new files: flake.nix, nix/hotgen.nix, hotgen/rust-toolchain.toml, hotgen/cargo-config.toml, .envrc and the entry shim beside lib.rs', () => {
    const r = render();
    expect(r.files.map((f) => [f.path, f.kind])).toEqual([
      [FLAKE_FILE, 'flake'],
      [NIX_MODULE_FILE, 'flake-module'],
      [TOOLCHAIN_FILE, 'toolchain'],
      [CARGO_CONFIG_FILE, 'cargo-config'],
      ['.envrc', 'envrc'],
      ['app/src/hotgen_entry.rs', 'entry-shim'],
    ]);
    expect([FLAKE_FILE, NIX_MODULE_FILE]).toEqual(['flake.nix', 'nix/hotgen.nix']);
    expect(TOOLCHAIN_FILE).toBe('hotgen/rust-toolchain.toml');
    expect(CARGO_CONFIG_FILE).toBe('hotgen/cargo-config.toml');
    // Nothing a workspace already has: no manifest, no root rust-toolchain.toml.
    expect(r.files.some((f) => /(^|\/)(Cargo\.toml|rust-toolchain(\.toml)?)$/.test(f.path) && !f.path.startsWith('hotgen/'))).toBe(false);
  });

  it('flake.nix is a thin wrapper: inputs, nixpkgs with rust-overlay per system, nix/hotgen.nix imported, a formatter; no setting in it', () => {
    const flake = file(render(), FLAKE_FILE);
    expect(flake).toContain('inputs.nixpkgs.follows = "nixpkgs";');
    expect(flake).toContain('url = "github:oxalica/rust-overlay";');
    expect(flake).toContain('nixpkgs.lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (');
    expect(flake).toContain('overlays = [ rust-overlay.overlays.default ];');
    expect(flake).toContain('hotgen = builtins.mapAttrs (_: pkgs: import ./nix/hotgen.nix { inherit pkgs; }) pkgsFor;');
    expect(flake).toContain('devShells = builtins.mapAttrs (_: shell: { default = shell.devShell; }) hotgen;');
    expect(flake).toContain('checks = builtins.mapAttrs (_: shell: { hotgen-build = shell.check; }) hotgen;');
    expect(flake).toContain('formatter = builtins.mapAttrs (_: pkgs: pkgs.nixfmt-tree) pkgsFor;');
    // No Nix code spliced in: the shell is only in nix/hotgen.nix.
    expect(flake).not.toMatch(/\bin\s+let\b|rust-bin|mkShell|LD_LIBRARY_PATH/);
    // It depends on no setting: the same for any linker, profile or pin (only the description names the workspace).
    for (const o of [{ linker: 'lld' as const, profile: 'dev' }, { channel: 'stable' as const, toolchain: '1.95.0', linker: 'default' as const }]) {
      expect(file(render(o), FLAKE_FILE)).toBe(flake);
    }
    expect(flake).not.toMatch(/\{\{|\}\}\s*$/m);
  });

  it('one pin: no Nix file holds a toolchain date or version; nix/hotgen.nix reads hotgen/rust-toolchain.toml', () => {
    for (const o of [{}, { channel: 'stable' as const, toolchain: '1.95.0' }]) {
      const r = render(o);
      for (const f of r.files.filter((x) => x.path.endsWith('.nix'))) {
        expect(f.content, f.path).not.toMatch(/2026-05-19|1\.95\.0|rust-bin\.(nightly|stable|beta)/);
      }
      expect(file(r, NIX_MODULE_FILE)).toContain('toolchain = pkgs.rust-bin.fromRustupToolchainFile ../hotgen/rust-toolchain.toml;');
    }
  });

  it('nix/hotgen.nix: clang+mold through the linker variable, shellHook prepend from the workspace root, the check vendoring with cargoSetupHook', () => {
    const mod = file(render(), NIX_MODULE_FILE);
    expect(mod).toMatch(/^\{\n  pkgs,\n  # The workspace: this file's parent directory\.\n  src \? \.\.\/\.,\n\}:\nlet\n/m);
    expect(mod).toContain('ld = pkgs.mold;');
    expect(mod).toContain('exec ${pkgs.clang}/bin/clang --ld-path=${ld}/bin/ld.mold "$@"');
    expect(mod).toContain('${linkerVar} = "${linker}/bin/hotgen-linker";');
    expect(mod).toContain('  packages = [\n    toolchain\n    pkgs.clang\n    ld\n  ];\n');
    expect(mod).toContain('libstdDir = "${toolchain}/lib/rustlib/${target}/lib";');
    expect(mod).toContain('target = pkgs.stdenv.hostPlatform.rust.rustcTarget;');
    // The shell hook finds the workspace root (hotgen.yaml) above $PWD and asks cargo for its target dir.
    expect(mod).toContain('until [ -e "$hotgenRoot/hotgen.yaml" ] || [ -z "$hotgenRoot" ]; do');
    expect(mod).toContain('cargo metadata --no-deps --format-version 1 --offline');
    expect(mod).toContain(
      'export LD_LIBRARY_PATH="${libstdDir}:\'\'${hotgenTarget:-\'\'${CARGO_TARGET_DIR:-$hotgenRoot/target}}/hotgen/hot/deps\'\'${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"',
    );
    expect(mod).not.toContain('$PWD/target');
    expect(mod).toContain('cargo build --config hotgen/cargo-config.toml --profile hot --offline');
    // Vendoring the nixpkgs way: importCargoLock's output set up by cargoSetupHook, no sed on its config.
    expect(mod).toContain('nativeBuildInputs = packages ++ lib.optionals vendor [ pkgs.rustPlatform.cargoSetupHook ];');
    expect(mod).toContain('cargoDeps = pkgs.rustPlatform.importCargoLock {');
    expect(mod).not.toMatch(/\bsed\b.*cargo-vendor-dir|\.cargo\/config/);
    expect(mod).toMatch(/^  devShell = pkgs\.mkShell \(\{ inherit packages shellHook; \} \/\/ env\);$/m);
    expect(mod).not.toContain('RUSTC_BOOTSTRAP');
    expect(mod).not.toMatch(/\{\{|\}\}\s*$/m);
  });

  it('channel stable pins the version in hotgen/rust-toolchain.toml and needs no RUSTC_BOOTSTRAP; lld uses ld.lld', () => {
    const r = render({ channel: 'stable', toolchain: '1.95.0', linker: 'lld' });
    const mod = file(r, NIX_MODULE_FILE);
    expect(mod).toContain('pkgs.rust-bin.fromRustupToolchainFile ../hotgen/rust-toolchain.toml');
    expect(mod).not.toContain('RUSTC_BOOTSTRAP');
    expect(mod).toContain('ld = pkgs.lld;');
    expect(mod).toContain('--ld-path=${ld}/bin/ld.lld');
    expect((parseToml(file(r, TOOLCHAIN_FILE)) as { toolchain: { channel: string } }).toolchain.channel).toBe('1.95.0');
  });

  it('linker default sets no linker variable; profile dev uses target/hotgen/debug and no profile table', () => {
    const r = render({ linker: 'default', profile: 'dev' });
    const mod = file(r, NIX_MODULE_FILE);
    expect(mod).not.toContain('linkerVar');
    expect(mod).not.toContain('clang');
    expect(mod).toContain('  env = { };\n\n  packages = [ toolchain ];\n');
    expect(mod).toContain('/target}}/hotgen/debug/deps\'\'${LD_LIBRARY_PATH');
    expect(mod).toContain('cargo build --config hotgen/cargo-config.toml --profile dev --offline');
    expect(parseToml(file(r, CARGO_CONFIG_FILE))).toEqual({});
  });

  it('hotgen/rust-toolchain.toml pins the toolchain with rust-src and rust-analyzer', () => {
    const t = parseToml(file(render(), TOOLCHAIN_FILE)) as { toolchain: { channel: string; components: string[] } };
    expect(t.toolchain).toEqual({ channel: 'nightly-2026-05-19', components: ['rust-src', 'rust-analyzer'] });
    expect(pinnedToolchain(file(render(), TOOLCHAIN_FILE))).toBe('nightly-2026-05-19');
  });

  it('hotgen/cargo-config.toml holds the hot profile, inheriting dev, with no rustflags (the wrapper adds them)', () => {
    expect(parseToml(file(render(), CARGO_CONFIG_FILE))).toEqual({ profile: { hot: { inherits: 'dev' } } });
    expect(parseToml(file(render({ profile: 'hotter' }), CARGO_CONFIG_FILE))).toEqual({ profile: { hotter: { inherits: 'dev' } } });
  });

  it('.envrc uses the flake', () => {
    expect(file(render(), '.envrc').split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['use flake']);
  });

  it('an existing flake gets the same nix/hotgen.nix and no flake.nix, with notes giving the exact lines to add', () => {
    const r = render({}, true);
    expect(r.files.map((f) => f.path)).toEqual([NIX_MODULE_FILE, TOOLCHAIN_FILE, CARGO_CONFIG_FILE, '.envrc', 'app/src/hotgen_entry.rs']);
    expect(r.files[0]!.kind).toBe('flake-module');
    expect(r.files[0]!.content).toBe(file(render(), NIX_MODULE_FILE));
    const note = r.notes.join('\n');
    expect(note).toContain('hotgen = import ./nix/hotgen.nix { inherit pkgs; };');
    expect(note).toContain('devShells.${system}.default = hotgen.devShell;');
    expect(note).toContain('overlays = [ rust-overlay.overlays.default ]');
    expect(note).toContain('inputs.nixpkgs.follows = "nixpkgs"');
    expect(render().notes.join('\n')).toContain('`git add flake.nix nix hotgen .envrc`');
  });

  it('the entry shim names lib.rs and carries the snippet; the note gives the same snippet', () => {
    const r = render({ profile: 'hotter' });
    const shim = file(r, 'app/src/hotgen_entry.rs');
    expect(shim).toContain('//! What you add to `app/src/lib.rs` (the one function you write is `hotgen_run`):');
    for (const line of entrySnippet()) expect(shim).toContain(`//! ${line}`.trimEnd() + '\n');
    expect(shim).toContain('pub unsafe extern "C" fn hotgen_main(ctx: *const RawContext) -> i32');
    expect(shim).toContain('super::hotgen_run(&ctx)');
    // The ABI version is this hotgen's (the host checks it), and the state needs the unsafe promise.
    expect(shim).toContain(`//! Generated by \`hotgen init\`: the safe wrapper around the hotgen entry ABI, version ${ABI_VERSION}.\n`);
    expect(shim).toContain(`\npub const ABI_VERSION: u32 = ${ABI_VERSION};\n`);
    expect(shim).toContain('pub fn state<T: FrozenState>(&self, init: impl FnOnce() -> T) -> &\'static T {');
    const note = r.notes.find((n) => n.includes('hotgen_run'))!;
    expect(note).toContain('Entry crate `app`: add to app/src/lib.rs:');
    expect(note).toContain(entrySnippet().map((l) => `  ${l}`.trimEnd()).join('\n'));
    expect(note).toContain('  #[path = "."]\n  mod hot {\n');
    expect(note).toContain('fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {');
  });

  it('puts the shim beside a custom lib path', () => {
    const graph = fixtureGraph(ROOT);
    graph.crates.get('app')!.libSrcPath = path.join(ROOT, 'app', 'code', 'top.rs');
    const r = renderFiles(fixturePlan(), graph, { flakeExists: false });
    expect(r.files.at(-1)!.path).toBe('app/code/hotgen_entry.rs');
    expect(r.files.at(-1)!.content).toContain('add to `app/code/top.rs`');
  });

  it('leaves no trailing whitespace and ends every file with one newline', () => {
    for (const r of [render(), render({}, true), render({ channel: 'stable', toolchain: '1.95.0', linker: 'default' })]) {
      for (const f of r.files) {
        expect(f.content, f.path).not.toMatch(/[ \t]+$/m);
        expect(f.content, f.path).toMatch(/[^\n]\n$/);
      }
    }
  });

  it('is deterministic', () => {
    expect(render()).toEqual(render());
  });

  it('rejects an unknown entry, a bad profile name and a bad toolchain with a UserError', () => {
    const graph = fixtureGraph(ROOT);
    expect(() => renderFiles({ ...fixturePlan(), entry: 'nope' }, graph, { flakeExists: false })).toThrow(/entry crate `nope`/);
    expect(() => renderFiles(fixturePlan({ profile: 'a b' }), graph, { flakeExists: false })).toThrow(UserError);
    expect(() => renderFiles(fixturePlan({ toolchain: 'nightly-2026/05' }), graph, { flakeExists: false })).toThrow(/unsupported toolchain/);
  });

  it('finds templates/ from the sources', () => {
    expect(templatesDir()).toBe(path.resolve(__dirname, '../../templates'));
  });
});

describe('escaping helpers', () => {
  it('nixString escapes quotes, backslashes, ${ and newlines', () => {
    expect(nixString('a"b\\c${d}\n')).toBe('"a\\"b\\\\c\\${d}\\n"');
  });

  it("nixIndented escapes '' and ${", () => {
    expect(nixIndented("x''y${z}")).toBe("x'''y''${z}");
  });

  it('tomlString round-trips through the TOML parser', () => {
    const s = 'q"b\\s\tt\u0001';
    expect((parseToml(`v = ${tomlString(s)}`) as { v: string }).v).toBe(s);
  });

  it('shellWord round-trips through sh', () => {
    for (const w of ["plain/path-1.0", "with space", "it's", '$HOME `x` "q"', '']) {
      expect(execFileSync('sh', ['-c', `printf %s ${shellWord(w)}`], { encoding: 'utf8' })).toBe(w);
    }
  });
});
