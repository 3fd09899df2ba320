/**
 * hotgen's own flake.nix against real Nix (Debian nix-bin 2.8), offline: a clean copy of
 * the repository, the stand-in nixpkgs (with importNpmLock and buildNpmPackage) and
 * rust-overlay, a private store. Parse, `nix flake check --no-build`, `nix eval` of
 * packages.default and apps.default, the lock importNpmLock gets, and the dev shell.
 * Then the same flake evaluated against the real nixpkgs lib and rust-overlay
 * (test/nix/real-standins.ts).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { CommandError } from '../../common/errors.js';
import { run } from '../../common/exec.js';
import { DEFAULT_NIGHTLY } from '../../generator/plan.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';
import { tempDir } from '../helpers/tree.js';
import { NixEnv, nixMissing, nixSystem, pathRef, rustupSysroot } from '../nix/nixenv.js';
import { realStandins, realStandinsMissing } from '../nix/real-standins.js';
import { cleanCopy, REPO } from './clean-copy.js';

const skip = skipUnless(nixMissing(), tools.nightly(), missingTool('git', ['--version']), missingTool('npm', ['--version']));
const SYSTEM = nixSystem();
const NIGHTLY_DATE = DEFAULT_NIGHTLY.replace(/^nightly-/, '');

async function hostTool(cmd: string): Promise<string> {
  return realpathSync((await run('sh', ['-c', `command -v ${cmd}`])).stdout.trim());
}

describe.skipIf(skip)('hotgen\'s own flake with offline Nix', () => {
  let nix: NixEnv;
  let tmp: { path: string } & AsyncDisposable;
  let dir: string;
  const version = async () => JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')).version as string;

  /** `nix eval` of an attribute of the flake in `flakeDir` (JSON, or raw with `raw`). */
  async function evalAttr(attr: string, opts: { raw?: boolean; apply?: string; flakeDir?: string } = {}): Promise<string> {
    const d = opts.flakeDir ?? dir;
    const r = await nix.nix(
      ['eval', opts.raw ? '--raw' : '--json', `${pathRef(d)}#${attr}`, ...nix.overrides(), '--no-write-lock-file', ...(opts.apply ? ['--apply', opts.apply] : [])],
      { cwd: d, context: `nix eval ${attr}` },
    );
    return r.stdout;
  }

  beforeAll(async () => {
    nix = await NixEnv.create({
      toolchains: { nightly: { [NIGHTLY_DATE]: (await rustupSysroot('nightly'))! } },
      extraPackages: {
        nodejs_20: { node: process.execPath, npm: await hostTool('npm') },
        nix: { nix: await hostTool('nix') },
      },
    });
    tmp = await tempDir('own-flake');
    dir = path.join(tmp.path, 'hotgen');
    await cleanCopy(dir);
  });
  afterAll(async () => {
    await nix?.[Symbol.asyncDispose]();
    await tmp?.[Symbol.asyncDispose]();
  });

  it('parses with nix-instantiate --parse', async () => {
    expect((await nix.parse(path.join(dir, 'flake.nix'))).stdout).toMatch(/^\{ description = "hotgen: /);
  });

  it('nix flake check --no-build passes for both systems\' outputs', async () => {
    const r = await nix.flakeCheck(dir);
    expect(r.code).toBe(0);
    const shown = JSON.parse((await nix.nix(['flake', 'show', '--json', pathRef(dir), ...nix.overrides(), '--no-write-lock-file'], { cwd: dir })).stdout);
    for (const system of ['x86_64-linux', 'aarch64-linux']) {
      expect(Object.keys(shown.packages[system]).sort()).toEqual(['default', 'hotgen']);
      expect(shown.apps[system].default.type).toBe('app');
      expect(Object.keys(shown.devShells[system])).toEqual(['default']);
      expect(Object.keys(shown.checks[system])).toEqual(['build']);
      expect(shown.formatter[system].name).toBe('nixfmt-tree');
    }
  });

  it('the nightly is written once, in generator/plan.ts: flake.nix reads it from there', async () => {
    const flake = await readFile(path.join(dir, 'flake.nix'), 'utf8');
    expect(flake).not.toContain(NIGHTLY_DATE);
    expect(await evalAttr('devShells.x86_64-linux.default.PATH', { raw: true })).toContain(`-rust-nightly-${NIGHTLY_DATE}/bin`);
    // Another date in plan.ts is another toolchain (one the stand-in lacks here).
    const moved = path.join(tmp.path, 'moved-pin');
    await cleanCopy(moved);
    const plan = path.join(moved, 'generator', 'plan.ts');
    await writeFile(plan, (await readFile(plan, 'utf8')).replace(DEFAULT_NIGHTLY, 'nightly-2026-05-20'));
    const err = await evalAttr(`devShells.${SYSTEM}.default.drvPath`, { raw: true, flakeDir: moved }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).stderrTail).toMatch(/attribute '2026-05-20' missing/);
  });

  it('nix eval shows packages.default (from package.json) and apps.default running its bin/hotgen', async () => {
    const v = await version();
    expect(await evalAttr(`packages.${SYSTEM}.default.name`, { raw: true })).toBe(`hotgen-${v}`);
    expect(await evalAttr(`packages.aarch64-linux.default.name`, { raw: true })).toBe(`hotgen-${v}`);
    expect(await evalAttr(`packages.${SYSTEM}.default.meta.mainProgram`, { raw: true })).toBe('hotgen');
    const program = await evalAttr(`apps.${SYSTEM}.default.program`, { raw: true });
    const out = await evalAttr(`packages.${SYSTEM}.default.outPath`, { raw: true });
    expect(program).toBe(`${out}/bin/hotgen`);
    expect(out).toMatch(new RegExp(`^${nix.storeDir}/\\w{32}-hotgen-${v.replace(/\./g, '\\.')}$`));
  });

  it('importNpmLock gets every lock entry with a registry URL and its integrity, and node 20 builds it', async () => {
    const lock = JSON.parse(await evalAttr(`packages.${SYSTEM}.default.npmDeps.packageLockJSON`, { apply: 'builtins.fromJSON' })) as {
      packages: Record<string, { resolved?: string; integrity?: string; version?: string }>;
    };
    const original = JSON.parse(await readFile(path.join(REPO, 'package-lock.json'), 'utf8')) as typeof lock;
    expect(Object.keys(lock.packages).sort()).toEqual(Object.keys(original.packages).sort());
    for (const [key, m] of Object.entries(lock.packages)) {
      if (key === '') continue;
      expect(m.resolved, key).toMatch(/^https:\/\/registry\.npmjs\.org\/(@[^/]+\/)?[^/]+\/-\/[^/]+\.tgz$/);
      expect(m.integrity, key).toBe(original.packages[key]!.integrity);
      if (original.packages[key]!.resolved) expect(m.resolved, key).toBe(original.packages[key]!.resolved);
    }
    const koffi = lock.packages['node_modules/@koromix/koffi-linux-x64']!;
    expect(koffi.resolved).toBe(`https://registry.npmjs.org/@koromix/koffi-linux-x64/-/koffi-linux-x64-${koffi.version}.tgz`);
    const inputs = await evalAttr(`packages.${SYSTEM}.default.nativeBuildInputs`, { apply: 'map (d: d.name)' });
    expect(JSON.parse(inputs)).toEqual(['nodejs_20', 'npm-config-hook']);
  });

  it('without nodejs_20 in nixpkgs (dropped after its end of life) the default nodejs builds it', async () => {
    await using older = await NixEnv.create({ toolchains: {}, extraPackages: { nodejs: { node: process.execPath } } });
    const r = await older.nix(
      ['eval', '--json', `${pathRef(dir)}#packages.${SYSTEM}.default.nativeBuildInputs`, ...older.overrides(), '--no-write-lock-file', '--apply', 'map (d: d.name)'],
      { cwd: dir },
    );
    expect(JSON.parse(r.stdout)).toEqual(['nodejs', 'npm-config-hook']);
  });

  it('a lock entry without integrity fails the check (what importNpmLock could not fetch)', async () => {
    const bad = path.join(tmp.path, 'bad-lock');
    await cleanCopy(bad);
    const lock = JSON.parse(await readFile(path.join(bad, 'package-lock.json'), 'utf8'));
    delete lock.packages['node_modules/yaml'].integrity;
    await writeFile(path.join(bad, 'package-lock.json'), JSON.stringify(lock, null, 2));
    const err = await nix.flakeCheck(bad).catch((e: Error & { opts?: { hint?: string } }) => e);
    expect(err).toBeInstanceOf(Error);
    expect(`${(err as Error).message}\n${(err as { opts?: { hint?: string } }).opts?.hint ?? ''}`).toMatch(/node_modules\/yaml/);
  });

  it('the dev shell has Node 20, the pinned nightly, mold, clang and nix', async () => {
    const env: NodeJS.ProcessEnv = { ...nix.env };
    delete env.RUSTUP_TOOLCHAIN;
    const r = await nix.develop(dir, ['sh', '-c', 'for c in node npm cargo rustc mold clang nix; do echo "$c=$(command -v $c)"; done; echo "NODE=$(node --version)"; echo "RUSTC=$(rustc -V)"'], { env });
    const vars = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
    const store = nix.storeDir;
    expect(vars.node).toMatch(new RegExp(`^${store}/\\w+-nodejs_20/bin/node$`));
    expect(vars.npm).toMatch(new RegExp(`^${store}/\\w+-nodejs_20/bin/npm$`));
    expect(vars.cargo).toMatch(new RegExp(`^${store}/\\w+-rust-nightly-${NIGHTLY_DATE}/bin/cargo$`));
    expect(vars.rustc).toMatch(new RegExp(`^${store}/\\w+-rust-nightly-${NIGHTLY_DATE}/bin/rustc$`));
    expect(vars.mold).toMatch(new RegExp(`^${store}/\\w+-mold/bin/mold$`));
    expect(vars.clang).toMatch(new RegExp(`^${store}/\\w+-clang/bin/clang$`));
    expect(vars.nix).toMatch(new RegExp(`^${store}/\\w+-nix/bin/nix$`));
    expect(vars.NODE).toMatch(/^v20\./);
    expect(vars.RUSTC).toMatch(/-nightly /);
  });
});

describe.skipIf(skipUnless(nixMissing(), realStandinsMissing(), missingTool('git', ['--version'])))('hotgen\'s own flake against the real rust-overlay and nixpkgs lib', () => {
  it('check --no-build passes; the package, the shell (with the pinned nightly) and the formatter instantiate for both systems', async () => {
    await using nix = await NixEnv.create({ toolchains: {} });
    await using tmp = await tempDir('own-flake-real');
    const dir = path.join(tmp.path, 'hotgen');
    await cleanCopy(dir);
    const real = await realStandins(tmp.path);
    const nixReal = (args: string[], attr = '') => nix.nix([...args, pathRef(dir) + attr, ...real.overrides, '--no-write-lock-file'], { cwd: dir, allowFailure: true });
    const check = await nixReal(['flake', 'check', '--no-build']);
    expect(check.code, check.stderr).toBe(0);
    for (const system of ['x86_64-linux', 'aarch64-linux']) {
      for (const attr of [`packages.${system}.default`, `devShells.${system}.default`, `formatter.${system}`]) {
        const drv = await nixReal(['eval', '--raw'], `#${attr}.drvPath`);
        expect(drv.code, `${attr}: ${drv.stderr}`).toBe(0);
        expect(drv.stdout).toMatch(/\.drv$/);
      }
      const inputs = await nixReal(['eval', '--json', '--apply', 'map (d: d.name)'], `#devShells.${system}.default.nativeBuildInputs`);
      expect(inputs.code, inputs.stderr).toBe(0);
      expect(JSON.parse(inputs.stdout)).toContainEqual(expect.stringMatching(new RegExp(`^rust-default-1\\.\\d+\\.\\d+-nightly-${NIGHTLY_DATE}$`)));
    }
  });
});
