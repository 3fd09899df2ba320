/**
 * The generated Nix files against real Nix (Debian nix-bin 2.8), offline: stand-in
 * nixpkgs and rust-overlay inputs whose toolchain is this machine's rustup nightly
 * (or stable), a private store. Parse, `flake check --no-build`, the dev shell's
 * environment, a hot-profile build inside it, and the flake's check built for real.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { nixString } from '../../generator/render-impl.js';
import { targetLibdir } from '../../generator/toolchain.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { NixEnv, nixMissing, nixSystem, pathRef, rustupSysroot } from '../nix/nixenv.js';
import { fixtureTree, type FixtureOptions } from '../nix/fixtures.js';
import { initWorkspace } from '../../generator/init.js';

const skip = skipUnless(nixMissing(), tools.nightly(), tools.mold(), tools.clang(), tools.readelf());
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/hotgen.js');
const SYSTEM = nixSystem();
const TRIPLE = `${SYSTEM.split('-')[0]}-unknown-linux-gnu`;
const LINKER_VAR = `CARGO_TARGET_${TRIPLE.toUpperCase().replace(/-/g, '_')}_LINKER`;

describe.skipIf(skip)('generated flake with offline Nix', () => {
  let nix: NixEnv;
  let tmp: { path: string } & AsyncDisposable;
  let nightlyLibdir: string;

  beforeAll(async () => {
    const nightly = (await rustupSysroot('nightly'))!;
    const stable = await rustupSysroot('stable');
    nix = await NixEnv.create({ toolchains: { nightly: { '2026-05-19': nightly }, ...(stable ? { stable: { '1.95.0': stable } } : {}) } });
    tmp = await tempDir('nixtest');
    nightlyLibdir = realpathSync(await targetLibdir('nightly'));
  });
  afterAll(async () => {
    await nix?.[Symbol.asyncDispose]();
    await tmp?.[Symbol.asyncDispose]();
  });

  async function workspace(name: string, o: FixtureOptions = {}): Promise<string> {
    const root = path.join(tmp.path, name);
    await writeTree(root, fixtureTree(root, o).tree);
    return root;
  }

  /** Runs `sh -c script` in the dev shell of `root`; returns stdout lines as key=value pairs. */
  async function shellVars(root: string, script: string, env: NodeJS.ProcessEnv = {}): Promise<Record<string, string>> {
    const r = await nix.develop(root, ['sh', '-c', script], { env, allowFailure: true });
    if (r.code !== 0) throw new Error(`nix develop exited with ${r.code}:\n${r.stderr}`);
    return Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }

  it('every rendered Nix file parses with nix-instantiate --parse', async () => {
    const variants: FixtureOptions[] = [
      {},
      { linker: 'lld', channel: 'stable', toolchain: '1.95.0' },
      { linker: 'default', profile: 'dev' },
      { linker: 'gold', flakeExists: true },
    ];
    for (const [i, o] of variants.entries()) {
      const root = await workspace(`parse-${i}`, o);
      for (const f of o.flakeExists ? ['flake.nix', 'nix/hotgen.nix'] : ['flake.nix']) {
        const r = await nix.parse(path.join(root, f));
        expect(r.stdout, `${f} of variant ${i}`).toMatch(o.flakeExists && f !== 'flake.nix' ? /^\(\{ pkgs, src \}: / : /^\{ description = /);
      }
    }
  });

  it('a workspace path with quotes, ${ and spaces still gives a valid flake and shell', async () => {
    const root = await workspace('we"ird ${x} \\ ws');
    expect(await readFile(path.join(root, 'flake.nix'), 'utf8')).toContain('description = "we\\"ird \\${x} \\\\ ws: ');
    const r = await nix.nix(['flake', 'metadata', '--json', pathRef(root), ...nix.overrides(), '--no-write-lock-file'], { cwd: root });
    expect(JSON.parse(r.stdout).description).toBe('we"ird ${x} \\ ws: Rust dev shell with crate-level hot reloading (hotgen)');
    expect((await nix.flakeCheck(root)).code).toBe(0);
    const vars = await shellVars(root, 'echo "LD=$LD_LIBRARY_PATH"');
    expect(vars.LD!.split(':')[1]).toBe(path.join(root, 'target', 'hot'));
  });

  it('nixString survives a round trip through the Nix evaluator', async () => {
    const nasty = 'a "quoted" \\ back${slash} $HOME ${x}\nline\ttab \'\' end';
    const r = await nix.nix(['eval', '--raw', '--expr', nixString(nasty)]);
    expect(r.stdout).toBe(nasty);
  });

  it('nix flake check --no-build passes for flake.nix and for a user flake importing nix/hotgen.nix', async () => {
    const own = await workspace('check-own');
    const r = await nix.flakeCheck(own);
    expect(r.code).toBe(0);
    const mod = await workspace('check-module', { flakeExists: true });
    expect((await nix.flakeCheck(mod)).code).toBe(0);
  });

  it('nix develop prepends libstd and the hot dir to LD_LIBRARY_PATH and sets the clang+mold linker', async () => {
    const root = await workspace('develop');
    const vars = await shellVars(
      root,
      `echo "LD=$LD_LIBRARY_PATH"; echo "LINKER=$${LINKER_VAR}"; echo "BOOT=\${RUSTC_BOOTSTRAP-unset}"; ` +
        `echo "LIBSTD=$(ls "\${LD_LIBRARY_PATH%%:*}" | grep '^libstd-.*\\.so$')"; echo "SCRIPT=$(tr '\\n' ' ' < "$${LINKER_VAR}")"; ` +
        `echo "CARGO=$(command -v cargo)"`,
      { LD_LIBRARY_PATH: '/keep/me' },
    );
    const entries = vars.LD!.split(':');
    const store = nix.storeDir;
    expect(entries[0]).toMatch(new RegExp(`^${store}/\\w+-rust-nightly-2026-05-19/lib/rustlib/${TRIPLE}/lib$`));
    expect(vars.LIBSTD).toMatch(/^libstd-\w+\.so$/);
    expect(entries[1]).toBe(path.join(root, 'target', 'hot'));
    expect(entries.at(-1)).toBe('/keep/me');
    expect(vars.LINKER).toMatch(new RegExp(`^${store}/\\w+-hotgen-linker/bin/hotgen-linker$`));
    expect(vars.SCRIPT).toContain(`/bin/clang --ld-path=${store}/`);
    expect(vars.SCRIPT).toMatch(/-mold\/bin\/ld\.mold "\$@"/);
    expect(vars.BOOT).toBe('unset');
    expect(vars.CARGO).toBe(`${entries[0]!.split('/lib/rustlib/')[0]}/bin/cargo`);
  });

  it('nix print-dev-env (what direnv\'s `use flake` runs) gives the same LD_LIBRARY_PATH and linker', async () => {
    const root = await workspace('print-dev-env');
    const printed = await nix.nix(['print-dev-env', pathRef(root), ...nix.overrides(), '--no-write-lock-file'], { cwd: root });
    const r = await run('bash', ['-c', `eval "$1"; echo "LD=$LD_LIBRARY_PATH"; echo "LINKER=$${LINKER_VAR}"`, 'bash', printed.stdout], {
      cwd: root,
      env: { ...process.env, LD_LIBRARY_PATH: '/keep/me' },
    });
    const lines = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(lines.LD!.split(':')).toEqual([expect.stringMatching(new RegExp(`/lib/rustlib/${TRIPLE}/lib$`)), path.join(root, 'target', 'hot'), '/keep/me']);
    expect(lines.LINKER).toMatch(/\/bin\/hotgen-linker$/);
  });

  it.skipIf(!existsSync(CLI) && skipUnless(`${CLI} missing (run npx tsc -p .)`))('hotgen doctor passes every check inside nix develop', async () => {
    const root = await workspace('doctor');
    const env = { ...process.env, LD_LIBRARY_PATH: '', RUSTUP_TOOLCHAIN: '' };
    const r = await nix.develop(root, [process.execPath, CLI, 'doctor', '--json'], { env, allowFailure: true });
    const checks = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; status: string; summary: string });
    expect(checks.map((c) => c.id)).toEqual(['platform', 'plan', 'toolchain', 'linker', 'ld-library-path', 'manifests', 'nix']);
    for (const c of checks) expect(c.status, `${c.id}: ${c.summary}`).toBe('ok');
    expect(r.code).toBe(0);
  });

  it('the module variant gives the same shell through the user flake', async () => {
    const root = await workspace('develop-module', { flakeExists: true, linker: 'lld' });
    const vars = await shellVars(root, `echo "LD=$LD_LIBRARY_PATH"; echo "SCRIPT=$(tr '\\n' ' ' < "$${LINKER_VAR}")"`);
    expect(vars.LD!.split(':')[0]).toMatch(new RegExp(`/lib/rustlib/${TRIPLE}/lib$`));
    expect(vars.LD!.split(':')[1]).toBe(path.join(root, 'target', 'hot'));
    expect(vars.SCRIPT).toContain(`--ld-path=${nix.storeDir}/`);
    expect(vars.SCRIPT).toMatch(/-lld\/bin\/ld\.lld "\$@"/);
  });

  it('nix develop --command cargo build --profile hot builds dylibs linked by mold against the shared libstd', async () => {
    const root = await workspace('build');
    await nix.develop(root, ['cargo', 'build', '--profile', 'hot', '--offline']);
    const out = path.join(root, 'target', 'hot');
    const libs = (await readdir(out)).filter((f) => f.endsWith('.so')).sort();
    expect(libs).toEqual(['libapp.so', 'libbase.so']);
    for (const lib of libs) {
      const dyn = (await run('readelf', ['-d', path.join(out, lib)])).stdout;
      expect(dyn, lib).toMatch(/NEEDED.*\[libstd-\w+\.so\]/);
      expect((await run('readelf', ['-p', '.comment', path.join(out, lib)])).stdout, lib).toMatch(/mold/);
    }
    expect((await run('readelf', ['-d', path.join(out, 'libapp.so')])).stdout).toMatch(/NEEDED.*\[libbase\.so\]/);
    const syms = (await run('nm', ['-D', '--defined-only', path.join(out, 'libapp.so')])).stdout;
    expect(syms).toMatch(/ T hotgen_main$/m);
    expect(syms).toMatch(/ T hotgen_abi_version$/m);
    // Inside the shell the dynamic loader finds libstd and libbase through LD_LIBRARY_PATH alone.
    const ldd = (await nix.develop(root, ['sh', '-c', 'ldd "$1"; echo "REAL=$(readlink -f "${LD_LIBRARY_PATH%%:*}")"', 'sh', path.join(out, 'libapp.so')])).stdout;
    expect(ldd).toMatch(new RegExp(`libstd-\\w+\\.so => \\S+/lib/rustlib/${TRIPLE}/lib/libstd-`));
    expect(ldd).toContain(`libbase.so => ${path.join(out, 'libbase.so')}`);
    expect(ldd).not.toMatch(/not found/);
    expect(ldd).toContain(`REAL=${nightlyLibdir}\n`);
  });

  it('the flake check builds the hot profile in a Nix build', async () => {
    const root = await workspace('flake-check-build');
    const r = await nix.build(root, `checks.${SYSTEM}.hotgen-build`);
    expect(r.code).toBe(0);
    // A broken crate makes the same check fail: it really runs cargo.
    await writeFile(path.join(root, 'base', 'src', 'lib.rs'), 'pub fn name() -> &\'static str { 42 }\n');
    const bad = await nix.build(root, `checks.${SYSTEM}.hotgen-build`).catch((e: Error) => e);
    expect(bad).toBeInstanceOf(Error);
  });

  it('after a real `hotgen init`, the flake checks and its shell builds the hot profile', async () => {
    const root = path.join(tmp.path, 'from-init');
    const lib = fixtureTree(root).tree;
    await writeTree(root, {
      'Cargo.toml': '[workspace]\nmembers = ["base", "app", "server"]\nresolver = "2"\n',
      'base/Cargo.toml': '[package]\nname = "base"\nversion = "0.1.0"\nedition = "2021"\n',
      'base/src/lib.rs': lib['base/src/lib.rs']!,
      'app/Cargo.toml': '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nbase = { path = "../base" }\n',
      'app/src/lib.rs': lib['app/src/lib.rs']!,
      'server/Cargo.toml': '[package]\nname = "server"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\napp = { path = "../app" }\n',
      'server/src/main.rs': 'fn main() {\n    println!("{}", app::greeting());\n}\n',
    });
    const result = await initWorkspace(root, {});
    expect(result.plan.entry).toBe('app');
    expect((await nix.flakeCheck(root)).code).toBe(0);
    const vars = await shellVars(root, 'echo "LD=$LD_LIBRARY_PATH"');
    expect(vars.LD!.split(':').slice(0, 2)).toEqual([expect.stringMatching(new RegExp(`/lib/rustlib/${TRIPLE}/lib$`)), path.join(root, 'target', 'hot')]);
    await nix.develop(root, ['cargo', 'build', '--profile', 'hot', '--offline']);
    const libs = (await readdir(path.join(root, 'target', 'hot'))).filter((f) => f.endsWith('.so')).sort();
    expect(libs).toEqual(['libapp.so', 'libbase.so']);
    const syms = (await run('nm', ['-D', '--defined-only', path.join(root, 'target', 'hot', 'libapp.so')])).stdout;
    expect(syms).toMatch(/ T hotgen_main$/m);
  });

  it.skipIf(skipUnless(missingTool('rustc', ['+stable', '-V'])))('channel stable: RUSTC_BOOTSTRAP=1 lets stable cargo build the hot profile', async () => {
    const root = await workspace('stable', { channel: 'stable', toolchain: '1.95.0' });
    const vars = await shellVars(root, 'echo "BOOT=$RUSTC_BOOTSTRAP"; echo "V=$(rustc -V)"');
    expect(vars.BOOT).toBe('1');
    expect(vars.V).toMatch(/^rustc 1\.95\.0 /);
    await nix.develop(root, ['cargo', 'build', '--profile', 'hot', '--offline']);
    const libs = (await readdir(path.join(root, 'target', 'hot'))).filter((f) => f.endsWith('.so')).sort();
    expect(libs).toEqual(['libapp.so', 'libbase.so']);
  });

  it('the stand-in nixpkgs takes extra host packages (for flakes other than the generated one)', async () => {
    await using extra = await NixEnv.create({ toolchains: {}, extraPackages: { nodejs: { node: process.execPath } } });
    const root = path.join(tmp.path, 'other-flake');
    await writeTree(root, {
      'flake.nix': `{
        inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
        outputs = { self, nixpkgs }: let pkgs = nixpkgs.legacyPackages.${SYSTEM}; in {
          devShells.${SYSTEM}.default = pkgs.mkShell { nativeBuildInputs = [ pkgs.nodejs ]; };
        };
      }\n`,
    });
    const r = await extra.nix(['develop', pathRef(root), '--override-input', 'nixpkgs', pathRef(extra.nixpkgs), '--no-write-lock-file', '--command', 'sh', '-c', 'command -v node; node -p 6*7'], { cwd: root });
    const [where, answer] = r.stdout.trim().split('\n');
    expect(where).toMatch(new RegExp(`^${extra.storeDir}/\\w+-nodejs/bin/node$`));
    expect(answer).toBe('42');
  });
});
