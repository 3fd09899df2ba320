/**
 * The generated Nix files against real Nix (Debian nix-bin 2.8), offline: stand-in
 * nixpkgs and rust-overlay inputs whose toolchain is this machine's rustup nightly
 * (or stable), a private store. Parse, `flake check --no-build`, the dev shell's
 * environment, the hot build inside it (`hotgen doctor --build`, hotgen's rustc wrapper),
 * and the flake's check built for real. nix-real.test.ts evaluates the same flakes against
 * the real rust-overlay and nixpkgs lib.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { CommandError } from '../../common/errors.js';
import { run } from '../../common/exec.js';
import { FLAKE_FILE, NIX_MODULE_FILE, TOOLCHAIN_FILE } from '../../common/layout.js';
import { nixString } from '../../generator/render-impl.js';
import { targetLibdir } from '../../common/toolchain.js';
import { readUnits, type UnitRecord } from '../../loader/units.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { NixEnv, nixMissing, nixSystem, pathRef, rustupSysroot } from '../nix/nixenv.js';
import { FIXTURE_APP_LIB, fixtureTree, type FixtureOptions } from '../nix/fixtures.js';
import { initWorkspace } from '../../generator/init.js';
import { needed, readelf } from './hot.js';

const skip = skipUnless(nixMissing(), tools.nightly(), tools.mold(), tools.clang(), tools.readelf());
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/hotgen.js');
const SYSTEM = nixSystem();
const TRIPLE = `${SYSTEM.split('-')[0]}-unknown-linux-gnu`;
const LINKER_VAR = `CARGO_TARGET_${TRIPLE.toUpperCase().replace(/-/g, '_')}_LINKER`;

/** The check ids `hotgen doctor` prints, in order. */
const CHECK_IDS = ['platform', 'plan', 'toolchain', 'linker', 'ld-library-path', 'files', 'nix', 'hot-build'];

type Check = { id: string; status: string; summary: string; details?: string };

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

  /** Runs `sh -c script` in the dev shell of `root` (entered in `cwd`, default `root`); returns stdout lines as key=value pairs. */
  async function shellVars(root: string, script: string, env: NodeJS.ProcessEnv = {}, cwd = root): Promise<Record<string, string>> {
    const r = await nix.develop(root, ['sh', '-c', script], { env, allowFailure: true, cwd });
    if (r.code !== 0) throw new Error(`nix develop exited with ${r.code}:\n${r.stderr}`);
    return Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }

  /** `hotgen doctor [--build] --json` inside the dev shell of `root` (no rustup toolchain selected from outside). */
  async function doctorInShell(root: string, build: boolean): Promise<{ code: number | null; checks: Check[]; stderr: string }> {
    const env = { ...process.env, LD_LIBRARY_PATH: '', RUSTUP_TOOLCHAIN: '', HOTGEN_TOOLCHAIN: '' };
    const r = await nix.develop(root, [process.execPath, CLI, 'doctor', ...(build ? ['--build'] : []), '--json'], { env, allowFailure: true });
    const checks = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Check & { event: string }).filter((e) => e.event === 'check');
    return { code: r.code, checks, stderr: r.stderr };
  }

  /** The hot build's unit records by crate name (written by hotgen's rustc wrapper). */
  async function units(root: string): Promise<Map<string, UnitRecord>> {
    const recs = await readUnits(path.join(root, 'target', 'hotgen', 'hot', 'hotgen-units'));
    return new Map([...recs.values()].map((u) => [u.crate, u]));
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
      for (const f of [FLAKE_FILE, NIX_MODULE_FILE]) {
        const r = await nix.parse(path.join(root, f));
        expect(r.stdout, `${f} of variant ${i}`).toMatch(f === NIX_MODULE_FILE ? /^\(\{ pkgs, src \? \/\S+ \}: \(let / : /^\{ description = /);
      }
    }
  });

  it('the stand-in rust-overlay reads rustup toolchain files as the real one does', async () => {
    const overlay = `(import ${nixString(path.join(nix.rustOverlay, 'flake.nix'))}).outputs { self = null; nixpkgs = null; }`;
    const pkgs = `import ${nixString(nix.nixpkgs)} { system = ${nixString(SYSTEM)}; overlays = [ (${overlay}).overlays.default ]; }`;
    const name = (text: string) =>
      nix.nix(['eval', '--impure', '--raw', '--expr', `((${pkgs}).rust-bin.fromRustupToolchainFile (builtins.toFile "rust-toolchain.toml" ${nixString(text)})).name`], { allowFailure: true });
    expect((await name('[toolchain]\nchannel = "nightly-2026-05-19"\ncomponents = ["rust-src"]\n')).stdout).toBe('rust-nightly-2026-05-19');
    expect((await name('# a comment\n[toolchain]\nchannel = "1.95.0"\nprofile = "minimal"\n')).stdout).toBe('rust-stable-1.95.0');
    expect((await name('[toolchain]\nchannel = "nightly"\n')).stdout).toBe('rust-nightly-2026-05-19');
    expect((await name('nightly-2026-05-19\n')).stdout).toBe('rust-nightly-2026-05-19');
    const missing = await name('[toolchain]\nchannel = "nightly-2001-01-01"\n');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no nightly toolchain `2001-01-01`/);
  });

  it('a workspace path with quotes, ${ and spaces still gives a valid flake and shell', async () => {
    const root = await workspace('we"ird ${x} \\ ws');
    expect(await readFile(path.join(root, 'flake.nix'), 'utf8')).toContain('description = "we\\"ird \\${x} \\\\ ws: ');
    const r = await nix.nix(['flake', 'metadata', '--json', pathRef(root), ...nix.overrides(), '--no-write-lock-file'], { cwd: root });
    expect(JSON.parse(r.stdout).description).toBe('we"ird ${x} \\ ws: Rust dev shell with crate-level hot reloading (hotgen)');
    expect((await nix.flakeCheck(root)).code).toBe(0);
    const vars = await shellVars(root, 'echo "LD=$LD_LIBRARY_PATH"');
    expect(vars.LD!.split(':')[1]).toBe(path.join(root, 'target', 'hotgen', 'hot', 'deps'));
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

  it('nix develop: the toolchain from hotgen/rust-toolchain.toml, libstd and the hot deps dir on LD_LIBRARY_PATH, the clang+mold linker', async () => {
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
    expect(entries[1]).toBe(path.join(root, 'target', 'hotgen', 'hot', 'deps'));
    expect(entries.at(-1)).toBe('/keep/me');
    expect(vars.LINKER).toMatch(new RegExp(`^${store}/\\w+-hotgen-linker/bin/hotgen-linker$`));
    expect(vars.SCRIPT).toContain(`/bin/clang --ld-path=${store}/`);
    expect(vars.SCRIPT).toMatch(/-mold\/bin\/ld\.mold "\$@"/);
    expect(vars.BOOT).toBe('unset');
    expect(vars.CARGO).toBe(`${entries[0]!.split('/lib/rustlib/')[0]}/bin/cargo`);
    // The pin moves with the file: another date is another toolchain (here one the stand-in lacks).
    await writeFile(path.join(root, TOOLCHAIN_FILE), '[toolchain]\nchannel = "nightly-2026-05-20"\n');
    const moved = await nix.develop(root, ['true'], { allowFailure: true });
    expect(moved.code).not.toBe(0);
    expect(moved.stderr).toMatch(/no nightly toolchain `2026-05-20`/);
  });

  it('the hot deps dir is the workspace\'s, also from a subdirectory, and follows build.target-dir in a Cargo config', async () => {
    const root = await workspace('develop-subdir');
    const sub = await shellVars(root, 'echo "LD=$LD_LIBRARY_PATH"', {}, path.join(root, 'app', 'src'));
    expect(sub.LD!.split(':')[1]).toBe(path.join(root, 'target', 'hotgen', 'hot', 'deps'));
    // Cargo's target dir, as `cargo metadata` gives it (and as hotgen dev, env and doctor use it).
    await writeTree(root, { '.cargo/config.toml': '[build]\ntarget-dir = "out/tgt"\n' });
    const moved = await shellVars(root, 'echo "LD=$LD_LIBRARY_PATH"; echo "LEFT=${hotgenRoot-}${hotgenTarget-}"', {}, path.join(root, 'base'));
    expect(moved.LD!.split(':')[1]).toBe(path.join(root, 'out', 'tgt', 'hotgen', 'hot', 'deps'));
    // The hook leaves no variable of its own behind.
    expect(moved.LEFT).toBe('');
    // Outside any workspace with a hotgen.yaml (a shell entered elsewhere), the current directory's target/.
    await using elsewhere = await tempDir('nix-elsewhere');
    const outside = await shellVars(root, 'echo "LD=$LD_LIBRARY_PATH"', {}, elsewhere.path);
    expect(outside.LD!.split(':')[1]).toBe(path.join(elsewhere.path, 'target', 'hotgen', 'hot', 'deps'));
  });

  it('nix print-dev-env (what direnv\'s `use flake` runs) gives the same LD_LIBRARY_PATH and linker', async () => {
    const root = await workspace('print-dev-env');
    const printed = await nix.nix(['print-dev-env', pathRef(root), ...nix.overrides(), '--no-write-lock-file'], { cwd: root });
    const r = await run('bash', ['-c', `eval "$1"; echo "LD=$LD_LIBRARY_PATH"; echo "LINKER=$${LINKER_VAR}"`, 'bash', printed.stdout], {
      cwd: root,
      env: { ...nix.env, LD_LIBRARY_PATH: '/keep/me' },
    });
    const lines = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(lines.LD!.split(':')).toEqual([expect.stringMatching(new RegExp(`/lib/rustlib/${TRIPLE}/lib$`)), path.join(root, 'target', 'hotgen', 'hot', 'deps'), '/keep/me']);
    expect(lines.LINKER).toMatch(/\/bin\/hotgen-linker$/);
  });

  it.skipIf(!existsSync(CLI) && skipUnless(`${CLI} missing (run npx tsc -p .)`))(
    'inside nix develop, `hotgen doctor --build` passes every check and the hot build gives dylibs linked by mold against the shell\'s libstd',
    async () => {
      const root = await workspace('doctor-build');
      const plain = await doctorInShell(root, false);
      expect(plain.checks.map((c) => c.id)).toEqual(CHECK_IDS);
      for (const c of plain.checks.slice(0, -1)) expect(c.status, `${c.id}: ${c.summary}`).toBe('ok');
      expect(plain.checks.at(-1)).toMatchObject({ id: 'hot-build', status: 'skip', summary: expect.stringContaining('hotgen doctor --build') });
      expect(plain.code).toBe(0);
      expect(plain.checks.find((c) => c.id === 'toolchain')!.summary).toMatch(/\(on PATH\) matches the pin nightly-2026-05-19$/);

      const r = await doctorInShell(root, true);
      expect(r.checks.map((c) => c.id)).toEqual(CHECK_IDS);
      for (const c of r.checks) expect(c.status, `${c.id}: ${c.summary}\n${c.details ?? ''}\n${r.stderr.slice(-2000)}`).toBe('ok');
      expect(r.checks.at(-1)!.summary).toMatch(/^built 2 workspace and 0 registry dylibs for `app`/);
      expect(r.code).toBe(0);

      const u = await units(root);
      const app = u.get('app')!;
      const base = u.get('base')!;
      expect([app.role, base.role]).toEqual(['entry', 'reloadable']);
      const deps = path.join(root, 'target', 'hotgen', 'hot', 'deps');
      for (const rec of [app, base]) {
        expect(path.dirname(rec.so)).toBe(deps);
        expect(await needed(rec.so), rec.crate).toEqual(expect.arrayContaining([expect.stringMatching(/^libstd-\w+\.so$/)]));
        expect(await readelf('-p', '.comment', rec.so), rec.crate).toMatch(/mold/);
      }
      expect(await needed(app.so)).toContain(path.basename(base.so));
      const syms = (await run('nm', ['-D', '--defined-only', app.so])).stdout;
      expect(syms).toMatch(/ T hotgen_main$/m);
      expect(syms).toMatch(/ T hotgen_abi_version$/m);
      // Inside the shell the dynamic loader finds libstd and base's dylib through LD_LIBRARY_PATH alone.
      const ldd = (await nix.develop(root, ['sh', '-c', 'ldd "$1"; echo "REAL=$(readlink -f "${LD_LIBRARY_PATH%%:*}")"', 'sh', app.so])).stdout;
      expect(ldd).toMatch(new RegExp(`libstd-\\w+\\.so => \\S+/lib/rustlib/${TRIPLE}/lib/libstd-`));
      expect(ldd).toContain(`${path.basename(base.so)} => ${base.so}`);
      expect(ldd).not.toMatch(/not found/);
      expect(ldd).toContain(`REAL=${nightlyLibdir}\n`);
    },
  );

  it.skipIf(!existsSync(CLI) && skipUnless(`${CLI} missing (run npx tsc -p .)`))('a failing hot build fails `hotgen doctor --build` (exit 1) with the compiler\'s error', async () => {
    const root = await workspace('doctor-build-fails');
    await writeFile(path.join(root, 'base', 'src', 'lib.rs'), 'pub fn name() -> &\'static str { 42 }\n');
    const r = await doctorInShell(root, true);
    expect(r.code).toBe(1);
    const hot = r.checks.find((c) => c.id === 'hot-build')!;
    expect(hot.status).toBe('fail');
    expect(hot.summary).toMatch(/^the hot build of `app` failed: error\[E0308\]: mismatched types/);
    expect(hot.details).toMatch(/base\/src\/lib\.rs/);
    expect(r.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['hot-build']);
  });

  it('the module variant gives the same shell through the user flake', async () => {
    const root = await workspace('develop-module', { flakeExists: true, linker: 'lld' });
    const vars = await shellVars(root, `echo "LD=$LD_LIBRARY_PATH"; echo "SCRIPT=$(tr '\\n' ' ' < "$${LINKER_VAR}")"; echo "V=$(rustc -V)"`);
    expect(vars.LD!.split(':')[0]).toMatch(new RegExp(`/lib/rustlib/${TRIPLE}/lib$`));
    expect(vars.LD!.split(':')[1]).toBe(path.join(root, 'target', 'hotgen', 'hot', 'deps'));
    expect(vars.SCRIPT).toContain(`--ld-path=${nix.storeDir}/`);
    expect(vars.SCRIPT).toMatch(/-lld\/bin\/ld\.lld "\$@"/);
    expect(vars.V).toMatch(/-nightly /);
  });

  it('the flake check builds the hot profile in a Nix build', async () => {
    const root = await workspace('flake-check-build');
    const r = await nix.build(root, `checks.${SYSTEM}.hotgen-build`);
    expect(r.code).toBe(0);
    // A broken crate makes the same check fail: it really runs cargo.
    await writeFile(path.join(root, 'base', 'src', 'lib.rs'), 'pub fn name() -> &\'static str { 42 }\n');
    const bad = await nix.build(root, `checks.${SYSTEM}.hotgen-build`).catch((e: CommandError) => e);
    expect(bad).toBeInstanceOf(CommandError);
    // rustc's own diagnostic, from the cargo run inside the Nix build (nix prints the log's last lines).
    expect((bad as CommandError).stderrTail).toMatch(/error\[E0308\]: mismatched types/);
  });

  it.skipIf(!existsSync(CLI) && skipUnless(`${CLI} missing (run npx tsc -p .)`))('after a real `hotgen init`, the flake checks and its shell runs the hot build', async () => {
    const root = path.join(tmp.path, 'from-init');
    const lib = fixtureTree(root).tree;
    await writeTree(root, {
      'Cargo.toml': '[workspace]\nmembers = ["base", "app", "server"]\nresolver = "2"\n',
      'base/Cargo.toml': '[package]\nname = "base"\nversion = "0.1.0"\nedition = "2021"\n',
      'base/src/lib.rs': lib['base/src/lib.rs']!,
      'app/Cargo.toml': '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nbase = { path = "../base" }\n',
      'app/src/lib.rs': FIXTURE_APP_LIB,
      'server/Cargo.toml': '[package]\nname = "server"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\napp = { path = "../app" }\n',
      'server/src/main.rs': 'fn main() {\n    println!("{}", app::greeting());\n}\n',
    });
    const result = await initWorkspace(root, {});
    expect(result.plan.entry).toBe('app');
    expect((await nix.flakeCheck(root)).code).toBe(0);
    const vars = await shellVars(root, 'echo "LD=$LD_LIBRARY_PATH"');
    expect(vars.LD!.split(':').slice(0, 2)).toEqual([expect.stringMatching(new RegExp(`/lib/rustlib/${TRIPLE}/lib$`)), path.join(root, 'target', 'hotgen', 'hot', 'deps')]);
    const r = await doctorInShell(root, true);
    for (const c of r.checks) expect(c.status, `${c.id}: ${c.summary}\n${c.details ?? ''}`).toBe('ok');
    const syms = (await run('nm', ['-D', '--defined-only', (await units(root)).get('app')!.so])).stdout;
    expect(syms).toMatch(/ T hotgen_main$/m);
    // The workspace's binary still builds as before inside the shell, statically.
    await nix.develop(root, ['cargo', 'build', '--offline', '-p', 'server']);
    expect(await needed(path.join(root, 'target', 'debug', 'server'))).not.toEqual(expect.arrayContaining([expect.stringMatching(/^libstd-/)]));
  });

  it.skipIf(skipUnless(missingTool('rustc', ['+stable', '-V'])) || (!existsSync(CLI) && skipUnless(`${CLI} missing (run npx tsc -p .)`)))(
    'channel stable: the shell has stable 1.95.0 and no RUSTC_BOOTSTRAP, and the hot build works in it',
    async () => {
      const root = await workspace('stable', { channel: 'stable', toolchain: '1.95.0' });
      const vars = await shellVars(root, 'echo "BOOT=${RUSTC_BOOTSTRAP-unset}"; echo "V=$(rustc -V)"');
      expect(vars.BOOT).toBe('unset');
      expect(vars.V).toMatch(/^rustc 1\.95\.0 /);
      const r = await doctorInShell(root, true);
      for (const c of r.checks) expect(c.status, `${c.id}: ${c.summary}\n${c.details ?? ''}`).toBe('ok');
      expect([...(await units(root)).keys()].sort()).toEqual(['app', 'base']);
    },
  );

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
