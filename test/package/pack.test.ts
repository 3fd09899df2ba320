/**
 * The npm package as a user gets it: a clean copy of the repository (the files git
 * tracks or would track), `npm pack` (whose `prepack` compiles dist/), then
 * `npm install -g --prefix <empty dir> hotgen-*.tgz` and the installed `hotgen` run from
 * that prefix. Needs the npm registry for hotgen's dependencies.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, readFile, readdir, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { cleanCopy, REPO } from './clean-copy.js';

const skip = skipUnless(missingTool('npm', ['--version']), missingTool('git', ['--version']));

describe.skipIf(skip)('npm pack and a global install into an empty prefix', () => {
  let tmp: { path: string } & AsyncDisposable;
  let files: string[];
  let prefix: string;
  let bin: string;
  const env = { ...process.env, NO_COLOR: '1' };

  beforeAll(async () => {
    tmp = await tempDir('pack');
    const src = path.join(tmp.path, 'src');
    await cleanCopy(src);
    // The dev dependencies (typescript for prepack) as `npm ci` would install them.
    await symlink(path.join(REPO, 'node_modules'), path.join(src, 'node_modules'));
    expect(existsSync(path.join(src, 'dist')), 'a clean copy has no dist/').toBe(false);
    const out = path.join(tmp.path, 'out');
    await mkdir(out);
    const packed = await run('npm', ['pack', '--json', '--pack-destination', out], { cwd: src, env, context: 'npm pack' });
    // prepack's own output (npm run build) precedes the JSON on stdout.
    const json = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('\n[') + 1)) as { filename: string; files: { path: string }[] }[];
    files = json[0]!.files.map((f) => f.path);
    prefix = path.join(tmp.path, 'prefix');
    await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', path.join(out, json[0]!.filename)], {
      cwd: tmp.path,
      env,
      context: 'npm install -g',
      timeoutMs: 300_000,
    });
    bin = path.join(prefix, 'bin', 'hotgen');
  });
  afterAll(async () => {
    await tmp?.[Symbol.asyncDispose]();
  });

  it('the tarball holds compiled JavaScript, every template and the example, and no sources, maps or build output', async () => {
    expect(files).toContain('dist/cli/hotgen.js');
    expect(files).toContain('package.json');
    const templates = async (dir: string): Promise<string[]> =>
      (await readdir(path.join(REPO, dir), { withFileTypes: true, recursive: true })).filter((e) => e.isFile()).map((e) => path.relative(REPO, path.join(e.parentPath, e.name)));
    for (const t of await templates('templates')) expect(files, t).toContain(t);
    expect(files).toContain('examples/server/Cargo.toml');
    // The rustc wrapper's source: hot builds compile it with the workspace's own rustc.
    expect(files).toContain('loader/wrapper/hotgen_rustc.rs');
    if (existsSync(path.join(REPO, 'README.md'))) expect(files).toContain('README.md');
    const bad = files.filter((f) => /(^|\/)(target|\.hotgen|node_modules)\//.test(f) || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.startsWith('test/'));
    expect(bad).toEqual([]);
  });

  it('hotgen --version and --help run from the prefix', async () => {
    const version = (await run(bin, ['--version'], { env })).stdout.trim();
    expect(version).toBe(JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')).version);
    const help = await run(bin, ['--help'], { env, allowFailure: true });
    expect(help.stderr).toBe('');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: hotgen <command>/m);
    for (const cmd of ['init', 'eject', 'env', 'doctor', 'dev', 'reload', 'ci']) expect(help.stdout).toMatch(new RegExp(`^  ${cmd} +\\S`, 'm'));
    expect((await run(bin, ['ci', '--help'], { env })).stdout).toMatch(/hotgen ci --github/);
  });

  it('the installed koffi loads its prebuilt native binary without the install script', async () => {
    const pkg = path.join(prefix, 'lib', 'node_modules', 'hotgen');
    const script = `import { koffi } from ${JSON.stringify(path.join(pkg, 'dist', 'common', 'ffi.js'))};
      const getpid = koffi().load('libc.so.6').func('int getpid()');
      console.log(getpid() === process.pid ? 'ok' : 'mismatch');`;
    const r = await run(process.execPath, ['--input-type=module', '-e', script], { env });
    expect(r.stdout.trim()).toBe('ok');
  });

  it.skipIf(skipUnless(tools.cargo()))('hotgen init and hotgen ci from the prefix render the packaged templates into a workspace', async () => {
    const ws = path.join(tmp.path, 'ws');
    await writeTree(ws, {
      'Cargo.toml': '[workspace]\nmembers = ["base", "app"]\nresolver = "2"\n',
      'base/Cargo.toml': '[package]\nname = "base"\nversion = "0.1.0"\nedition = "2021"\n',
      'base/src/lib.rs': 'pub fn one() -> i32 {\n    1\n}\n',
      'app/Cargo.toml': '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nbase = { path = "../base" }\n',
      'app/src/lib.rs': 'pub fn two() -> i32 {\n    base::one() + 1\n}\n',
    });
    const manifests = await Promise.all(['Cargo.toml', 'base/Cargo.toml', 'app/Cargo.toml'].map((f) => readFile(path.join(ws, f), 'utf8')));
    const r = await run(bin, ['init', '--json'], { cwd: ws, env, allowFailure: true });
    expect(r.code, r.stderr).toBe(0);
    const init = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.event === 'init');
    expect([...init.changed].sort()).toEqual(['.envrc', 'app/src/hotgen_entry.rs', 'flake.nix', 'hotgen.yaml', 'hotgen/cargo-config.toml', 'hotgen/rust-toolchain.toml', 'nix/hotgen.nix']);
    expect(await Promise.all(['Cargo.toml', 'base/Cargo.toml', 'app/Cargo.toml'].map((f) => readFile(path.join(ws, f), 'utf8')))).toEqual(manifests);
    expect(await readFile(path.join(ws, 'flake.nix'), 'utf8')).toMatch(/^# Generated by `hotgen init`/);
    expect(await readFile(path.join(ws, 'hotgen', 'rust-toolchain.toml'), 'utf8')).toMatch(/^channel = "nightly-\d{4}-\d{2}-\d{2}"$/m);
    expect(existsSync(path.join(ws, 'app', 'src', 'hotgen_entry.rs'))).toBe(true);
    const ci = await run(bin, ['ci', '--github'], { cwd: ws, env, allowFailure: true });
    expect(ci.code, ci.stderr).toBe(0);
    expect(await readFile(path.join(ws, '.github', 'workflows', 'hotgen.yml'), 'utf8')).toContain('nix develop --command cargo build --config hotgen/cargo-config.toml --profile hot');
  });

  it.skipIf(skipUnless(tools.nightly(), tools.mold()))('the installed hotgen runs the hot build: its packaged rustc wrapper compiles and builds the dylibs', async () => {
    const ws = path.join(tmp.path, 'ws');
    expect(existsSync(path.join(ws, 'hotgen.yaml')), 'the init test above set it up').toBe(true);
    const r = await run(bin, ['doctor', '--build', '--json'], { cwd: ws, env: { ...env, HOTGEN_TOOLCHAIN: missingTool('cargo', ['+nightly-2026-05-19', '--version']) ? 'nightly' : '' }, allowFailure: true, timeoutMs: 600_000 });
    const checks = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'check');
    const hot = checks.find((c) => c.id === 'hot-build');
    expect(hot, r.stdout + r.stderr).toMatchObject({ status: 'ok', summary: expect.stringMatching(/^built 2 workspace and 0 registry dylibs for `app`/) });
    const wrappers = (await readdir(path.join(ws, 'target', 'hotgen'))).filter((f) => f.startsWith('hotgen-rustc-'));
    expect(wrappers).toHaveLength(1);
  });

  it.skipIf(skipUnless(tools.cargo()))("the library API: `import { init, doctor, eject } from 'hotgen'` runs and type-checks against the installed declarations", async () => {
    const consumer = path.join(tmp.path, 'consumer');
    const ws = path.join(tmp.path, 'api-ws');
    await writeTree(ws, {
      'Cargo.toml': '[package]\nname = "solo"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\n',
      'src/lib.rs': 'pub fn one() -> i32 {\n    1\n}\n',
    });
    const script = `import { init, doctor, eject, UserError } from 'hotgen';
      import type { InitResult, CheckResult, EjectResult } from 'hotgen';
      const ws: string = ${JSON.stringify(ws)};
      const r: InitResult = await init(ws, { channel: 'stable' });
      const checks: CheckResult[] = await doctor(ws);
      const e: EjectResult = await eject(ws);
      let refused = '';
      try { await eject(ws); } catch (err) { if (err instanceof UserError) refused = err.message; }
      console.log(JSON.stringify({ entry: r.plan.entry, changed: r.changes.map((c) => c.rel).sort(), files: checks.find((c) => c.id === 'files')?.status, removed: e.removed.length, refused }));
    `;
    await writeTree(consumer, {
      'package.json': JSON.stringify({ name: 'consumer', type: 'module', private: true }),
      'main.ts': script,
      'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [path.join(REPO, 'node_modules', '@types')] }, files: ['main.ts'] }),
    });
    await mkdir(path.join(consumer, 'node_modules'));
    await symlink(path.join(prefix, 'lib', 'node_modules', 'hotgen'), path.join(consumer, 'node_modules', 'hotgen'));
    const tsc = await run(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer], { cwd: consumer, env, allowFailure: true });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
    // The same module as plain JavaScript (types stripped by hand: two annotations and one import).
    const js = script.replace(/^\s*import type .*$/m, '').replace(/: (string|InitResult|CheckResult\[\]|EjectResult) =/g, ' =');
    await writeTree(consumer, { 'main.mjs': js });
    const r = await run(process.execPath, ['main.mjs'], { cwd: consumer, env, allowFailure: true });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      entry: 'solo',
      changed: ['.envrc', 'flake.nix', 'hotgen.yaml', 'hotgen/cargo-config.toml', 'hotgen/rust-toolchain.toml', 'nix/hotgen.nix', 'src/hotgen_entry.rs'],
      files: 'ok',
      removed: 8,
      refused: expect.stringMatching(/^nothing to eject/),
    });
    expect(files.some((f) => f.startsWith('dist/bench/')), 'the benchmark is not shipped').toBe(false);
    expect(files).toContain('dist/index.d.ts');
  });

  // `hotgen demo` (cli/demo.ts) is the lead's; the check runs once it exists.
  it.skipIf(!existsSync(path.join(REPO, 'cli', 'demo.ts')))('hotgen demo runs from the prefix', async () => {
    const cwd = path.join(tmp.path, 'demo-cwd');
    await mkdir(cwd);
    const r = await run(bin, ['demo'], { cwd, env, allowFailure: true, timeoutMs: 900_000 });
    expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
  }, 900_000);
});
