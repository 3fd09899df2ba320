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
import { pinnedToolchain } from '../../generator/init-policy.js';
import { CARGO_CONFIG_FILE, TOOLCHAIN_FILE } from '../../common/layout.js';
import { fixtureGraph, fixturePlan } from '../nix/fixtures.js';

const ROOT = '/work/ws with space';

function render(o: Parameters<typeof fixturePlan>[0] = {}, flakeExists = false) {
  return renderFiles(fixturePlan(o), fixtureGraph(ROOT), { flakeExists });
}
const file = (r: ReturnType<typeof render>, p: string) => r.files.find((f) => f.path === p)?.content ?? '';

describe('renderFiles', () => {
  it('renders only new files: flake.nix, hotgen/rust-toolchain.toml, hotgen/cargo-config.toml, .envrc and the entry shim beside lib.rs', () => {
    const r = render();
    expect(r.files.map((f) => [f.path, f.kind])).toEqual([
      ['flake.nix', 'flake'],
      [TOOLCHAIN_FILE, 'toolchain'],
      [CARGO_CONFIG_FILE, 'cargo-config'],
      ['.envrc', 'envrc'],
      ['app/src/hotgen_entry.rs', 'entry-shim'],
    ]);
    expect(TOOLCHAIN_FILE).toBe('hotgen/rust-toolchain.toml');
    expect(CARGO_CONFIG_FILE).toBe('hotgen/cargo-config.toml');
    // Nothing a workspace already has: no manifest, no root rust-toolchain.toml.
    expect(r.files.some((f) => /(^|\/)(Cargo\.toml|rust-toolchain(\.toml)?)$/.test(f.path) && !f.path.startsWith('hotgen/'))).toBe(false);
  });

  it('flake.nix: toolchain from hotgen/rust-toolchain.toml, follows, both systems, clang+mold, shellHook prepend, checks', () => {
    const flake = file(render(), 'flake.nix');
    expect(flake).toContain('inputs.nixpkgs.follows = "nixpkgs";');
    expect(flake).toContain('url = "github:oxalica/rust-overlay";');
    expect(flake).toContain('systems = [ "x86_64-linux" "aarch64-linux" ];');
    expect(flake).toContain('toolchain = pkgs.rust-bin.fromRustupToolchainFile ./hotgen/rust-toolchain.toml;');
    expect(flake).not.toContain('rust-bin.nightly');
    expect(flake).toContain('ld = pkgs.mold;');
    expect(flake).toContain('exec ${pkgs.clang}/bin/clang --ld-path=${ld}/bin/ld.mold "$@"');
    expect(flake).toContain('${linkerVar} = "${linker}/bin/hotgen-linker";');
    expect(flake).toContain(
      'export LD_LIBRARY_PATH="${libstdDir}:\'\'${CARGO_TARGET_DIR:-$PWD/target}/hotgen/hot/deps\'\'${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"',
    );
    expect(flake).toContain('libstdDir = "${toolchain}/lib/rustlib/${target}/lib";');
    expect(flake).toContain('target = pkgs.stdenv.hostPlatform.rust.rustcTarget;');
    expect(flake).toContain('cargo build --config hotgen/cargo-config.toml --profile hot --offline');
    expect(flake).toContain('checks = builtins.mapAttrs (_: hotgen: { hotgen-build = hotgen.check; }) perSystem;');
    expect(flake).not.toContain('RUSTC_BOOTSTRAP');
    expect(flake).not.toMatch(/\{\{|\}\}\s*$/m);
  });

  it('channel stable pins the version in hotgen/rust-toolchain.toml and needs no RUSTC_BOOTSTRAP; lld uses ld.lld', () => {
    const r = render({ channel: 'stable', toolchain: '1.95.0', linker: 'lld' });
    const flake = file(r, 'flake.nix');
    expect(flake).toContain('pkgs.rust-bin.fromRustupToolchainFile ./hotgen/rust-toolchain.toml');
    expect(flake).not.toContain('RUSTC_BOOTSTRAP');
    expect(flake).toContain('ld = pkgs.lld;');
    expect(flake).toContain('--ld-path=${ld}/bin/ld.lld');
    expect(flake).toContain('packages = [ toolchain pkgs.clang pkgs.lld ];');
    expect((parseToml(file(r, TOOLCHAIN_FILE)) as { toolchain: { channel: string } }).toolchain.channel).toBe('1.95.0');
  });

  it('linker default sets no linker variable; profile dev uses target/hotgen/debug and no profile table', () => {
    const r = render({ linker: 'default', profile: 'dev' });
    const flake = file(r, 'flake.nix');
    expect(flake).not.toContain('linkerVar');
    expect(flake).not.toContain('clang');
    expect(flake).toContain('packages = [ toolchain ];');
    expect(flake).toContain('/target}/hotgen/debug/deps\'\'${LD_LIBRARY_PATH');
    expect(flake).toContain('cargo build --config hotgen/cargo-config.toml --profile dev --offline');
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

  it('an existing flake gets nix/hotgen.nix (reading ../hotgen/rust-toolchain.toml) and notes with the exact lines to add', () => {
    const r = render({}, true);
    expect(r.files.map((f) => f.path)).toEqual(['nix/hotgen.nix', TOOLCHAIN_FILE, CARGO_CONFIG_FILE, '.envrc', 'app/src/hotgen_entry.rs']);
    expect(r.files[0]!.kind).toBe('flake-module');
    const mod = r.files[0]!.content;
    expect(mod).toMatch(/^\{ pkgs, src \}:$/m);
    expect(mod).toMatch(/^  devShell = pkgs\.mkShell/m);
    expect(mod).toContain('toolchain = pkgs.rust-bin.fromRustupToolchainFile ../hotgen/rust-toolchain.toml;');
    const note = r.notes.join('\n');
    expect(note).toContain('hotgen = import ./nix/hotgen.nix { inherit pkgs; src = self; };');
    expect(note).toContain('devShells.${system}.default = hotgen.devShell;');
    expect(note).toContain('overlays = [ rust-overlay.overlays.default ]');
    expect(note).toContain('inputs.nixpkgs.follows = "nixpkgs"');
  });

  it('the entry shim names lib.rs and carries the snippet; the note gives the same snippet', () => {
    const r = render({ profile: 'hotter' });
    const shim = file(r, 'app/src/hotgen_entry.rs');
    expect(shim).toContain('//! What you add to `app/src/lib.rs` (the one function you write is `hotgen_run`):');
    for (const line of entrySnippet()) expect(shim).toContain(`//! ${line}`.trimEnd() + '\n');
    expect(shim).toContain('pub unsafe extern "C" fn hotgen_main(ctx: *const RawContext) -> i32');
    expect(shim).toContain('super::hotgen_run(&ctx)');
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
