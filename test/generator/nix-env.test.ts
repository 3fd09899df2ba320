/**
 * `hotgen env`: the Nix shell's environment for rustup users: the pinned toolchain (from
 * hotgen/rust-toolchain.toml), the linker, and LD_LIBRARY_PATH on libstd and the hot
 * build's dylib dir (`<cargo target dir>/hotgen/<profile>/deps`, asked from cargo). The
 * end-to-end case runs `eval "$(hotgen env)"` in sh, in a workspace whose path has a
 * space, runs the hot build and checks that the loader finds every library (the built
 * CLI from `npx tsc -p .` is required).
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../common/exec.js';
import { cargoTargetDir, computeEnv, formatShell, hotDepsDir, LINKER_WRAPPER } from '../../generator/env.js';
import { hostTriple, linkerEnvVar, parsePin, profileDir, resolveRustupToolchain, rustcMatchesPin, rustOverlayAttr, targetLibdir } from '../../common/toolchain.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { fixturePlan, fixtureTree, type FixtureOptions } from '../nix/fixtures.js';
import { hotBuild, needed } from './hot.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/hotgen.js');
const LINKER_VAR = linkerEnvVar(hostTriple());

async function workspace(dir: string, o: FixtureOptions = {}): Promise<string> {
  const root = path.join(dir, 'my workspace');
  await writeTree(root, fixtureTree(root, o).tree);
  return root;
}

/** Runs `script` in sh with `$HOTGEN` set to the built CLI; env without any hot variables. */
function sh(cwd: string, script: string, extra: NodeJS.ProcessEnv = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, HOTGEN: `${process.execPath} ${CLI}`, NO_COLOR: '1', ...extra };
  for (const k of ['RUSTUP_TOOLCHAIN', 'RUSTC_BOOTSTRAP', LINKER_VAR]) delete env[k];
  return run('sh', ['-c', script], { cwd, env, allowFailure: true, timeoutMs: 300_000 });
}

describe.skipIf(skipUnless(tools.nightly(), tools.mold(), tools.clang()))('hotgen env', () => {
  it('computes the toolchain, libstd dir, the hot deps dir and a clang+mold linker wrapper', async () => {
    await using tmp = await tempDir('env');
    const root = await workspace(tmp.path);
    const env = await computeEnv(root, fixturePlan());
    const resolved = await resolveRustupToolchain('nightly-2026-05-19');
    expect(env.vars.RUSTUP_TOOLCHAIN).toBe(resolved.name);
    expect(env.ldLibraryPath[0]).toBe(await targetLibdir(resolved.name));
    expect(readdirSync(env.ldLibraryPath[0]!).some((f) => /^libstd-\w+\.so$/.test(f))).toBe(true);
    expect(env.ldLibraryPath[1]).toBe(path.join(root, 'target', 'hotgen', 'hot', 'deps'));
    expect(Object.keys(env.vars).sort()).toEqual([LINKER_VAR, 'RUSTUP_TOOLCHAIN']);
    const wrapper = path.join(root, LINKER_WRAPPER);
    expect(env.vars[LINKER_VAR]).toBe(wrapper);
    expect(statSync(wrapper).mode & 0o111).toBe(0o111);
    expect(await readFile(wrapper, 'utf8')).toMatch(/^exec \S*clang --ld-path=\S*ld\.mold "\$@"$/m);
    expect(env.vars.RUSTC_BOOTSTRAP).toBeUndefined();
  });

  it('the hot deps dir follows cargo\'s target directory (CARGO_TARGET_DIR, build.target-dir), and the profile', async () => {
    await using tmp = await tempDir('env');
    const root = await workspace(tmp.path);
    expect(await cargoTargetDir(root)).toBe(path.join(root, 'target'));
    expect(await cargoTargetDir(root, [], { ...process.env, CARGO_TARGET_DIR: 'elsewhere' })).toBe(path.join(root, 'elsewhere'));
    await writeTree(root, { '.cargo/config.toml': '[build]\ntarget-dir = "out/cargo"\n' });
    const env = await computeEnv(root, fixturePlan());
    expect(env.ldLibraryPath[1]).toBe(path.join(root, 'out', 'cargo', 'hotgen', 'hot', 'deps'));
    expect(hotDepsDir('/t', 'dev')).toBe('/t/hotgen/debug/deps');
    // The override for callers that already know it.
    expect((await computeEnv(root, fixturePlan(), { targetDir: '/somewhere' })).ldLibraryPath[1]).toBe('/somewhere/hotgen/hot/deps');
  });

  it('stable needs no RUSTC_BOOTSTRAP; linker default writes no wrapper and sets no linker variable', async () => {
    await using tmp = await tempDir('env');
    const root = await workspace(tmp.path, { channel: 'stable', toolchain: '1.95.0', linker: 'default' });
    const env = await computeEnv(root, fixturePlan({ channel: 'stable', toolchain: '1.95.0', linker: 'default' }));
    expect(env.vars.RUSTC_BOOTSTRAP).toBeUndefined();
    expect(Object.keys(env.vars)).toEqual(['RUSTUP_TOOLCHAIN']);
    expect(env.vars.RUSTUP_TOOLCHAIN).toBe((await resolveRustupToolchain('1.95.0')).name);
    expect(existsSync(path.join(root, LINKER_WRAPPER))).toBe(false);
  });

  it('quotes paths with spaces so the output evaluates in sh', async () => {
    await using tmp = await tempDir('env');
    const root = await workspace(tmp.path);
    const envFile = path.join(tmp.path, 'env.sh');
    await writeFile(envFile, formatShell(await computeEnv(root, fixturePlan())));
    const r = await sh(root, `eval "$(cat "$ENV_FILE")"; printf '%s\\n' "$LD_LIBRARY_PATH" "$${LINKER_VAR}"`, {
      LD_LIBRARY_PATH: '/keep/me',
      ENV_FILE: envFile,
    });
    const [ld, linker] = r.stdout.split('\n');
    expect(ld!.split(':').slice(1)).toEqual([path.join(root, 'target', 'hotgen', 'hot', 'deps'), '/keep/me']);
    expect(linker).toBe(path.join(root, LINKER_WRAPPER));
  });

  it('evaluated twice, the output adds each LD_LIBRARY_PATH entry once, keeping entries already there', async () => {
    await using tmp = await tempDir('env');
    const root = await workspace(tmp.path);
    const env = await computeEnv(root, fixturePlan());
    const [libstd, hot] = env.ldLibraryPath as [string, string];
    const envFile = path.join(tmp.path, 'env.sh');
    await writeFile(envFile, formatShell(env));
    const twice = 'eval "$(cat "$ENV_FILE")"; once=$LD_LIBRARY_PATH; eval "$(cat "$ENV_FILE")"; printf \'%s\\n\' "$once" "$LD_LIBRARY_PATH"';
    for (const [start, want] of [
      [undefined, [libstd, hot]],
      ['', [libstd, hot]],
      ['/keep/me', [libstd, hot, '/keep/me']],
      [`/a:${hot}:/b`, [libstd, '/a', hot, '/b']],
      [`${libstd}:${hot}`, [libstd, hot]],
    ] as const) {
      const extra: NodeJS.ProcessEnv = { ENV_FILE: envFile, LD_LIBRARY_PATH: start };
      const r = await sh(root, start === undefined ? `unset LD_LIBRARY_PATH; ${twice}` : twice, extra);
      expect(r.code, r.stderr).toBe(0);
      const [once, again] = r.stdout.split('\n');
      expect(once!.split(':'), `from ${start}`).toEqual(want);
      expect(again, `from ${start}`).toBe(once);
    }
  });

  it.skipIf(!existsSync(CLI) && skipUnless(`${CLI} missing (run npx tsc -p .)`))(
    'after eval "$(hotgen env)" the loader finds every library of the hot build, and the linker is clang+mold',
    async () => {
      await using tmp = await tempDir('env');
      const root = await workspace(tmp.path);
      const built = await hotBuild(root);
      const app = built.byName.get('app')!;
      const base = built.byName.get('base')!;
      expect(await needed(app.source)).toContain(path.basename(base.source));
      const r = await sh(root, 'eval "$($HOTGEN env)" && ldd "$APP" && cat "$' + LINKER_VAR + '"', { LD_LIBRARY_PATH: '', APP: app.source });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/libstd-\w+\.so => \S+\/lib\/rustlib\/\S+\/lib\/libstd-/);
      expect(r.stdout).toContain(`${path.basename(base.source)} => ${base.source}`);
      expect(r.stdout).not.toContain('not found');
      expect(r.stdout).toMatch(/--ld-path=\S*ld\.mold/);
      // Without it, the loader finds neither.
      const bare = await sh(root, 'ldd "$APP"', { LD_LIBRARY_PATH: '', APP: app.source });
      expect(bare.stdout).toMatch(/libstd-\w+\.so => not found/);
      expect(bare.stdout).toContain(`${path.basename(base.source)} => not found`);
      // cargo in that environment is the pinned toolchain, whatever the directory would pick.
      const v = await sh(root, 'eval "$($HOTGEN env)" && cargo -V && rustc -V', { LD_LIBRARY_PATH: '' });
      expect(v.stdout).toMatch(/^rustc 1\.\d+\.\d+-nightly .*2026-05-1[89]\)$/m);
    },
  );

  it.skipIf(!existsSync(CLI) && skipUnless(`${CLI} missing (run npx tsc -p .)`))('--json prints one object with the full values', async () => {
    await using tmp = await tempDir('env');
    const root = await workspace(tmp.path);
    const r = await sh(path.join(root, 'app', 'src'), '$HOTGEN env --json', { LD_LIBRARY_PATH: '/keep/me' });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const ev = JSON.parse(lines[0]!);
    expect(ev.event).toBe('env');
    expect(ev.root).toBe(root);
    const ld: string[] = ev.env.LD_LIBRARY_PATH.split(':');
    expect(ld[0]).toBe(await targetLibdir(ev.env.RUSTUP_TOOLCHAIN));
    expect(ld.slice(1)).toEqual([path.join(root, 'target', 'hotgen', 'hot', 'deps'), '/keep/me']);
    expect(Object.keys(ev.env)).not.toContain('RUSTC_BOOTSTRAP');
  });

  it.skipIf(!existsSync(CLI) && skipUnless(`${CLI} missing (run npx tsc -p .)`))('a pin that is not installed is a one-line error with the install command', async () => {
    await using tmp = await tempDir('env');
    const root = await workspace(tmp.path, { toolchain: 'nightly-2001-02-03' });
    const r = await sh(root, '$HOTGEN env');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^hotgen: hotgen\/rust-toolchain\.toml: the pinned toolchain nightly-2001-02-03 is not installed\n\s+Install it: rustup toolchain install nightly-2001-02-03/);
  });
});

describe('toolchain facts', () => {
  it('maps Node arches to Rust triples and Cargo linker variables', () => {
    expect(hostTriple('x64')).toBe('x86_64-unknown-linux-gnu');
    expect(hostTriple('arm64')).toBe('aarch64-unknown-linux-gnu');
    expect(() => hostTriple('ia32')).toThrow(/unsupported CPU architecture `ia32`/);
    expect(linkerEnvVar('aarch64-unknown-linux-gnu')).toBe('CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER');
  });

  it('names profile output dirs as Cargo does', () => {
    expect(['dev', 'test', 'release', 'bench', 'hot'].map(profileDir)).toEqual(['debug', 'debug', 'release', 'release', 'hot']);
  });

  it('parses pins and gives the rust-overlay attribute', () => {
    expect(rustOverlayAttr(parsePin('nightly-2026-05-19'))).toBe('rust-bin.nightly."2026-05-19".default');
    expect(rustOverlayAttr(parsePin('1.95.0'))).toBe('rust-bin.stable."1.95.0".default');
    expect(rustOverlayAttr(parsePin('nightly'))).toBe('rust-bin.nightly.latest.default');
    expect(parsePin('nightly-2026-05-19-x86_64-unknown-linux-gnu').date).toBe('2026-05-19');
    expect(() => parsePin('my-toolchain')).toThrow(/unsupported toolchain/);
  });

  it('matches rustc builds to pins', () => {
    const nightly = { version: 'rustc 1.97.0-nightly (e50aa6fba 2026-05-19)', commitDate: '2026-05-19' };
    const stable = { version: 'rustc 1.95.0 (59807616e 2026-04-14)', commitDate: '2026-04-14' };
    expect(rustcMatchesPin(parsePin('nightly-2026-05-19'), nightly)).toBe(true);
    expect(rustcMatchesPin(parsePin('nightly-2026-05-20'), nightly)).toBe(true); // built from the previous day's commits
    expect(rustcMatchesPin(parsePin('nightly-2026-05-21'), nightly)).toBe(false);
    expect(rustcMatchesPin(parsePin('nightly-2026-05-19'), stable)).toBe(false);
    expect(rustcMatchesPin(parsePin('1.95.0'), stable)).toBe(true);
    expect(rustcMatchesPin(parsePin('1.95'), stable)).toBe(true);
    expect(rustcMatchesPin(parsePin('1.9'), stable)).toBe(false);
    expect(rustcMatchesPin(parsePin('1.95.0'), nightly)).toBe(false);
    expect(rustcMatchesPin(parsePin('stable'), stable)).toBe(true);
  });
});
